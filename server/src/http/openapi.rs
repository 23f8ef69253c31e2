//! The HTTP API's OpenAPI 3.1 document, served at `GET /v1/openapi.json`: generated from
//! the `#[utoipa::path]` of each handler and the protocol's types (its `openapi`
//! feature), so the description cannot say what the handlers do not.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, Ref, RefOr, Response as ApiResponse, ResponseBuilder,
};
use utoipa::{Modify, OpenApi};

/// The security scheme of a bearer token (a JWT signed with `DRAFTLINE_JWT_SECRET`).
pub const BEARER: &str = "bearer";
/// The security scheme of the token as `?access_token=`, accepted only on the routes of
/// [`super::QUERY_TOKEN_ROUTES`].
pub const QUERY_TOKEN: &str = "access_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Draftline HTTP API",
        description = "The hub's HTTP API (docs/protocol.md section 7). Every failure \
            answers with the protocol's error body `{code, message, retry_after_ms?, \
            details?}`; realtime clients use the WebSocket at `/v1/ws`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        super::health::healthz,
        super::health::readyz,
        crate::metrics::render,
        super::console::page,
        super::console::asset,
        document,
        crate::ws::upgrade,
        crate::rtc::offer,
        crate::rtc::hang_up,
        crate::rtc::config,
        super::tools::list,
        super::tools::call,
        super::sessions::create,
        super::sessions::get,
        super::documents::current,
        super::documents::versions,
        super::documents::version,
        super::events::stream,
        super::events::presence,
        super::members::list,
        super::members::put,
        super::members::remove,
        super::operations::list,
        super::operations::rollback,
        super::memory::list,
        super::memory::create,
        super::memory::remove,
        super::chat::send,
        super::chat::list,
        super::jobs::get,
        super::admin::list,
        super::admin::retry,
        super::admin::cancel,
        super::admin::drain,
        super::admin::stats,
    ),
    components(schemas(protocol::ErrorBody, protocol::ErrorCode)),
    modifiers(&Security),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

/// Declares the two ways a token is sent.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        bearer.description = Some("A JWT (HS256) whose `sub` is the user id.".into());
        components.add_security_scheme(BEARER, SecurityScheme::Http(bearer));
        components.add_security_scheme(
            QUERY_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                QUERY_TOKEN,
                "The same JWT in the query, for browsers that cannot set headers on a \
                 WebSocket or EventSource; refused (401) on every other route.",
            ))),
        );
    }
}

/// The document as JSON, built once.
pub fn json() -> &'static [u8] {
    static JSON: OnceLock<Vec<u8>> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        // An error's message may quote what the client sent, NUL included.
        let errors = document
            .pointer_mut("/components/schemas")
            .and_then(|schemas| schemas.as_object_mut()?.remove("ErrorBody"));
        forbid_nul(&mut document);
        if let (Some(errors), Some(schemas)) = (
            errors,
            document
                .pointer_mut("/components/schemas")
                .and_then(|s| s.as_object_mut()),
        ) {
            schemas.insert("ErrorBody".into(), errors);
        }
        serde_json::to_vec(&document).unwrap_or_default()
    })
}

/// No text holds U+0000: Postgres cannot store it, so the hub refuses it naming the field
/// (docs/protocol.md section 2).
const NUL_FREE: &str = "^[^\\u0000]*$";
/// `\S` (not blank) without U+0000.
const NUL_FREE_NOT_BLANK: &str = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$";

/// Says of every free-text string schema that it holds no U+0000: a pattern where there is
/// none, the not-blank pattern `\S` made NUL-free. Anchored patterns (ids, positions)
/// already exclude it; formats (uuid, date-time) and enums cannot hold it.
fn forbid_nul(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(fields) => {
            let is_string = match fields.get("type") {
                Some(serde_json::Value::String(t)) => t == "string",
                Some(serde_json::Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                _ => false,
            };
            let free_text = !["format", "enum", "const"]
                .iter()
                .any(|k| fields.contains_key(*k));
            if is_string && free_text {
                let pattern = match fields.get("pattern").and_then(|p| p.as_str()) {
                    None => Some(NUL_FREE),
                    Some("\\S") => Some(NUL_FREE_NOT_BLANK),
                    Some(_) => None,
                };
                if let Some(pattern) = pattern {
                    fields.insert("pattern".into(), pattern.into());
                }
            }
            fields.values_mut().for_each(forbid_nul);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(forbid_nul),
        _ => {}
    }
}

/// This document. Public: it describes the API, not anyone's data.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API",
        content_type = "application/json")),
)]
pub async fn document() -> Response {
    let mut response = json().to_vec().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// What each error status means on this API; the body is always the error body.
fn error_description(status: u16) -> &'static str {
    match status {
        400 => {
            "`bad_request`: a malformed path, query, header or body; the message names the field"
        }
        401 => "`unauthorized`: no token, or one that is invalid or expired",
        403 => "`forbidden` or `tool_not_allowed`: the caller may not do this",
        404 => "`not_found` or `unknown_tool`: nothing of this id the caller may see",
        409 => "`conflict`: the state changed underneath (a version, a decided operation)",
        415 => "`bad_request`: the body is not of the content type this route takes",
        426 => "`bad_request`: a plain request where a WebSocket handshake was expected",
        422 => {
            "`invalid_arguments`: the body parsed but a field is wrong; `details.field` names it"
        }
        429 => {
            "`rate_limited`: too many requests; `Retry-After` and `retry_after_ms` say when to try again"
        }
        500 => "`internal`: an unexpected failure (details are logged, never sent)",
        503 => "`unavailable`: Postgres or Redis is not reachable; retry",
        _ => "an error",
    }
}

