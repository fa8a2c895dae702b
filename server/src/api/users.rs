//! User accounts (administrators) and the signed-in user's own password and sessions.

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use rekey_types::{
    validate_email, ApiToken, CreatedApiToken, CreatedUser, NewApiToken, PasswordChange, SessionInfo, TotpConfirm,
    TotpDisable, TotpSetup, UserAccount, UserRole, UserUpdate,
};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::stored_value_error;
use crate::audit::{self, Actor};
use crate::auth::{self, Admin, User};
use crate::db::{now_millis, optional_time_column, time_column};
use crate::tokens;
use crate::error::{Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}", patch(update_user))
        .route("/account/password", post(change_password))
        .route("/account/sessions", get(list_sessions))
        .route("/account/sessions/{id}", delete(end_session))
        .route("/account/tokens", get(list_tokens).post(create_token))
        .route("/account/tokens/{id}", delete(revoke_token))
        .route("/account/totp/setup", post(totp_setup))
        .route("/account/totp/enable", post(totp_enable))
        .route("/account/totp/disable", post(totp_disable))
}

const USER_COLUMNS: &str = "id, username, display_name, email, role, disabled, created_at";

fn account_from_row(row: &AnyRow) -> Result<UserAccount> {
    let role: String = row.try_get("role")?;
    Ok(UserAccount {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        role: UserRole::parse(&role).ok_or_else(|| stored_value_error("role", &role))?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: time_column(row, "created_at")?,
    })
}

async fn fetch_account(state: &AppState, id: i64) -> Result<UserAccount> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(Error::NotFound("user"))?;
    account_from_row(&row)
}

async fn list_users(State(state): State<AppState>, _admin: Admin) -> Result<Json<Vec<UserAccount>>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
    let rows = sqlx::query(&sql).fetch_all(&state.db.pool).await?;
    Ok(Json(rows.iter().map(account_from_row).collect::<Result<_>>()?))
}

async fn create_user(
    State(state): State<AppState>,
    Admin(user): Admin,
    Json(input): Json<rekey_types::NewUser>,
) -> Result<(StatusCode, Json<CreatedUser>)> {
    let username = input.username.trim();
    let email = input.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    if let Some(email) = email {
        validate_email(email).map_err(|message| Error::invalid("email", message))?;
    }
    let display_name = input
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(username);
    let (password, generated) = match input.password {
        Some(password) => (password, None),
        None => {
            let password = auth::generate_password();
            (password.clone(), Some(password))
        }
    };
    let id = auth::create_user(&state.db, username, display_name, email, input.role, &password).await?;
    let event = audit::Event::new("user_created", "user")
        .entity(id)
        .details(json!({"username": username, "role": input.role}));
    audit::append_alone(&state.db, &Actor::user(&user), event).await?;
    tracing::info!(user = id, role = %input.role, by = user.id(), "user created");
    let account = fetch_account(&state, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user: account,
            generated_password: generated,
        }),
    ))
}

async fn update_user(
    State(state): State<AppState>,
    Admin(user): Admin,
    Path(id): Path<i64>,
    Json(input): Json<UserUpdate>,
) -> Result<Json<UserAccount>> {
    let current = fetch_account(&state, id).await?;
    let demotes_admin = current.role == UserRole::Admin
        && (input.role.is_some_and(|r| r != UserRole::Admin) || input.disabled == Some(true));
    if demotes_admin && id == user.id() {
        return Err(Error::invalid(
            "role",
            "you cannot remove your own administrator role or disable yourself; ask another administrator",
        ));
    }
    if let Some(password) = &input.reset_password {
        auth::validate_new_password(password)?;
    }
    let display_name = match input.display_name.as_deref().map(str::trim) {
        Some("") => return Err(Error::invalid("display_name", "display_name must not be empty")),
        Some(name) => name.to_string(),
        None => current.display_name.clone(),
    };
    let role = input.role.unwrap_or(current.role);
    let disabled = input.disabled.unwrap_or(current.disabled);
    let hash = match &input.reset_password {
        Some(password) => Some(auth::hash_password(password.clone()).await?),
        None => None,
    };

    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE users SET role = $1, disabled = $2, display_name = $3, \
         password_hash = COALESCE($4, password_hash) WHERE id = $5",
    )
    .bind(role.as_str())
    .bind(i64::from(disabled))
    .bind(&display_name)
    .bind(hash)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let ends_sessions = disabled || input.reset_password.is_some() || role != current.role;
    if ends_sessions {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let event = audit::Event::new("user_updated", "user").entity(id).details(json!({
        "before": {"role": current.role, "disabled": current.disabled, "display_name": current.display_name},
        "after": {"role": role, "disabled": disabled, "display_name": display_name},
        "password_reset": input.reset_password.is_some(),
    }));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    tracing::info!(user = id, by = user.id(), %role, disabled, sessions_ended = ends_sessions, "user updated");
    Ok(Json(fetch_account(&state, id).await?))
}

