//! Which model drafts, and how to reach it: flags and environment variables read with
//! the rest of the process's configuration.

use super::compose::Compose;
use super::openai::{LimitField, OpenAi, OpenAiConfig, redacted};
use super::provider::{Provider, ProviderError};
use std::sync::Arc;
use std::time::Duration;

/// OpenAI's public API root, the default for `OPENAI_BASE_URL` (as in OpenAI's clients).
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// A small, cheap chat model that every OpenAI account can use.
pub const DEFAULT_MODEL_NAME: &str = "gpt-4o-mini";

/// The default context window: 8,192 tokens, the smallest we expect of a model that
/// drafts (Llama 3 8B's; Ollama's own default is 2,048 to 4,096 and must be raised, see
/// the runbook).
pub const DEFAULT_CONTEXT_TOKENS: usize = 8_192;

/// The default completion limit: a quarter of the default window, room for several
/// revised sections (about 1,500 words); a first draft of a project is shorter.
pub const DEFAULT_MAX_TOKENS: u32 = 2_048;

/// The share of the window left after the completion limit that the prompt's estimate
/// may fill: the rest absorbs the characters / 4 estimate's error (about ±25% on the
/// tokenizers we see; a tenth covers the common case, and the server's own check or
/// the prompt-tokens warning catches the rest).
const PROMPT_SHARE: f64 = 0.9;

/// The smallest prompt budget that still holds the instructions, the blueprint and a
/// few sections; a context this tight is a configuration mistake.
const MIN_PROMPT_TOKENS: usize = 1_024;

/// The model providers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelKind {
    /// The built-in deterministic drafter; works offline.
    #[default]
    Compose,
    /// An OpenAI-compatible chat completions endpoint.
    Openai,
}

#[derive(Clone, PartialEq, Eq, clap::Args)]
pub struct ModelConfig {
    /// Which provider drafts documents.
    #[arg(long = "model", env = "DRAFTLINE_MODEL", value_enum, default_value_t = ModelKind::Compose)]
    pub kind: ModelKind,

    /// The OpenAI-compatible API root (`/chat/completions` is appended).
    #[arg(long, env = "OPENAI_BASE_URL", default_value = DEFAULT_OPENAI_BASE_URL)]
    pub openai_base_url: String,

    /// The bearer key for `--model openai` (servers that want none accept any value).
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<String>,

    /// The model asked for by `--model openai`.
    #[arg(long, env = "DRAFTLINE_MODEL_NAME", default_value = DEFAULT_MODEL_NAME)]
    pub model_name: String,

    /// `compose`'s pause before each streamed piece, standing in for a slow model.
    #[arg(long, env = "DRAFTLINE_COMPOSE_DELAY_MS", default_value_t = 0)]
    pub compose_delay_ms: u64,

    /// How long a model request may take to answer with its headers. A long prompt
    /// can take tens of seconds before the first token on a busy endpoint.
    #[arg(long, env = "DRAFTLINE_MODEL_TIMEOUT_MS", default_value_t = 60_000)]
    pub model_timeout_ms: u64,

