//! `suggest_operations`: a read-only session (audit, forecast) proposes changes as
//! pending operations marked `suggestion`; it changes nothing itself, and each
//! proposal runs only when a person approves it.

use super::{Caller, Query};
use crate::hub::Hub;
use crate::operations;
use protocol::ErrorBody;
use protocol::tools::args::SuggestOperationsArgs;
use serde_json::Value;

pub(crate) struct SuggestOperations;

impl Query for SuggestOperations {
    type Args = SuggestOperationsArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        operations::suggest(hub, caller, args).await
    }
}