async fn change_password(
    State(state): State<AppState>,
    user: User,
    parts: Parts,
    Json(input): Json<PasswordChange>,
) -> Result<StatusCode> {
    user.require_session()?;
    let stored_hash: String = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(user.id())
        .fetch_one(&state.db.pool)
        .await?
        .try_get("password_hash")?;
    if !auth::verify_password(input.current_password.clone(), stored_hash).await? {
        return Err(Error::invalid("current_password", "current_password is not your current password"));
    }
    auth::validate_new_password(&input.new_password).map_err(|e| match e {
        Error::Invalid { message, .. } => Error::invalid("new_password", message.replace("password", "new_password")),
        other => other,
    })?;
    let hash = auth::hash_password(input.new_password.clone()).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user.id())
        .execute(&state.db.pool)
        .await?;
    let current = current_session_id(&state, &parts).await?;
    let ended = auth::end_sessions(&state.db, user.id(), current).await?;
    let event = audit::Event::new("password_changed", "user")
        .entity(user.id())
        .details(json!({"other_sessions_ended": ended}));
    audit::append_alone(&state.db, &Actor::user(&user), event).await?;
    tracing::info!(user = user.id(), other_sessions_ended = ended, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

async fn current_session_id(state: &AppState, parts: &Parts) -> Result<Option<i64>> {
    let Some(token) = auth::session_token(parts) else {
        return Ok(None);
    };
    let row = sqlx::query("SELECT id FROM sessions WHERE token_hash = $1")
        .bind(auth::token_hash(&token))
        .fetch_optional(&state.db.pool)
        .await?;
    Ok(match row {
        Some(row) => Some(row.try_get("id")?),
        None => None,
    })
}

async fn list_sessions(State(state): State<AppState>, user: User, parts: Parts) -> Result<Json<Vec<SessionInfo>>> {
    user.require_session()?;
    let current = current_session_id(&state, &parts).await?;
    let rows = sqlx::query(
        "SELECT id, created_at, last_seen_at, expires_at, client_address, user_agent FROM sessions \
         WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC",
    )
    .bind(user.id())
    .bind(now_millis())
    .fetch_all(&state.db.pool)
    .await?;
    let sessions = rows
        .iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            Ok(SessionInfo {
                id,
                created_at: time_column(row, "created_at")?,
                last_seen_at: time_column(row, "last_seen_at")?,
                expires_at: time_column(row, "expires_at")?,
                client_address: row.try_get("client_address")?,
                user_agent: row.try_get("user_agent")?,
                current: Some(id) == current,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Json(sessions))
}

async fn end_session(State(state): State<AppState>, user: User, Path(id): Path<i64>) -> Result<StatusCode> {
    user.require_session()?;
    let result = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.id())
        .execute(&state.db.pool)
        .await?;
    if result.rows_affected() == 0 {
        return Err(Error::NotFound("session"));
    }
    tracing::info!(user = user.id(), session = id, "session ended by its user");
    Ok(StatusCode::NO_CONTENT)
}

const DEFAULT_TOKEN_DAYS: u32 = 90;
const MAX_TOKEN_DAYS: u32 = 365;

fn token_from_row(row: &AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        scopes: tokens::scopes_from_text(&row.try_get::<String, _>("scopes")?),
        created_at: time_column(row, "created_at")?,
        expires_at: time_column(row, "expires_at")?,
        last_used_at: optional_time_column(row, "last_used_at")?,
        revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
    })
}

const TOKEN_COLUMNS: &str = "id, name, scopes, created_at, expires_at, last_used_at, revoked_at";

async fn list_tokens(State(state): State<AppState>, user: User) -> Result<Json<Vec<ApiToken>>> {
    user.require_session()?;
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id DESC");
    let rows = sqlx::query(&sql).bind(user.id()).fetch_all(&state.db.pool).await?;
    Ok(Json(rows.iter().map(token_from_row).collect::<Result<_>>()?))
}

