//! `forget_memory`: remove a memory entry; the operation keeps it as `before`.

use super::{Actor, Applied, Caller, Change};
use crate::access;
use protocol::entities::{Entity, OperationKind};
use protocol::event::Event;
use protocol::tools::args::ForgetMemoryArgs;
use protocol::tools::output::MemoryOut;
use protocol::{ErrorBody, ProjectId};
use store::PgConnection;

pub(crate) struct ForgetMemory;

impl Change for ForgetMemory {
    type Args = ForgetMemoryArgs;
    const KIND: OperationKind = OperationKind::Delete;
    const ENTITY: Entity = Entity::Memory;
    const LOCATOR: &'static str = "memory_id";

    async fn project(
        conn: &mut PgConnection,
        caller: &Caller,
        args: &Self::Args,
    ) -> Result<Option<ProjectId>, ErrorBody> {
        let entry = store::memory::get(conn, args.memory_id).await?;
        let hidden = store::StoreError::not_found("memory entry", args.memory_id);
        access::entity(conn, &caller.user, entry.project_id, hidden)
            .await
            .map(|grant| Some(grant.project))
    }

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        let entry = store::memory::delete(conn, actor.project()?, args.memory_id).await?;
        Ok(Applied::new(
            MemoryOut {
                entry: entry.clone(),
            },
            entry.id,
        )
        .before(&entry)
        .event(Event::MemoryDeleted { entry }))
    }
}
