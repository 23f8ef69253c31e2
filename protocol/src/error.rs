//! Error codes (docs/protocol.md section 4.2) and the error body shared by `error` messages,
//! failed `tool.result`s, failed operations and HTTP error responses.

use serde::{Deserialize, Serialize};

/// The wire error codes. Each has one HTTP status for the HTTP API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    InvalidArguments,
    UnknownTool,
    /// The tool exists but not in the session's mode.
    ToolNotAllowed,
    Conflict,
    /// Comes with `retry_after_ms`.
    RateLimited,
    Unavailable,
    /// Never carries internal detail (no stack trace, no SQL).
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 11] = [
        Self::BadRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::InvalidArguments,
        Self::UnknownTool,
        Self::ToolNotAllowed,
        Self::Conflict,
        Self::RateLimited,
        Self::Unavailable,
        Self::Internal,
    ];

    /// The HTTP status that goes with the code (docs/protocol.md section 4.2).
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden | Self::ToolNotAllowed => 403,
            Self::NotFound | Self::UnknownTool => 404,
            Self::Conflict => 409,
            Self::InvalidArguments => 422,
            Self::RateLimited => 429,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::InvalidArguments => "invalid_arguments",
            Self::UnknownTool => "unknown_tool",
            Self::ToolNotAllowed => "tool_not_allowed",
            Self::Conflict => "conflict",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{code, message, retry_after_ms?, details?}`: what every failure looks like on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_retry_after_ms(mut self, ms: u64) -> Self {
        self.retry_after_ms = Some(ms);
        self
    }

    /// `invalid_arguments` naming the field at fault, in the message and as
    /// `details.field`.
    pub fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidArguments, format!("{field}: {problem}"))
            .with_details(serde_json::json!({ "field": field }))
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ErrorBody {}

/// What is said of text holding U+0000: Postgres stores no such character, so it is
/// refused where it arrives rather than failing the write.
pub const NUL_PROBLEM: &str = "must not contain the NUL character (U+0000)";

/// The path (`items[0].text`, `metadata.<key>` for a key) of the first string or object
/// key in `value` holding U+0000, if any; `.` for the value itself.
pub fn nul_at(value: &serde_json::Value) -> Option<String> {
    let mut path = String::new();
    nul_walk(value, &mut path).then(|| if path.is_empty() { ".".into() } else { path })
}

/// [`nul_at`] for the fields of an object.
pub fn nul_in(fields: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let mut path = String::new();
    nul_fields(fields, &mut path).then_some(path)
}

fn nul_walk(value: &serde_json::Value, path: &mut String) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = nul_walk(item, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        serde_json::Value::Object(fields) => nul_fields(fields, path),
        _ => false,
    }
}

fn nul_fields(fields: &serde_json::Map<String, serde_json::Value>, path: &mut String) -> bool {
    fields.iter().any(|(key, item)| {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&key.replace('\0', "\\u0000"));
        let found = key.contains('\0') || nul_walk(item, path);
        if !found {
            path.truncate(len);
        }
        found
    })
}

/// Names the field a serde error is about: `path` as `serde_path_to_error` gives it
/// (`.` for the root) and serde's message. Missing fields are reported at their parent
/// with the name in backticks, so the name is appended. Answers (field, message).
pub fn field_problem(path: &str, problem: &str) -> (String, String) {
    let named = problem
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (path, named) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => match problem
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(name) => name.to_owned(),
            None => return ("arguments".to_owned(), problem.to_owned()),
        },
        (parent, Some(name)) => format!("{parent}.{name}"),
        (path, None) => path.to_owned(),
    };
    let message = format!("{field}: {problem}");
    (field, message)
}

#[cfg(test)]
mod tests {
    use super::{ErrorCode, field_problem, nul_at};

    #[test]
    fn nul_at_names_the_first_string_or_key_holding_nul() {
        let value = serde_json::json!({"a": "fine", "items": [{"text": "ok"}, {"text": "a\0b"}]});
        assert_eq!(nul_at(&value).as_deref(), Some("items[1].text"));
        let key = serde_json::json!({"metadata": {"k\0": 1}});
        assert_eq!(nul_at(&key).as_deref(), Some("metadata.k\\u0000"));
        assert_eq!(nul_at(&serde_json::json!("\0")).as_deref(), Some("."));
        assert_eq!(
            nul_at(&serde_json::json!({"a": ["b", {"c": "d"}], "e": 1})),
            None
        );
    }

    #[test]
    fn all_lists_every_code_once() {
        // Exhaustive on purpose: a new code does not compile here until it is placed,
        // and its place must be its index in `ALL`.
        fn index(code: ErrorCode) -> usize {
            match code {
                ErrorCode::BadRequest => 0,
                ErrorCode::Unauthorized => 1,
                ErrorCode::Forbidden => 2,
                ErrorCode::NotFound => 3,
                ErrorCode::InvalidArguments => 4,
                ErrorCode::UnknownTool => 5,
                ErrorCode::ToolNotAllowed => 6,
                ErrorCode::Conflict => 7,
                ErrorCode::RateLimited => 8,
                ErrorCode::Unavailable => 9,
                ErrorCode::Internal => 10,
            }
        }
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(index(code), i, "{code}");
        }
    }

    #[test]
    fn field_problems_name_the_field() {
        assert_eq!(field_problem(".", "missing field `name`").0, "name");
        assert_eq!(
            field_problem("client", "missing field `version`").0,
            "client.version"
        );
        assert_eq!(
            field_problem("tags[1]", "invalid type: integer `1`").0,
            "tags[1]"
        );
        assert_eq!(field_problem(".", "something odd").0, "arguments");
        assert_eq!(
            field_problem(
                "auto_accept",
                "invalid type: string \"yes\", expected a boolean"
            )
            .1,
            "auto_accept: invalid type: string \"yes\", expected a boolean"
        );
    }
}
