//! The REST API under `/api/v1`.

use axum::Router;

use crate::error::Error;
use crate::AppState;

pub mod cases;
pub mod credentials;
pub mod derived;
pub mod imports;
pub mod rules;
pub mod session;
pub mod stakeholders;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(cases::router())
        .merge(credentials::router())
        .merge(derived::router())
        .merge(imports::router(state.settings.max_upload_bytes()))
        .merge(stakeholders::router())
        .merge(rules::router())
        .fallback(|| async { Error::NotFound("API route") })
}