    /// How long a model may take from the request to its first token (text or
    /// reasoning): reasoning models think in silence, and CPU servers read a long
    /// prompt for minutes.
    #[arg(
        long,
        env = "DRAFTLINE_MODEL_FIRST_TOKEN_TIMEOUT_MS",
        default_value_t = 300_000
    )]
    pub model_first_token_timeout_ms: u64,

    /// The longest silence allowed between two pieces of a streamed answer, after the
    /// first token.
    #[arg(
        long,
        env = "DRAFTLINE_MODEL_IDLE_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    pub model_idle_timeout_ms: u64,

    /// Attempts per draft inside the provider (docs/protocol.md section 10.3: 3).
    #[arg(long, env = "DRAFTLINE_MODEL_ATTEMPTS", default_value_t = 3)]
    pub model_attempts: u32,

    /// The pause before the provider's first retry (then ×4: 500 ms, 2 s).
    #[arg(long, env = "DRAFTLINE_MODEL_BACKOFF_MS", default_value_t = 500)]
    pub model_backoff_ms: u64,

    /// The longest pause between the provider's attempts, `Retry-After` included.
    #[arg(long, env = "DRAFTLINE_MODEL_MAX_BACKOFF_MS", default_value_t = 10_000)]
    pub model_max_backoff_ms: u64,

    /// The model's context window in tokens, as the server runs it (Ollama's
    /// `num_ctx`, llama.cpp's `--ctx-size`, vLLM's `--max-model-len`). The prompt gets
    /// what the completion limit leaves, less a tenth for the estimate's error.
    #[arg(long, env = "DRAFTLINE_MODEL_CONTEXT", default_value_t = DEFAULT_CONTEXT_TOKENS)]
    pub model_context: usize,

    /// The completion limit sent with each request; an answer that reaches it is never
    /// stored.
    #[arg(long, env = "DRAFTLINE_MODEL_MAX_TOKENS", default_value_t = DEFAULT_MAX_TOKENS)]
    pub model_max_tokens: u32,

    /// The request field for the completion limit (`max-completion-tokens` for
    /// OpenAI's reasoning models).
    #[arg(
        long,
        env = "DRAFTLINE_MODEL_MAX_TOKENS_FIELD",
        value_enum,
        default_value_t = LimitField::MaxTokens
    )]
    pub model_max_tokens_field: LimitField,
}

impl std::fmt::Debug for ModelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelConfig")
            .field("kind", &self.kind)
            .field("openai_base_url", &self.openai_base_url)
            .field(
                "openai_api_key",
                &self.openai_api_key.as_deref().map(redacted),
            )
            .field("model_name", &self.model_name)
            .field("compose_delay_ms", &self.compose_delay_ms)
            .field("model_timeout_ms", &self.model_timeout_ms)
            .field(
                "model_first_token_timeout_ms",
                &self.model_first_token_timeout_ms,
            )
            .field("model_idle_timeout_ms", &self.model_idle_timeout_ms)
            .field("model_attempts", &self.model_attempts)
            .field("model_backoff_ms", &self.model_backoff_ms)
            .field("model_max_backoff_ms", &self.model_max_backoff_ms)
            .field("model_context", &self.model_context)
            .field("model_max_tokens", &self.model_max_tokens)
            .field("model_max_tokens_field", &self.model_max_tokens_field)
            .finish()
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: ModelKind::Compose,
            openai_base_url: DEFAULT_OPENAI_BASE_URL.to_owned(),
            openai_api_key: None,
            model_name: DEFAULT_MODEL_NAME.to_owned(),
            compose_delay_ms: 0,
            model_timeout_ms: 60_000,
            model_first_token_timeout_ms: 300_000,
            model_idle_timeout_ms: 30_000,
            model_attempts: 3,
            model_backoff_ms: 500,
            model_max_backoff_ms: 10_000,
            model_context: DEFAULT_CONTEXT_TOKENS,
            model_max_tokens: DEFAULT_MAX_TOKENS,
            model_max_tokens_field: LimitField::MaxTokens,
        }
    }
}

/// A model configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ModelConfigError {
    #[error("--model openai needs OPENAI_API_KEY")]
    MissingApiKey,
    #[error(
        "DRAFTLINE_MODEL_CONTEXT ({context}) leaves no room for a prompt beside \
         DRAFTLINE_MODEL_MAX_TOKENS ({max_tokens}): the prompt needs at least {MIN_PROMPT_TOKENS} tokens"
    )]
    ContextTooSmall { context: usize, max_tokens: u32 },
    #[error("the model provider could not start: {0}")]
    Provider(#[from] ProviderError),
}

impl ModelConfig {
    /// The settings of the `openai` provider (the key may be empty here).
    pub fn openai(&self) -> OpenAiConfig {
        OpenAiConfig {
            base_url: self.openai_base_url.clone(),
            api_key: self.openai_api_key.clone().unwrap_or_default(),
            model: self.model_name.clone(),
            first_byte_timeout: Duration::from_millis(self.model_timeout_ms),
            first_token_timeout: Duration::from_millis(
                self.model_first_token_timeout_ms.max(self.model_timeout_ms),
            ),
            idle_timeout: Duration::from_millis(self.model_idle_timeout_ms),
            attempts: self.model_attempts.max(1),
            backoff: Duration::from_millis(self.model_backoff_ms),
            max_backoff: Duration::from_millis(self.model_max_backoff_ms),
            max_tokens: Some(self.model_max_tokens),
            limit_field: self.model_max_tokens_field,
        }
    }

