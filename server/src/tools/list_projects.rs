//! `list_projects`: the projects the caller owns or is a member of.

use super::{Caller, Query, conn, to_value};
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::tools::args::ListProjectsArgs;
use protocol::tools::output::ProjectsOut;
use serde_json::Value;

pub(crate) struct ListProjects;

impl Query for ListProjects {
    type Args = ListProjectsArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        let mut conn = conn(hub).await?;
        let projects = store::projects::list_for(&mut conn, &caller.user, args.status).await?;
        Ok(to_value(ProjectsOut { projects }))
    }
}
