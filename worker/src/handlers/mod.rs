//! The job handlers that ship with Draftline, one file per job kind.

pub mod debug;
pub mod prune;

use crate::config::WorkerConfig;
use crate::draft::ModelConfigError;
use crate::handler::Registry;

/// Every built-in handler, by kind. Fails when the configured model cannot work (a
/// missing API key), so the process stops at start instead of failing every draft.
pub fn builtin(config: &WorkerConfig) -> Result<Registry, ModelConfigError> {
    let _provider = config.model.provider()?;
    Ok(Registry::new()
        .register(prune::KIND, prune::Prune {
            retention: config.retention(),
        })
        .register(debug::NOOP, debug::Noop)
        .register(debug::SLEEP, debug::Sleep))
}
