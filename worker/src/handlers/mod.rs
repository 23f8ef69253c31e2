//! The job handlers that ship with Draftline, one file per job kind.

pub mod debug;
pub mod prune;

use crate::handler::Registry;

/// Every built-in handler, by kind.
pub fn builtin(retention: std::time::Duration) -> Registry {
    Registry::new()
        .register(prune::KIND, prune::Prune { retention })
        .register(debug::NOOP, debug::Noop)
        .register(debug::SLEEP, debug::Sleep)
}
