//! Login, logout and the current user.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rekey_types::{CurrentUser, LoginRequest, ServerStatus};

use crate::audit::{self, Actor};
use crate::auth::{self, User};
use crate::error::{Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
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
    Json(user.account)
}

/// Message for every failed login, so that it does not reveal which accounts exist.
const LOGIN_FAILED: &str = "invalid username or password";

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(input): Json<LoginRequest>,
) -> Result<Response> {
    if !headers.contains_key(auth::CSRF_HEADER) {
        return Err(Error::Forbidden(
            "missing X-Requested-With header; state-changing requests must send it".to_string(),
        ));
    }
    let username = input.username.trim();
    let keys = [
        format!("user:{}", username.to_lowercase()),
        format!("address:{}", peer.ip()),
    ];
    let wait = state.login_throttle.wait_time(&keys);
    if !wait.is_zero() {
        tracing::warn!(username, address = %peer.ip(), "login throttled");
        return Err(Error::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        });
    }

    let outcome = auth::check_login(&state, username, &input.password, input.totp_code.as_deref()).await?;
    let user = match outcome {
        auth::LoginOutcome::Success(user) => Some(user),
        auth::LoginOutcome::NeedsCode => {
            let body = rekey_types::ErrorBody {
                error: rekey_types::ErrorDetail {
                    code: "totp_required".into(),
                    message: "enter the 6-digit code from your authenticator app".into(),
                    field: Some("totp_code".into()),
                    current_version: None,
                },
            };
            return Ok((StatusCode::UNAUTHORIZED, axum::Json(body)).into_response());
        }
        auth::LoginOutcome::Failed => None,
    };
    let Some(user) = user else {
        state.login_throttle.record_failure(&keys);
        tracing::warn!(username, address = %peer.ip(), "login failed");
        let actor = Actor::anonymous(username, Some(peer.ip().to_string()));
        audit::append_alone(&state.db, &actor, audit::Event::new("login_failed", "session")).await?;
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
    state.login_throttle.record_success(&keys[..1]);
    // A session that came with the login request ends, so a token planted before login
    // (session fixation) never becomes a signed-in session.
    if let Some(old_token) = auth::session_token_from_headers(&headers) {
        auth::delete_session(&state.db, &old_token).await?;
    }
    let client = auth::ClientInfo {
        address: Some(peer.ip().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string),
    };
    let token = auth::create_session(&state, user.id, &client).await?;
    let actor = Actor {
        id: Some(user.id),
        name: user.username.clone(),
        client_address: Some(peer.ip().to_string()),
    };
    audit::append_alone(&state.db, &actor, audit::Event::new("login", "session")).await?;
    tracing::info!(user = user.id, address = %peer.ip(), "login");
    let cookie = auth::session_cookie(&token, &state);
    Ok(([(header::SET_COOKIE, cookie)], Json(user)).into_response())
}

async fn logout(State(state): State<AppState>, parts: Parts) -> Result<Response> {
    auth::require_csrf_header(&parts)?;
    if let Some(token) = auth::session_token(&parts) {
        if let Some(user_id) = auth::delete_session(&state.db, &token).await? {
            let actor = Actor {
                id: Some(user_id),
                name: format!("user {user_id}"),
                client_address: auth::client_address(&parts),
            };
            audit::append_alone(&state.db, &actor, audit::Event::new("logout", "session")).await?;
        }
    }
    let cookie = auth::expired_session_cookie(&state);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}
