//! The console page (`/console`): static assets embedded in the binary from `console/`
//! at the repository root, so a node serves it with no network and no files beside it.
//! The page signs in with a token kept in the browser (the `#token=` fragment never
//! reaches the server) and talks to the hub like any other client.

use super::Path;
use crate::error::ApiError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::{ErrorBody, ErrorCode};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../console/"]
struct Assets;

/// Scripts and styles come from this origin only; the page opens its WebSocket to the
/// same host. No inline script or style, so an injected one never runs.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[utoipa::path(get, path = "/console", tag = "console", security(()),
    responses((status = 200, description = "The console page", content_type = "text/html", body = String)))]
pub async fn page() -> Response {
    serve("index.html")
}

#[utoipa::path(get, path = "/console/{path}", tag = "console", security(()),
    params(("path" = String, Path, description = "A file of the console")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/html"), (String = "text/css"), (String = "text/javascript"),
            (String = "image/svg+xml"), (String = "image/png"), (String = "application/octet-stream"))),
        (status = 404, description = "No such file", body = ErrorBody),
    ))]
pub async fn asset(Path(path): Path<String>) -> Response {
    serve(&path)
}

fn serve(path: &str) -> Response {
    let Some(file) = Assets::get(path) else {
        return ApiError::new(ErrorCode::NotFound, "no such endpoint").into_response();
    };
    let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    // Assets change with the binary; revalidating costs little and never serves a page
    // from an older node after an upgrade.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}
