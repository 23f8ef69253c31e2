//! `propose_recovery`: after an approved change failed, the assistant proposes it again
//! corrected; it waits for a person's approval, linked to the failed one.

use super::{Caller, Query};
use crate::hub::Hub;
use crate::operations;
use protocol::ErrorBody;
use protocol::tools::args::ProposeRecoveryArgs;
use serde_json::Value;

pub(crate) struct ProposeRecovery;

impl Query for ProposeRecovery {
    type Args = ProposeRecoveryArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        operations::propose_recovery(hub, caller, args).await
    }
}
