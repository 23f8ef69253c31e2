//! `get_project`: the project with its committed and draft blueprint.

use super::{Caller, Query, conn, project_of, to_value};
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::tools::args::{ProjectArgs, ToolArgs};
use protocol::tools::output::ProjectOut;
use serde_json::Value;

pub(crate) struct GetProject;

impl Query for GetProject {
    type Args = ProjectArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        let id = project_of(caller, args.project_id())?;
        let mut conn = conn(hub).await?;
        let project = store::projects::get_for(&mut conn, id, &caller.user).await?;
        Ok(to_value(ProjectOut { project }))
    }
}
