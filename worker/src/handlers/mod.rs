//! The job handlers that ship with Draftline, one file per job kind.

pub mod alert;
pub mod chat;
pub mod debug;
pub mod deltas;
pub mod draft;
pub mod prune;
pub mod transcript_check;

use crate::config::WorkerConfig;
use crate::draft::ModelConfigError;
use crate::handler::Registry;

/// Why the built-in handlers cannot start.
#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    #[error(transparent)]
    Model(#[from] ModelConfigError),
    #[error("the alert webhook's HTTP client could not start: {0}")]
    Alert(#[from] reqwest::Error),
}

/// Every built-in handler, by kind. Fails when the configured model cannot work (a
/// missing API key, a context too small for a prompt), so the process stops at start
/// instead of failing every draft.
pub fn builtin(config: &WorkerConfig) -> Result<Registry, BuiltinError> {
    let provider = config.model.provider()?;
    let alert = match config.alert_webhook.as_deref() {
        Some(url) => Some(alert::Alert::new(url)?),
        None => None,
    };
    let drafter = draft::Draft {
        provider: provider.clone(),
        batching: deltas::Batching::of(config),
        token_budget: config.model.prompt_budget()?,
        alert,
    };
    let chat = chat::ChatReply::new(provider.clone(), config);
    Ok(Registry::new()
        .register(draft::KIND, drafter)
        .register(chat::KIND, chat)
        .register(
            prune::KIND,
            prune::Prune {
                retention: config.retention(),
            },
        )
        .register(transcript_check::KIND, transcript_check::TranscriptCheck)
        .register(debug::NOOP, debug::Noop)
        .register(debug::SLEEP, debug::Sleep))
}
