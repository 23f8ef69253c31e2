//! The pure and self-contained parts of the drafting pipeline (ARCHITECTURE.md, "worker/";
//! docs/protocol.md section 9.5): the prompt builder, the model providers
//! (`compose`, `openai`) behind one trait, their configuration, the per-section
//! three-way merge of a draft into an edited document, and the sentence an assistant
//! says when a draft lands; and the chat reply's prompt, which the same providers
//! answer. None of it touches Postgres or Redis: the `draft.update` and `chat.reply`
//! handlers load the inputs and commit the result.

pub mod chat;
pub mod compose;
pub mod config;
pub mod merge;
pub mod openai;
pub mod prompt;
pub mod provider;
pub mod revision;

pub use chat::{ChatInput, ChatPrompt, ChatTurn, build as build_chat_prompt};
pub use compose::Compose;
pub use config::{ModelConfig, ModelConfigError, ModelKind};
pub use merge::{Merged, merge};
pub use openai::{LimitField, OpenAi, OpenAiConfig};
pub use prompt::{Excerpt, Prompt, PromptInput, build as build_prompt, estimate_tokens};
pub use provider::{
    DELTA_CHANNEL_CAPACITY, Deltas, Drafted, Provider, ProviderError, Reply, Usage, delta_channel,
};
