//! `create_note`: write down something worth keeping.

use super::{Actor, Applied, Change};
use crate::focus::tag_note;
use protocol::entities::{Entity, OperationKind};
use protocol::event::Event;
use protocol::tools::args::CreateNoteArgs;
use protocol::tools::output::NoteOut;
use protocol::{ErrorBody, TodoId};
use store::PgConnection;

pub(crate) struct CreateNote;

impl Change for CreateNote {
    type Args = CreateNoteArgs;
    const KIND: OperationKind = OperationKind::Create;
    const ENTITY: Entity = Entity::Note;

    fn focus(args: &mut Self::Args, todo: TodoId) -> Result<(), ErrorBody> {
        tag_note(&mut args.tags, todo);
        Ok(())
    }

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        let mut tags = args.tags.unwrap_or_default();
        if let Some(scenario) = args.scenario {
            let tag = scenario.tag();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let note = store::notes::create(
            conn,
            actor.project()?,
            &actor.user,
            Some(actor.session_id),
            args.body.trim(),
            &tags,
        )
        .await?;
        Ok(Applied::new(NoteOut { note: note.clone() }, note.id)
            .after(&note)
            .event(Event::NoteCreated { note }))
    }
}