async fn create_token(
    State(state): State<AppState>,
    user: User,
    Json(input): Json<NewApiToken>,
) -> Result<(StatusCode, Json<CreatedApiToken>)> {
    user.require_session()?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "name is missing or longer than 100 characters; say what uses the token"));
    }
    if input.scopes.is_empty() {
        return Err(Error::invalid("scopes", "scopes is empty; choose read, write or import"));
    }
    let days = input.expires_in_days.unwrap_or(DEFAULT_TOKEN_DAYS);
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(Error::invalid(
            "expires_in_days",
            format!("expires_in_days must be between 1 and {MAX_TOKEN_DAYS}"),
        ));
    }
    let secret = tokens::new_token();
    let now = now_millis();
    let expires_at = now + i64::from(days) * 24 * 3600 * 1000;
    let sql = format!(
        "INSERT INTO api_tokens (user_id, name, token_hash, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(user.id())
        .bind(name)
        .bind(auth::token_hash(&secret))
        .bind(tokens::scopes_to_text(&input.scopes))
        .bind(now)
        .bind(expires_at)
        .fetch_one(&state.db.pool)
        .await?;
    let token = token_from_row(&row)?;
    let event = audit::Event::new("api_token_created", "api_token")
        .entity(token.id)
        .details(json!({"name": token.name, "scopes": token.scopes, "expires_at": token.expires_at}));
    audit::append_alone(&state.db, &Actor::user(&user), event).await?;
    tracing::info!(user = user.id(), token = token.id, "API token created");
    Ok((StatusCode::CREATED, Json(CreatedApiToken { token, secret })))
}

async fn revoke_token(State(state): State<AppState>, user: User, Path(id): Path<i64>) -> Result<StatusCode> {
    user.require_session()?;
    let result = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
        .bind(now_millis())
        .bind(id)
        .bind(user.id())
        .execute(&state.db.pool)
        .await?;
    if result.rows_affected() == 0 {
        return Err(Error::NotFound("API token"));
    }
    audit::append_alone(&state.db, &Actor::user(&user), audit::Event::new("api_token_revoked", "api_token").entity(id))
        .await?;
    tracing::info!(user = user.id(), token = id, "API token revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Starts two-factor setup: stores a new pending secret and returns it once.
async fn totp_setup(State(state): State<AppState>, user: User) -> Result<Json<TotpSetup>> {
    user.require_session()?;
    // Replacing an enrolled secret would let a stolen session lock the owner out, so the old
    // one must be turned off first, which needs the password.
    if user.account.totp_enabled {
        return Err(Error::conflict(
            "totp",
            "two-factor authentication is already on; turn it off with your password before setting up a new app",
        ));
    }
    let secret = crate::totp::new_secret();
    sqlx::query("UPDATE users SET totp_pending_secret = $1 WHERE id = $2")
        .bind(&secret)
        .bind(user.id())
        .execute(&state.db.pool)
        .await?;
    let uri = crate::totp::provisioning_uri(&secret, &user.account.username, "Rekey");
    Ok(Json(TotpSetup { secret, uri }))
}

/// Enables two-factor authentication once a code from the pending secret checks out.
async fn totp_enable(State(state): State<AppState>, user: User, Json(input): Json<TotpConfirm>) -> Result<StatusCode> {
    user.require_session()?;
    let pending: Option<String> = sqlx::query("SELECT totp_pending_secret FROM users WHERE id = $1")
        .bind(user.id())
        .fetch_one(&state.db.pool)
        .await?
        .try_get("totp_pending_secret")?;
    let Some(secret) = pending else {
        return Err(Error::invalid("code", "no setup in progress; start with POST /api/v1/account/totp/setup"));
    };
    if !auth::accept_totp_code(&state, user.id(), &secret, &input.code, None).await? {
        return Err(Error::invalid("code", "the code does not match; check the app's clock and enter the current code"));
    }
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL WHERE id = $1")
        .bind(user.id())
        .execute(&mut *tx)
        .await?;
    audit::append(&mut tx, &Actor::user(&user), audit::Event::new("totp_enabled", "user").entity(user.id())).await?;
    tx.commit().await?;
    tracing::info!(user = user.id(), "two-factor authentication enabled");
    Ok(StatusCode::NO_CONTENT)
}

async fn totp_disable(State(state): State<AppState>, user: User, Json(input): Json<TotpDisable>) -> Result<StatusCode> {
    user.require_session()?;
    let stored_hash: String = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(user.id())
        .fetch_one(&state.db.pool)
        .await?
        .try_get("password_hash")?;
    if !auth::verify_password(input.current_password.clone(), stored_hash).await? {
        return Err(Error::invalid("current_password", "current_password is not your current password"));
    }
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_last_step = NULL WHERE id = $1")
        .bind(user.id())
        .execute(&mut *tx)
        .await?;
    audit::append(&mut tx, &Actor::user(&user), audit::Event::new("totp_disabled", "user").entity(user.id())).await?;
    tx.commit().await?;
    tracing::info!(user = user.id(), "two-factor authentication disabled");
    Ok(StatusCode::NO_CONTENT)
}
