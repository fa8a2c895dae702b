//! The REST API under `/api/v1`.

use axum::Router;

use crate::error::Error;
use crate::AppState;

pub mod cases;
pub mod credentials;
pub mod imports;
pub mod invitations;
pub mod members;
pub mod session;
pub mod stakeholders;
pub mod users;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(cases::router())
        .merge(credentials::router())
        .merge(imports::router(state.settings.max_upload_bytes()))
        .merge(stakeholders::router())
        .merge(members::router())
        .merge(users::router())
        .merge(invitations::router())
        .fallback(|| async { Error::NotFound("API route") })
}
