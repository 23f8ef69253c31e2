//! `get_draft_status`: the project's latest draft job (or the one named), so an
//! assistant can say where the document's background draft stands.

use super::{Caller, Query, conn, project_of, to_value};
use crate::access::{self, Need};
use crate::hub::Hub;
use protocol::tools::args::{GetDraftStatusArgs, ToolArgs};
use protocol::tools::output::JobOut;
use protocol::{ErrorBody, ErrorCode};
use serde_json::Value;
use store::jobs::JobKind;

pub(crate) struct GetDraftStatus;

impl Query for GetDraftStatus {
    type Args = GetDraftStatusArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        let project = project_of(caller, args.project_id())?;
        let mut conn = conn(hub).await?;
        access::require(&mut conn, project, &caller.user, Need::Read).await?;
        let job = match args.job_id {
            Some(id) => {
                let job = store::jobs::get(&mut conn, id).await?;
                // Only this project's drafts: another job answers as a missing one, so
                // its existence is not revealed.
                if job.project_id != Some(project)
                    || JobKind::parse(&job.kind) != Some(JobKind::DraftUpdate)
                {
                    return Err(store::StoreError::not_found("job", id).into());
                }
                Some(job)
            }
            None => store::jobs::latest(&mut conn, project, JobKind::DraftUpdate).await?,
        };
        let job = job.ok_or_else(|| {
            ErrorBody::new(ErrorCode::NotFound, "no draft job for this project yet")
        })?;
        Ok(to_value(JobOut { job }))
    }
}
