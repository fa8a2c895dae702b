//! The REST API under `/api/v1`.

use axum::routing::MethodRouter;
use axum::Router;

use crate::error::Error;
use crate::AppState;

pub mod audit;
pub mod cases;
pub mod communications;
pub mod containment;
pub mod credentials;
pub mod derived;
pub mod evidence;
pub mod impact;
pub mod imports;
pub mod invitations;
pub mod legal_clocks;
pub mod members;
pub mod playbooks;
pub mod report;
pub mod resources;
pub mod rules;
pub mod session;
pub mod severity;
pub mod status_updates;
pub mod test_email;
pub mod stakeholders;
pub mod tasks;
pub mod timeline;
pub mod users;

/// Routes of the API together with their paths, so that tests can enumerate every route.
pub struct Routes {
    router: Router<AppState>,
    paths: Vec<&'static str>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

impl Routes {
    pub fn new() -> Routes {
        Routes {
            router: Router::new(),
            paths: Vec::new(),
        }
    }

    /// Adds `path` with its handlers, as `axum::Router::route` does.
    pub fn route(mut self, path: &'static str, method_router: MethodRouter<AppState>) -> Routes {
        self.paths.push(path);
        self.router = self.router.route(path, method_router);
        self
    }

    pub fn merge(mut self, other: Routes) -> Routes {
        self.paths.extend(other.paths);
        self.router = self.router.merge(other.router);
        self
    }
}

fn routes(state: &AppState) -> Routes {
    Routes::new()
        .merge(session::router())
        .merge(cases::router())
        .merge(credentials::router())
        .merge(containment::router())
        .merge(derived::router())
        .merge(imports::router(state.settings.max_upload_bytes()))
        .merge(impact::router())
        .merge(playbooks::router())
        .merge(resources::router())
        .merge(stakeholders::router())
        .merge(tasks::router())
        .merge(timeline::router())
        .merge(members::router())
        .merge(users::router())
        .merge(invitations::router())
        .merge(audit::router())
        .merge(rules::router())
        .merge(severity::router())
        .merge(status_updates::router())
        .merge(communications::router())
        .merge(legal_clocks::router())
        .merge(test_email::router())
        .merge(evidence::router())
        .merge(report::router())
}

pub fn router(state: &AppState) -> Router<AppState> {
    routes(state)
        .router
        .fallback(|| async { Error::NotFound("API route") })
}

/// Paths of every API route, relative to `/api/v1`, with parameters such as `{number}`.
pub fn route_paths(state: &AppState) -> Vec<&'static str> {
    routes(state).paths
}