    /// The prompt's budget in estimated tokens: the context window less the completion
    /// limit, less a tenth for the estimate's error.
    pub fn prompt_budget(&self) -> Result<usize, ModelConfigError> {
        let room = self
            .model_context
            .saturating_sub(self.model_max_tokens as usize);
        let budget = (room as f64 * PROMPT_SHARE) as usize;
        if budget < MIN_PROMPT_TOKENS {
            return Err(ModelConfigError::ContextTooSmall {
                context: self.model_context,
                max_tokens: self.model_max_tokens,
            });
        }
        Ok(budget)
    }

    /// The configured provider. Called once at start, so a missing key stops the
    /// process there instead of failing every draft.
    pub fn provider(&self) -> Result<Arc<dyn Provider>, ModelConfigError> {
        self.prompt_budget()?;
        match self.kind {
            ModelKind::Compose => Ok(Arc::new(Compose::new(Duration::from_millis(
                self.compose_delay_ms,
            )))),
            ModelKind::Openai => {
                if self
                    .openai_api_key
                    .as_deref()
                    .is_none_or(|k| k.trim().is_empty())
                {
                    return Err(ModelConfigError::MissingApiKey);
                }
                Ok(Arc::new(OpenAi::new(self.openai())?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// The flags without their environment variables, so a developer's shell cannot
    /// change what the test sees.
    fn parse(args: &[&str]) -> ModelConfig {
        use clap::{Args, FromArgMatches};
        let command = ModelConfig::augment_args(clap::Command::new("t"))
            .mut_args(|a| a.env(None::<&'static str>));
        let matches = command
            .try_get_matches_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap();
        ModelConfig::from_arg_matches(&matches).unwrap()
    }

    #[test]
    fn defaults_match_the_flags_defaults() {
        assert_eq!(parse(&[]), ModelConfig::default());
    }

    #[test]
    fn openai_needs_a_key() {
        let mut config = ModelConfig {
            kind: ModelKind::Openai,
            ..ModelConfig::default()
        };
        assert!(matches!(
            config.provider(),
            Err(ModelConfigError::MissingApiKey)
        ));
        config.openai_api_key = Some("  ".into());
        assert!(config.provider().is_err());
        config.openai_api_key = Some("sk-test".into());
        assert_eq!(config.provider().unwrap().name(), "openai");
        assert_eq!(ModelConfig::default().provider().unwrap().name(), "compose");
    }

    #[test]
    fn the_prompt_budget_is_what_the_answer_leaves_less_a_tenth() {
        let config = ModelConfig::default();
        assert_eq!(
            config.prompt_budget().unwrap(),
            super::super::prompt::DEFAULT_TOKEN_BUDGET
        );
        let big = ModelConfig {
            model_context: 131_072,
            model_max_tokens: 4_096,
            ..ModelConfig::default()
        };
        assert_eq!(big.prompt_budget().unwrap(), 114_278);
        let tight = ModelConfig {
            model_context: 2_048,
            ..ModelConfig::default()
        };
        assert!(matches!(
            tight.provider(),
            Err(ModelConfigError::ContextTooSmall { .. })
        ));
    }

    #[test]
    fn the_api_key_is_not_in_debug_output() {
        let config = ModelConfig {
            openai_api_key: Some("sk-live-abc".into()),
            ..ModelConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-live-abc"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn flags_parse() {
        let parsed = parse(&[
            "--model",
            "openai",
            "--openai-api-key",
            "k",
            "--model-name",
            "llama3",
            "--compose-delay-ms",
            "5",
        ]);
        assert_eq!(parsed.kind, ModelKind::Openai);
        assert_eq!(parsed.openai_api_key.as_deref(), Some("k"));
        assert_eq!(parsed.model_name, "llama3");
        assert_eq!(parsed.compose_delay_ms, 5);
    }
}
