//! `assign_project_to_session`: the session works on this project from now on. It
//! changes only the caller's own session, like `session.configure`, so it is not an
//! operation. It answers what earlier conversations learned (memory, newest first),
//! so a new session starts from it.

use super::{Caller, Query, conn, to_value};
use crate::access::{self, Need};
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::tools::args::AssignProjectArgs;
use protocol::tools::output::AssignedOut;
use serde_json::Value;

pub(crate) struct Assign;

impl Query for Assign {
    type Args = AssignProjectArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        let mut conn = conn(hub).await?;
        access::require(&mut conn, args.project_id, &caller.user, Need::Read).await?;
        let session = store::sessions::configure(
            &mut conn,
            caller.session.id,
            None,
            Some(args.project_id),
            None,
        )
        .await?;
        let project = store::projects::get_for(&mut conn, args.project_id, &caller.user).await?;
        let memory = store::memory::list(
            &mut conn,
            args.project_id,
            None,
            store::memory::CONTEXT_ENTRIES,
        )
        .await?;
        caller.session = session.clone();
        Ok(to_value(AssignedOut {
            project,
            session,
            memory,
        }))
    }
}
