//! Tokens: HS256 JWTs with `sub`, `exp` and an optional space-separated `scope`
//! (docs/protocol.md section 1.1).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use protocol::UserId;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl Claims {
    pub fn user(&self) -> UserId {
        UserId(self.sub.clone())
    }

    /// When the token stops being valid.
    pub fn expires_at(&self) -> chrono::DateTime<chrono::Utc> {
        i64::try_from(self.exp)
            .ok()
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
    }

    /// Whether `exp` has passed (without the clock-skew leeway `verify` allows: a
    /// connection ends at `exp` itself).
    pub fn is_expired(&self) -> bool {
        self.expires_at() <= chrono::Utc::now()
    }

    /// The moment on tokio's clock the token expires, for a connection's deadline.
    pub fn deadline(&self) -> tokio::time::Instant {
        // Capped at a year so a token without a real expiry cannot overflow the clock.
        let year = std::time::Duration::from_secs(365 * 24 * 3600);
        let left = (self.expires_at() - chrono::Utc::now())
            .to_std()
            .unwrap_or_default()
            .min(year);
        tokio::time::Instant::now() + left
    }

    pub fn is_admin(&self) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split_whitespace().any(|s| s == "admin"))
    }
}

/// Shortest secret accepted: an HS256 key should be at least as long as the hash's
/// 256-bit output (RFC 7518 section 3.2); a shorter one can be brute-forced from any
/// token.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("invalid token: empty subject")]
    EmptySubject,
    #[error(
        "DRAFTLINE_JWT_SECRET: must be at least {MIN_SECRET_BYTES} bytes, not {0} \
         (generate one with `openssl rand -hex 32`)"
    )]
    ShortSecret(usize),
}

/// Refuses a secret too short to sign tokens with; checked once at start.
pub fn check_secret(secret: &str) -> Result<(), AuthError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(AuthError::ShortSecret(secret.len()));
    }
    Ok(())
}

/// Signs and verifies tokens with the configured secret.
#[derive(Clone)]
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth { .. }")
    }
}

impl Auth {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["sub", "exp"]);
        // A few seconds of clock skew between the issuer and this node.
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let claims =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)?.claims;
        if claims.sub.trim().is_empty() {
            return Err(AuthError::EmptySubject);
        }
        Ok(claims)
    }

    /// A token for `user` valid for `ttl_secs`, with the `admin` scope when asked.
    pub fn issue(&self, user: &str, admin: bool, ttl_secs: u64) -> Result<String, AuthError> {
        let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
        let claims = Claims {
            sub: user.to_owned(),
            exp: now + ttl_secs,
            scope: admin.then(|| "admin".to_owned()),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_carry_scope() {
        let auth = Auth::new("secret");
        let token = auth.issue("alice", true, 60).ok();
        let claims = token.as_deref().map(|t| auth.verify(t));
        assert!(matches!(claims, Some(Ok(ref c)) if c.sub == "alice" && c.is_admin()));
    }

    #[test]
    fn short_secrets_are_refused_naming_the_variable() {
        let error = check_secret("short").err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("DRAFTLINE_JWT_SECRET") && e.contains("32")),
            "{error:?}"
        );
        assert!(check_secret(&"x".repeat(MIN_SECRET_BYTES)).is_ok());
    }

    #[test]
    fn other_secret_and_expired_tokens_fail() {
        let auth = Auth::new("secret");
        let other = Auth::new("other")
            .issue("alice", false, 60)
            .unwrap_or_default();
        assert!(auth.verify(&other).is_err());
        let expired = Claims {
            sub: "alice".into(),
            exp: 1_000,
            scope: None,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &expired,
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap_or_default();
        assert!(auth.verify(&token).is_err());
        assert!(auth.verify("not a token").is_err());
    }
}
