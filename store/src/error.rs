//! The storage error: what went wrong, in terms a caller can map to a wire code.

use protocol::{ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist (or the caller may not see it).
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// The write lost a race or was made against a stale version.
    #[error("{0}")]
    Conflict(String),
    /// A column held something the code does not understand.
    #[error("decode: {0}")]
    Decode(String),
    /// Postgres refused a value the caller sent (text holding U+0000, which it cannot
    /// store); the edges refuse it first, naming the field, wherever they parse JSON.
    #[error("{0}")]
    Invalid(String),
    /// The pool could not hand out a connection in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Database(sqlx::Error),
    #[error("migrate: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Self::Unavailable(e.to_string())
            }
            sqlx::Error::Database(ref db) if db.is_unique_violation() => {
                Self::Conflict("already exists".into())
            }
            // 22021: a NUL byte in text; 22P05: `\u0000` in jsonb.
            sqlx::Error::Database(ref db)
                if db.code().is_some_and(|c| c == "22021" || c == "22P05") =>
            {
                Self::Invalid(format!("text {}", protocol::error::NUL_PROBLEM))
            }
            // The server ended the connection or cannot take one now (administrator
            // command, crash recovery, shutdown, failover: SQLSTATE classes 57P and
            // 08): the next connection may work, so the caller may retry.
            sqlx::Error::Database(ref db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) =>
            {
                Self::Unavailable(e.to_string())
            }
            other => Self::Database(other),
        }
    }
}

impl StoreError {
    pub fn not_found(entity: &'static str, id: impl std::fmt::Display) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// The wire error. Database and decode failures are `internal` with no detail; the
    /// caller logs the detail.
    pub fn to_body(&self) -> ErrorBody {
        match self {
            Self::NotFound { .. } => ErrorBody::new(ErrorCode::NotFound, self.to_string()),
            Self::Conflict(m) => ErrorBody::new(ErrorCode::Conflict, m.clone()),
            Self::Invalid(m) => ErrorBody::new(ErrorCode::InvalidArguments, m.clone()),
            Self::Unavailable(_) => ErrorBody::new(
                ErrorCode::Unavailable,
                "the database is unavailable, try again",
            ),
            Self::Decode(_) | Self::Database(_) | Self::Migrate(_) => {
                ErrorBody::new(ErrorCode::Internal, "internal error")
            }
        }
    }
}

impl From<StoreError> for ErrorBody {
    /// Logs what the client must not see, then gives the wire error.
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Decode(_) | StoreError::Database(_) | StoreError::Migrate(_) => {
                tracing::error!(error = %e, "storage error");
            }
            StoreError::Unavailable(_) => tracing::warn!(error = %e, "storage unavailable"),
            _ => {}
        }
        e.to_body()
    }
}
