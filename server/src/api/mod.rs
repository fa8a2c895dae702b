//! The REST API under `/api/v1`.

use axum::Router;

use crate::error::Error;
use crate::AppState;

pub mod cases;
pub mod containment;
pub mod credentials;
pub mod impact;
pub mod imports;
pub mod playbooks;
pub mod resources;
pub mod session;
pub mod stakeholders;
pub mod tasks;
pub mod timeline;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(cases::router())
        .merge(credentials::router())
        .merge(containment::router())
        .merge(imports::router(state.settings.max_upload_bytes()))
        .merge(impact::router())
        .merge(playbooks::router())
        .merge(resources::router())
        .merge(stakeholders::router())
        .merge(tasks::router())
        .merge(timeline::router())
        .fallback(|| async { Error::NotFound("API route") })
}
