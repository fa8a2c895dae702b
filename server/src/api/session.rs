//! Login, logout and the current user.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rekey_types::{CurrentUser, LoginRequest, ServerStatus};

use crate::auth::{self, User};
use crate::error::{Error, Json, Result};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/status", get(status))
        .route("/session", get(current_user).post(login).delete(logout))
}

async fn status(State(state): State<AppState>) -> Json<ServerStatus> {
    Json(ServerStatus {
        version: env!("CARGO_PKG_VERSION").to_string(),
        mail_configured: state.settings.mail_configured(),
    })
}

async fn current_user(user: User) -> Json<CurrentUser> {
    Json(user.0)
}

/// Message for every failed login, so that it does not reveal which accounts exist.
const LOGIN_FAILED: &str = "invalid username or password";

async fn login(State(state): State<AppState>, headers: HeaderMap, Json(input): Json<LoginRequest>) -> Result<Response> {
    if !headers.contains_key(auth::CSRF_HEADER) {
        return Err(Error::Forbidden(
            "missing X-Requested-With header; state-changing requests must send it".to_string(),
        ));
    }
    let user = auth::check_login(&state, input.username.trim(), &input.password).await?;
    let Some(user) = user else {
        tracing::warn!(username = %input.username.trim(), "login failed");
        let body = rekey_types::ErrorBody {
            error: rekey_types::ErrorDetail {
                code: "unauthorized".into(),
                message: LOGIN_FAILED.into(),
                field: None,
                current_version: None,
            },
        };
        return Ok((StatusCode::UNAUTHORIZED, axum::Json(body)).into_response());
    };
    let token = auth::create_session(&state, user.id).await?;
    tracing::info!(user = user.id, "login");
    let cookie = auth::session_cookie(&token, &state);
    Ok(([(header::SET_COOKIE, cookie)], Json(user)).into_response())
}

async fn logout(State(state): State<AppState>, parts: Parts) -> Result<Response> {
    auth::require_csrf_header(&parts)?;
    if let Some(token) = auth::session_token(&parts) {
        auth::delete_session(&state.db, &token).await?;
    }
    let cookie = auth::expired_session_cookie(&state);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}
