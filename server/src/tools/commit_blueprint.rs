//! `commit_blueprint`: the draft blueprint becomes the committed one, a new version.

use super::{Actor, Applied, Change};
use protocol::ErrorBody;
use protocol::entities::{Entity, OperationKind};
use protocol::event::Event;
use protocol::tools::args::ProjectArgs;
use protocol::tools::output::ProjectOut;
use store::PgConnection;

pub(crate) struct CommitBlueprint;

impl Change for CommitBlueprint {
    type Args = ProjectArgs;
    const KIND: OperationKind = OperationKind::Update;
    const ENTITY: Entity = Entity::Blueprint;

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        _: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        let id = actor.project()?;
        let (before, after) = store::projects::commit_blueprint(conn, id).await?;
        let before_value = serde_json::json!({
            "blueprint": before.blueprint,
            "blueprint_version": before.blueprint_version,
        });
        let after_value = serde_json::json!({
            "blueprint": after.blueprint,
            "blueprint_version": after.blueprint_version,
        });
        Ok(Applied::new(
            ProjectOut {
                project: after.clone(),
            },
            id,
        )
        .before(before_value)
        .after(after_value)
        .event(Event::ProjectUpdated { project: after }))
    }
}
