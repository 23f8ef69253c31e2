//! `remember`: keep a preference, fact or decision learned about the person and the
//! project, with where it was learned, for later sessions, drafts and chat replies.

use super::{Actor, Applied, Change};
use protocol::entities::{Entity, MemorySource, MemorySourceKind, OperationKind};
use protocol::event::Event;
use protocol::tools::args::RememberArgs;
use protocol::tools::output::MemoryOut;
use protocol::{ErrorBody, NoteId, OperationId, ProjectId};
use store::PgConnection;
use store::memory::NewMemory;

pub(crate) struct Remember;

impl Change for Remember {
    type Args = RememberArgs;
    const KIND: OperationKind = OperationKind::Create;
    const ENTITY: Entity = Entity::Memory;

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        let project = actor.project()?;
        if let Some(source) = &args.source {
            check_source(conn, project, source).await?;
        }
        let entry = store::memory::create(
            conn,
            NewMemory {
                project,
                user: &actor.user,
                kind: args.kind,
                body: args.body.trim(),
                source: args.source.as_ref(),
                session: Some(actor.session_id),
            },
        )
        .await?;
        Ok(Applied::new(
            MemoryOut {
                entry: entry.clone(),
            },
            entry.id,
        )
        .after(&entry)
        .event(Event::MemoryCreated { entry }))
    }
}

/// A note or operation named as the source must be the project's; a transcript item
/// may arrive after the call that names it (as for pointers), so it is taken as given.
pub(crate) async fn check_source(
    conn: &mut PgConnection,
    project: ProjectId,
    source: &MemorySource,
) -> Result<(), ErrorBody> {
    let refused = || ErrorBody::invalid_field("source.id", "names nothing in this project");
    let found = match source.kind {
        MemorySourceKind::TranscriptItem => return Ok(()),
        MemorySourceKind::Note => match source.id.parse::<NoteId>() {
            Ok(id) => match store::notes::get(conn, id).await {
                Ok(note) => note.project_id == project,
                Err(store::StoreError::NotFound { .. }) => false,
                Err(e) => return Err(e.into()),
            },
            Err(_) => false,
        },
        MemorySourceKind::Operation => match source.id.parse::<OperationId>() {
            Ok(id) => match store::operations::get(conn, id).await {
                Ok(op) => op.project_id == Some(project),
                Err(store::StoreError::NotFound { .. }) => false,
                Err(e) => return Err(e.into()),
            },
            Err(_) => false,
        },
    };
    if found { Ok(()) } else { Err(refused()) }
}
