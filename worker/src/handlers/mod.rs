//! The job handlers that ship with Draftline, one file per job kind.

pub mod prune;

use crate::handler::Registry;

/// Every built-in handler, by kind.
pub fn builtin(retention: std::time::Duration) -> Registry {
    Registry::new().register(prune::KIND, prune::Prune { retention })
}
