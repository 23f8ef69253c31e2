//! `update_note`: change a note's text or tags.

use super::{Actor, Applied, Caller, Change};
use crate::access;
use protocol::entities::{Entity, OperationKind};
use protocol::event::Event;
use protocol::tools::args::UpdateNoteArgs;
use protocol::tools::output::NoteOut;
use protocol::{ErrorBody, ProjectId};
use store::PgConnection;

pub(crate) struct UpdateNote;

impl Change for UpdateNote {
    type Args = UpdateNoteArgs;
    const KIND: OperationKind = OperationKind::Update;
    const ENTITY: Entity = Entity::Note;
    const LOCATOR: &'static str = "note_id";

    async fn project(
        conn: &mut PgConnection,
        caller: &Caller,
        args: &Self::Args,
    ) -> Result<Option<ProjectId>, ErrorBody> {
        let note = store::notes::get(conn, args.note_id).await?;
        let hidden = store::StoreError::not_found("note", args.note_id);
        access::entity(conn, &caller.user, note.project_id, hidden)
            .await
            .map(|grant| Some(grant.project))
    }

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        if args.body.is_none() && args.tags.is_none() {
            return Err(ErrorBody::invalid_field("body", "give body or tags"));
        }
        let (before, after) = store::notes::update(
            conn,
            actor.project()?,
            args.note_id,
            args.body.as_deref().map(str::trim),
            args.tags.as_deref(),
        )
        .await?;
        Ok(Applied::new(
            NoteOut {
                note: after.clone(),
            },
            after.id,
        )
        .before(before)
        .after(&after)
        .event(Event::NoteUpdated { note: after }))
    }
}
