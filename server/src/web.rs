//! The HTTP front: the API, the built browser app, logging and security headers.

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::InternalCause;
use crate::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Allows the app's own script and wasm and nothing inline or from elsewhere.
/// `wasm-unsafe-eval` permits compiling WebAssembly, not JavaScript `eval`.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

pub fn router(state: AppState) -> Router {
    let api = crate::api::router(&state);
    let site = site_service(&state);
    let secure = state.settings.secure_cookies();

    let mut router = Router::new()
        .nest("/api/v1", api)
        .merge(site)
        .layer(middleware::from_fn(log_internal_errors))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(|path| path.as_str().to_string())
                    .unwrap_or_default();
                let request_id = request
                    .extensions()
                    .get::<RequestId>()
                    .and_then(|id| id.header_value().to_str().ok())
                    .unwrap_or("")
                    .to_string();
                tracing::info_span!("request", method = %request.method(), route, request_id)
            })
            .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ));
    if secure {
        router = router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    router.with_state(state)
}

/// Serves the built app, and `index.html` for app routes such as `/cases/3`.
fn site_service(state: &AppState) -> Router<AppState> {
    let site_dir = state.settings.site_dir.clone();
    let index = site_dir.join("index.html");
    if !index.is_file() {
        tracing::warn!(site_dir = %site_dir.display(), "browser app not built; only the API is served");
        return Router::new().fallback(|| async { app_missing() });
    }
    let serve = ServeDir::new(&site_dir).fallback(ServeFile::new(index));
    Router::new().fallback_service(serve)
}

fn app_missing() -> Response {
    let page = "<!doctype html><title>Rekey</title><h1>Rekey</h1>\
        <p>The browser app is not built. Run <code>cargo xtask run</code>, or set site_dir to the \
        directory that holds its index.html. The API under /api/v1 works.</p>";
    (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response()
}

/// Logs the cause of every 500 once, inside the request span.
async fn log_internal_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(error = format!("{cause:#}"), "request failed");
    }
    response
}
