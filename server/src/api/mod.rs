//! The REST API under `/api/v1`.

use axum::Router;

use crate::error::Error;
use crate::AppState;

pub mod cases;
pub mod communications;
pub mod credentials;
pub mod imports;
pub mod legal_clocks;
pub mod session;
pub mod severity;
pub mod status_updates;
pub mod test_email;
pub mod stakeholders;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(cases::router())
        .merge(credentials::router())
        .merge(imports::router(state.settings.max_upload_bytes()))
        .merge(stakeholders::router())
        .merge(severity::router())
        .merge(status_updates::router())
        .merge(communications::router())
        .merge(legal_clocks::router())
        .merge(test_email::router())
        .fallback(|| async { Error::NotFound("API route") })
}
