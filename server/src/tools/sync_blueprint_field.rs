//! `sync_blueprint_field`: save one field of the draft blueprint; answers how many
//! fields are still missing.

use super::{Actor, Applied, Change};
use protocol::ErrorBody;
use protocol::blueprint::gaps;
use protocol::entities::{Entity, OperationKind};
use protocol::event::{Event, SessionPhase};
use protocol::tools::args::SyncBlueprintFieldArgs;
use protocol::tools::output::FieldSyncedOut;
use store::PgConnection;

pub(crate) struct SyncBlueprintField;

impl Change for SyncBlueprintField {
    type Args = SyncBlueprintFieldArgs;
    const KIND: OperationKind = OperationKind::Update;
    const ENTITY: Entity = Entity::Blueprint;

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        let id = actor.project()?;
        let value = args.value.trim();
        let (before, after) =
            store::projects::sync_blueprint_field(conn, id, args.field, value).await?;
        // Filling a field covers it and takes it off the session's open ones, which
        // every client following the conversation is told of.
        let covered = match value.is_empty() {
            false => store::sessions::cover_dimension(conn, actor.session_id, args.field).await?,
            true => None,
        };
        let output = FieldSyncedOut {
            field: args.field,
            value: value.to_owned(),
            gaps_left: gaps(&after.blueprint_draft).len(),
        };
        let mut applied = Applied::new(output, id)
            .before(&before.blueprint_draft)
            .after(&after.blueprint_draft)
            .event(Event::ProjectUpdated { project: after });
        if let Some(session) = covered {
            applied = applied.event(Event::SessionPhase(SessionPhase::of(&session)));
        }
        Ok(applied)
    }
}