/// An error response with the protocol's error body.
fn error_response(status: u16) -> RefOr<ApiResponse> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    let mut response = ResponseBuilder::new()
        .description(error_description(status))
        .content("application/json", content);
    if status == 429 {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::Integer),
                )
                .description(Some("Seconds to wait"))
                .build(),
        );
    }
    response.build().into()
}

/// Declares a set of error statuses for `responses(...)` of `#[utoipa::path]`.
macro_rules! errors {
    ($($(#[$doc:meta])* $name:ident: [$($status:literal),+];)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<ApiResponse>> {
                [$($status),+]
                    .into_iter()
                    .map(|status: u16| (status.to_string(), error_response(status)))
                    .collect()
            }
        }
    )+};
}

errors! {
    /// A route that needs a token and touches nothing stored.
    AuthErrors: [401, 429];
    /// A public route reading Postgres and Redis.
    ProbeErrors: [503];
    /// Reading something of the caller's own (a session, a job).
    OwnErrors: [400, 401, 404, 429, 500, 503];
    /// Reading a project's data (members read).
    ReadErrors: [400, 401, 403, 404, 429, 500, 503];
    /// Changing a project's data.
    WriteErrors: [400, 401, 403, 404, 409, 422, 429, 500, 503];
    /// The admin API.
    AdminErrors: [400, 401, 403, 404, 409, 429, 500, 503];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ROUTES;
    use serde_json::Value;

    /// The path of a route as OpenAPI writes it (`{*path}` is `{path}`).
    fn openapi_path(route: &str) -> String {
        route.replace("{*", "{")
    }

    #[test]
    fn the_document_describes_every_route_and_nothing_else() {
        let doc = ApiDoc::openapi();
        let mut documented = Vec::new();
        for (path, item) in &doc.paths.paths {
            let methods = [
                ("GET", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
                ("PATCH", item.patch.is_some()),
                ("HEAD", item.head.is_some()),
                ("OPTIONS", item.options.is_some()),
            ];
            for (method, present) in methods {
                if present {
                    documented.push((method.to_owned(), path.clone()));
                }
            }
        }
        for &(method, route) in ROUTES {
            let wanted = (method.to_owned(), openapi_path(route));
            assert!(
                documented.contains(&wanted),
                "{method} {route} is served but not documented"
            );
        }
        for (method, path) in &documented {
            assert!(
                ROUTES
                    .iter()
                    .any(|&(m, r)| m == method && openapi_path(r) == *path),
                "{method} {path} is documented but not served"
            );
        }
    }

    #[test]
    fn every_free_text_string_is_described_without_nul() {
        let document: Value = serde_json::from_slice(json()).unwrap();
        let mut patterns = Vec::new();
        collect_string_patterns(&document, &mut patterns);
        assert!(patterns.len() > 20, "{patterns:?}");
        for pattern in &patterns {
            let pattern = pattern.as_deref().unwrap_or("(none)");
            assert!(
                pattern.starts_with('^') && pattern.ends_with('$'),
                "a free-text string pattern that may admit U+0000: {pattern}"
            );
        }
        assert!(
            patterns
                .iter()
                .any(|p| p.as_deref() == Some(NUL_FREE_NOT_BLANK))
        );
    }

    /// The pattern of every string schema without a format or enum (but the error
    /// body's, whose message may quote the client's input).
    fn collect_string_patterns(value: &Value, out: &mut Vec<Option<String>>) {
        match value {
            Value::Object(fields) => {
                if fields.contains_key("ErrorBody") {
                    assert!(
                        fields["ErrorBody"]["properties"]["message"]
                            .get("pattern")
                            .is_none()
                    );
                }
                let is_string = fields.get("type").is_some_and(|t| {
                    t == "string"
                        || t.as_array()
                            .is_some_and(|ts| ts.iter().any(|t| t == "string"))
                });
                if is_string
                    && !["format", "enum", "const"]
                        .iter()
                        .any(|k| fields.contains_key(*k))
                {
                    out.push(
                        fields
                            .get("pattern")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    );
                }
                fields
                    .iter()
                    .filter(|(k, _)| k.as_str() != "ErrorBody")
                    .for_each(|(_, v)| collect_string_patterns(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_string_patterns(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_error_response_has_the_error_body_and_routes_declare_their_security() {
        let doc: serde_json::Value =
            serde_json::from_slice(json()).unwrap_or_else(|e| panic!("not JSON: {e}"));
        assert_eq!(doc["openapi"], "3.1.0");
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes[BEARER]["scheme"], "bearer");
        assert_eq!(schemes[QUERY_TOKEN]["in"], "query");
        let paths = doc["paths"]
            .as_object()
            .unwrap_or_else(|| panic!("no paths"));
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap_or_else(|| panic!("{path}")) {
                let responses = op["responses"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{path}"));
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let schema = &response["content"]["application/json"]["schema"]["$ref"];
                        assert_eq!(
                            schema, "#/components/schemas/ErrorBody",
                            "{method} {path} {status}"
                        );
                    }
                }
                let query_token = op["security"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r.get(QUERY_TOKEN).is_some()));
                let route = crate::http::QUERY_TOKEN_ROUTES
                    .iter()
                    .any(|r| openapi_path(r) == *path);
                assert_eq!(query_token, route, "{method} {path}: access_token");
            }
        }
    }
}
