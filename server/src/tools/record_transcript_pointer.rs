//! `record_transcript_pointer`: mark a transcript item of this session as worth drawing
//! on. The item may arrive after the pointer (a voice client sends the transcript and
//! the tool call on separate paths), so its existence is not required.

use super::{Actor, Applied, Caller, Change, project_of};
use protocol::entities::{Entity, OperationKind};
use protocol::event::Event;
use protocol::tools::args::RecordTranscriptPointerArgs;
use protocol::tools::output::PointerOut;
use protocol::{ErrorBody, ProjectId};
use store::PgConnection;

pub(crate) struct RecordPointer;

impl Change for RecordPointer {
    type Args = RecordTranscriptPointerArgs;
    const KIND: OperationKind = OperationKind::Create;
    const ENTITY: Entity = Entity::TranscriptPointer;

    async fn project(
        _: &mut PgConnection,
        caller: &Caller,
        _: &Self::Args,
    ) -> Result<Option<ProjectId>, ErrorBody> {
        project_of(caller, None).map(Some)
    }

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        let label = args
            .label
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        let pointer = store::transcript::create_pointer(
            conn,
            actor.session_id,
            actor.project()?,
            &args.item_id,
            label,
        )
        .await?;
        Ok(Applied::new(
            PointerOut {
                pointer: pointer.clone(),
            },
            pointer.id,
        )
        .after(&pointer)
        .event(Event::TranscriptPointer { pointer }))
    }
}
