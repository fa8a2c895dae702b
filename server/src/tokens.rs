//! API tokens: bearer credentials for automation, scoped and expiring.
//!
//! A token is `rk_` followed by 32 random bytes in base64url. Only its SHA-256 is stored. A
//! request that carries `Authorization` is authenticated by that header alone, never by a
//! session cookie, so it needs no CSRF header.

use axum::http::request::Parts;
use axum::http::{header, Method};
use rekey_types::{CurrentUser, TokenScope};
use sqlx::Row;

use crate::audit;
use crate::auth::{new_session_token, token_hash, user_from_row};
use crate::db::now_millis;
use crate::error::{Error, Result};
use crate::AppState;

pub const TOKEN_PREFIX: &str = "rk_";

pub fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", new_session_token())
}

/// Reads the bearer token; `None` without an `Authorization` header, 401 for any other
/// scheme or a malformed header.
pub fn bearer_token(parts: &Parts) -> Result<Option<String>> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX))
        .ok_or(Error::Unauthorized)?;
    Ok(Some(token.to_string()))
}

pub fn scopes_to_text(scopes: &[TokenScope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

pub fn scopes_from_text(text: &str) -> Vec<TokenScope> {
    text.split(',').filter_map(TokenScope::parse).collect()
}

/// Scope a request needs: `read` for GET, `import` or `write` for a trail upload, `write` for
/// any other change.
fn required_scopes(parts: &Parts) -> &'static [TokenScope] {
    if crate::auth::is_safe_method(&parts.method) {
        return &[TokenScope::Read];
    }
    // Nested routers strip their prefix from `uri`, but the suffix stays the same.
    let is_upload = parts.method == Method::POST && parts.uri.path().ends_with("/imports");
    if is_upload {
        &[TokenScope::Import, TokenScope::Write]
    } else {
        &[TokenScope::Write]
    }
}

/// Authenticates a bearer token and checks its scopes for this request.
pub async fn authenticate(state: &AppState, parts: &Parts, token: &str) -> Result<CurrentUser> {
    let now = now_millis();
    let row = sqlx::query(
        "SELECT t.id AS token_id, t.scopes, t.last_used_at, u.id, u.username, u.display_name, u.role, \
         CAST(CASE WHEN u.totp_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS totp_enabled \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.expires_at > $2 AND t.revoked_at IS NULL AND u.disabled = 0",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or(Error::Unauthorized)?;
    let token_id: i64 = row.try_get("token_id")?;
    let scopes = scopes_from_text(&row.try_get::<String, _>("scopes")?);
    let needed = required_scopes(parts);
    if !needed.iter().any(|scope| scopes.contains(scope)) {
        tracing::warn!(token = token_id, path = parts.uri.path(), "API token lacks the scope");
        return Err(Error::Forbidden(format!(
            "this API token lacks the scope {}",
            needed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or ")
        )));
    }
    let user = user_from_row(&row)?;
    // Token use is written at most once a minute per token, to the token and the audit log,
    // so that a busy script does not write on every request.
    let last_used: Option<i64> = row.try_get("last_used_at")?;
    if last_used.is_none_or(|t| now - t > 60_000) {
        let mut tx = state.db.begin().await?;
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(token_id)
            .execute(&mut *tx)
            .await?;
        let actor = audit::Actor {
            id: Some(user.id),
            name: user.username.clone(),
            client_address: crate::auth::client_address(parts),
        };
        let event = audit::Event::new("api_token_used", "api_token")
            .entity(token_id)
            .details(serde_json::json!({"path": parts.uri.path(), "method": parts.method.as_str()}));
        audit::append(&mut tx, &actor, event).await?;
        tx.commit().await?;
    }
    Ok(user)
}
