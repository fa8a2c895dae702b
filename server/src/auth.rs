//! Passwords, login sessions and the extractor that requires a signed-in user.

use std::sync::OnceLock;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use base64::Engine;
use rand::RngCore;
use rekey_types::{CurrentUser, UserRole};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{now_millis, Db};
use crate::error::{Error, Result};
use crate::AppState;

pub const SESSION_COOKIE: &str = "rekey_session";

/// Header that every state-changing request must carry. A cross-site form cannot set it, and
/// a cross-site script cannot send it without a CORS preflight that Rekey never grants.
pub const CSRF_HEADER: &str = "x-requested-with";

/// Argon2id with the OWASP-recommended minimum: 19 MiB of memory, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Tells whether a stored hash was made with other parameters than the current ones, so that
/// a successful login should store a new hash.
pub fn needs_rehash(stored_hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored_hash) else {
        return true;
    };
    let current = argon2();
    let params = current.params();
    parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
        || Params::try_from(&parsed).map_or(true, |p| {
            p.m_cost() != params.m_cost() || p.t_cost() != params.t_cost() || p.p_cost() != params.p_cost()
        })
}

/// Hashes a password on a blocking thread, since one hash takes tens of milliseconds.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password failed: {e}"))
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(Error::Internal)
}

/// Checks a password against a stored hash on a blocking thread.
pub async fn verify_password(password: String, stored_hash: String) -> Result<bool> {
    let matches = tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored_hash) else {
            return false;
        };
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(anyhow::Error::from)?;
    Ok(matches)
}

/// Hash checked when the username does not exist, so that a failed login takes as long for
/// an unknown account as for a wrong password.
fn fallback_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(b"fallback password for unknown users", &salt)
            .expect("hashing a constant succeeds")
            .to_string()
    })
    .clone()
}

/// Result of checking login credentials.
pub enum LoginOutcome {
    /// Unknown user, disabled user, wrong password or wrong one-time code alike.
    Failed,
    /// The password is right, and the account needs a one-time code as well.
    NeedsCode,
    Success(CurrentUser),
}

/// Checks a username, password and, for accounts with two-factor authentication, the
/// one-time code.
pub async fn check_login(
    state: &AppState,
    username: &str,
    password: &str,
    totp_code: Option<&str>,
) -> Result<LoginOutcome> {
    let row = sqlx::query(
        "SELECT id, username, display_name, role, password_hash, disabled, totp_secret, totp_last_step, \
         CAST(CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS totp_enabled \
         FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(&state.db.pool)
    .await?;

    let _permit = state
        .hash_limiter
        .acquire()
        .await
        .map_err(anyhow::Error::from)?;
    let Some(row) = row else {
        let fallback = tokio::task::spawn_blocking(fallback_hash)
            .await
            .map_err(anyhow::Error::from)?;
        verify_password(password.to_string(), fallback).await?;
        return Ok(LoginOutcome::Failed);
    };

    let stored_hash: String = row.try_get("password_hash")?;
    let disabled: i64 = row.try_get("disabled")?;
    let matches = verify_password(password.to_string(), stored_hash.clone()).await?;
    if !matches || disabled != 0 {
        return Ok(LoginOutcome::Failed);
    }
    let user = user_from_row(&row)?;
    if let Some(secret) = row.try_get::<Option<String>, _>("totp_secret")? {
        let Some(code) = totp_code.filter(|c| !c.trim().is_empty()) else {
            return Ok(LoginOutcome::NeedsCode);
        };
        let last_step: Option<i64> = row.try_get("totp_last_step")?;
        if !accept_totp_code(state, user.id, &secret, code, last_step).await? {
            return Ok(LoginOutcome::Failed);
        }
    }
    if needs_rehash(&stored_hash) {
        let upgraded = hash_password(password.to_string()).await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(upgraded)
            .bind(user.id)
            .execute(&state.db.pool)
            .await?;
        tracing::info!(user = user.id, "password hash upgraded to the current parameters");
    }
    Ok(LoginOutcome::Success(user))
}

/// Checks a one-time code and records its time step, so that the same code cannot be used
/// again. The conditional UPDATE makes two concurrent logins with one code fail for one.
pub async fn accept_totp_code(
    state: &AppState,
    user_id: i64,
    secret: &str,
    code: &str,
    last_step: Option<i64>,
) -> Result<bool> {
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let last = last_step.and_then(|s| u64::try_from(s).ok());
    let Some(step) = crate::totp::verify(secret, code, crate::totp::current_step(now), last) else {
        return Ok(false);
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let updated = sqlx::query(
        "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
    )
    .bind(step)
    .bind(user_id)
    .execute(&state.db.pool)
    .await?;
    Ok(updated.rows_affected() == 1)
}

pub fn user_from_row(row: &sqlx::any::AnyRow) -> Result<CurrentUser> {
    let role: String = row.try_get("role")?;
    Ok(CurrentUser {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: UserRole::parse(&role)
            .ok_or_else(|| anyhow::anyhow!("unknown role '{role}' in users table"))?,
        totp_enabled: row.try_get::<i64, _>("totp_enabled")? != 0,
    })
}

/// Random session token as sent in the cookie; only its SHA-256 is stored.
pub fn new_session_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Client address and user agent of a login, stored with the session so that users can
/// recognise it.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// Stores a new session for `user_id` and returns its token.
pub async fn create_session(state: &AppState, user_id: i64, client: &ClientInfo) -> Result<String> {
    let token = new_session_token();
    let now = now_millis();
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&state.db.pool)
        .await?;
    let lifetime = i64::try_from(state.settings.session_lifetime().as_millis()).unwrap_or(i64::MAX);
    let user_agent = client
        .user_agent
        .as_deref()
        .map(|agent| agent.chars().take(300).collect::<String>());
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at, client_address, user_agent) \
         VALUES ($1, $2, $3, $4, $3, $5, $6)",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(now)
    .bind(now.saturating_add(lifetime))
    .bind(&client.address)
    .bind(user_agent)
    .execute(&state.db.pool)
    .await?;
    Ok(token)
}

/// Deletes the session of `token`; returns the id of its user, or `None` when there was none.
pub async fn delete_session(db: &Db, token: &str) -> Result<Option<i64>> {
    let row = sqlx::query("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id")
        .bind(token_hash(token))
        .fetch_optional(&db.pool)
        .await?;
    Ok(match row {
        Some(row) => Some(row.try_get("user_id")?),
        None => None,
    })
}

/// `Set-Cookie` value that stores the session token in the browser.
pub fn session_cookie(token: &str, state: &AppState) -> String {
    let max_age = state.settings.session_lifetime().as_secs();
    let secure = if state.settings.secure_cookies() { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// `Set-Cookie` value that removes the session cookie.
pub fn expired_session_cookie(state: &AppState) -> String {
    let secure = if state.settings.secure_cookies() { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// Reads the session token from the request's cookies.
pub fn session_token(parts: &Parts) -> Option<String> {
    session_token_from_headers(&parts.headers)
}

pub fn session_token_from_headers(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|value| !value.is_empty())
}

/// Rejects a state-changing request that lacks the CSRF header.
pub fn require_csrf_header(parts: &Parts) -> Result<()> {
    if is_safe_method(&parts.method) || parts.headers.contains_key(CSRF_HEADER) {
        return Ok(());
    }
    Err(Error::Forbidden(
        "missing X-Requested-With header; state-changing requests must send it".to_string(),
    ))
}

/// Whether a request only reads or may change something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Read,
    Change,
}

/// Method by which a request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A login session cookie.
    Session,
    /// An API token in the `Authorization` header.
    Token,
}

/// The signed-in user of a request. Extracting it rejects requests without a valid session
/// or API token with 401, cookie requests that change something without the CSRF header
/// with 403, and token requests outside the token's scopes with 403.
#[derive(Debug, Clone)]
pub struct User {
    pub account: CurrentUser,
    pub intent: Intent,
    pub method: AuthMethod,
    /// Request path as the client sent it, before nested routers strip their prefix, for
    /// checks that depend on the part of a case being read.
    pub path: String,
    /// IP address of the client, for the audit log.
    pub client_address: Option<String>,
}

/// How often a session's last-seen time is written, at most; reads in between skip the write.
const LAST_SEEN_WRITE_INTERVAL_MILLIS: i64 = 60_000;

impl FromRequestParts<AppState> for User {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        // A handler may extract the user twice (directly and through `CaseRef`); the first
        // extraction is kept so that the session is looked up once.
        if let Some(user) = parts.extensions.get::<User>() {
            return Ok(user.clone());
        }
        let user = authenticate_request(parts, state).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

async fn authenticate_request(parts: &Parts, state: &AppState) -> Result<User> {
    {
        let intent = if is_safe_method(&parts.method) {
            Intent::Read
        } else {
            Intent::Change
        };
        if let Some(bearer) = crate::tokens::bearer_token(parts)? {
            let user = crate::tokens::authenticate(state, parts, &bearer).await?;
            return Ok(User {
                account: user,
                intent,
                method: AuthMethod::Token,
                path: original_path(parts),
                client_address: client_address(parts),
            });
        }

        let token = session_token(parts).ok_or(Error::Unauthorized)?;
        let now = now_millis();
        let idle = i64::try_from(state.settings.session_idle_timeout().as_millis()).unwrap_or(i64::MAX);
        let row = sqlx::query(
            "SELECT s.id AS session_id, s.last_seen_at, u.id, u.username, u.display_name, u.role, \
             CAST(CASE WHEN u.totp_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS totp_enabled \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled = 0",
        )
        .bind(token_hash(&token))
        .bind(now)
        .bind(now.saturating_sub(idle))
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(Error::Unauthorized)?;
        require_csrf_header(parts)?;

        let last_seen: i64 = row.try_get("last_seen_at")?;
        if now - last_seen > LAST_SEEN_WRITE_INTERVAL_MILLIS {
            let session_id: i64 = row.try_get("session_id")?;
            // The idle timeout only needs an approximate time, so a write that waits for a busy
            // database, such as SQLite during a large import, must not fail the request.
            let touched = sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
                .bind(now)
                .bind(session_id)
                .execute(&state.db.pool);
            match tokio::time::timeout(std::time::Duration::from_secs(2), touched).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::warn!(session = session_id, %error, "session last-seen time not written"),
                Err(_) => tracing::warn!(session = session_id, "session last-seen time not written: database busy"),
            }
        }
        Ok(User {
            account: user_from_row(&row)?,
            intent,
            method: AuthMethod::Session,
            path: original_path(parts),
            client_address: client_address(parts),
        })
    }
}

/// IP address of the TCP peer.
///
/// NOTE: behind a reverse proxy this is the proxy's address; Rekey does not read
/// X-Forwarded-For, because a client can set that header to anything.
pub fn client_address(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string())
}

fn original_path(parts: &Parts) -> String {
    match parts.extensions.get::<axum::extract::OriginalUri>() {
        Some(original) => original.path().to_string(),
        None => parts.uri.path().to_string(),
    }
}

pub fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl User {
    pub fn id(&self) -> i64 {
        self.account.id
    }

    pub fn role(&self) -> UserRole {
        self.account.role
    }

    /// Rejects requests made with an API token, for actions that only a person may take,
    /// such as managing tokens or passwords.
    pub fn require_session(&self) -> Result<()> {
        if self.method == AuthMethod::Token {
            return Err(Error::Forbidden(
                "API tokens cannot do this; sign in with a password".to_string(),
            ));
        }
        Ok(())
    }

    /// Rejects the request unless the user has one of `roles`.
    pub fn require_role(&self, roles: &[UserRole]) -> Result<()> {
        if roles.contains(&self.account.role) {
            return Ok(());
        }
        Err(Error::Forbidden(format!(
            "this action needs the role {}; yours is {}",
            roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or "),
            self.account.role.as_str()
        )))
    }
}

/// A signed-in administrator using a login session; extracting it rejects everyone else
/// with 403 before the request body is read.
pub struct Admin(pub User);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let user = User::from_request_parts(parts, state).await?;
        user.require_session()?;
        user.require_role(&[UserRole::Admin])?;
        if state.settings.require_totp_for_admins && !user.account.totp_enabled {
            return Err(Error::Forbidden(
                "administrators must enable two-factor authentication first \
                 (POST /api/v1/account/totp/setup, then /enable)"
                    .to_string(),
            ));
        }
        Ok(Admin(user))
    }
}

/// A signed-in user whose role may open cases; others get 403 before the body is read.
pub struct CaseCreator(pub User);

impl FromRequestParts<AppState> for CaseCreator {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let user = User::from_request_parts(parts, state).await?;
        if !user.role().can_create_cases() {
            return Err(Error::Forbidden(format!(
                "users with the role {} cannot open cases",
                user.role().as_str()
            )));
        }
        Ok(CaseCreator(user))
    }
}

/// Ends every session of a user, except `keep` when given.
pub async fn end_sessions(db: &Db, user_id: i64, keep: Option<i64>) -> Result<u64> {
    let result = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or(-1))
        .execute(&db.pool)
        .await?;
    Ok(result.rows_affected())
}

/// Creates a user with a hashed password. Fails with 409 when the username is taken.
pub async fn create_user(
    db: &Db,
    username: &str,
    display_name: &str,
    email: Option<&str>,
    role: UserRole,
    password: &str,
) -> Result<i64> {
    validate_username(username)?;
    validate_new_password(password)?;
    let hash = hash_password(password.to_string()).await?;
    let inserted = sqlx::query(
        "INSERT INTO users (username, display_name, email, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(username)
    .bind(display_name)
    .bind(email)
    .bind(role.as_str())
    .bind(hash)
    .bind(now_millis())
    .fetch_one(&db.pool)
    .await;
    match inserted {
        Ok(row) => Ok(row.try_get("id")?),
        Err(e) if crate::db::is_unique_violation(&e) => Err(Error::conflict(
            "username",
            format!("username '{username}' is taken; choose another"),
        )),
        Err(e) => Err(e.into()),
    }
}

fn validate_username(username: &str) -> Result<()> {
    let valid = !username.is_empty()
        && username.len() <= 64
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !valid {
        return Err(Error::invalid(
            "username",
            format!("'{username}' is not a valid username; use 1 to 64 letters, digits, '.', '_', '-' or '@'"),
        ));
    }
    Ok(())
}

/// Minimum password length, as NIST SP 800-63B recommends for single-factor passwords.
pub const MIN_PASSWORD_CHARS: usize = 12;

pub fn validate_new_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password",
            format!("password is too short; use at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if is_common_password(password) {
        return Err(Error::invalid(
            "password",
            "password is among the most common passwords; choose one that is hard to guess, \
             such as several unrelated words",
        ));
    }
    Ok(())
}

static COMMON_PASSWORDS_TEXT: &str = include_str!("common_passwords.txt");

fn common_passwords() -> &'static std::collections::HashSet<&'static str> {
    static SET: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS_TEXT
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .collect()
    })
}

/// Tells whether a password is a common one, ignoring case, also with digits or symbols
/// appended (`Password2024!` counts as `password`), or one character repeated.
pub fn is_common_password(password: &str) -> bool {
    let lower = password.to_lowercase();
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    let mut chars = lower.chars();
    let first = chars.next();
    let one_character = first.is_some() && chars.all(|c| Some(c) == first);
    let list = common_passwords();
    one_character || list.contains(lower.as_str()) || (stem.len() >= 4 && list.contains(stem))
}

/// Random password for a new account, printed once.
pub fn generate_password() -> String {
    let mut bytes = [0u8; 15];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn password_hash_round_trip() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_password("correct horse battery".into(), hash.clone()).await.unwrap());
        assert!(!verify_password("wrong horse battery".into(), hash).await.unwrap());
    }

    #[test]
    fn session_tokens_differ() {
        let first = new_session_token();
        let second = new_session_token();
        assert_ne!(first, second);
        assert_eq!(first.len(), 43);
    }

    #[test]
    fn common_passwords_rejected() {
        for password in ["qwertyuiop123", "Password2024!", "123qweasdzxc", "aaaaaaaaaaaaaaa", "1q2w3e4r5t6y"] {
            assert!(is_common_password(password), "{password}");
            assert!(validate_new_password(password).is_err(), "{password}");
        }
        assert!(!is_common_password("violet staple orbit canoe"));
    }

    #[test]
    fn old_parameters_need_rehash() {
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8_192, 1, 1, None).unwrap());
        let salt = SaltString::generate(&mut OsRng);
        let old = weak.hash_password(b"some password", &salt).unwrap().to_string();
        assert!(needs_rehash(&old));
        let current = argon2().hash_password(b"some password", &salt).unwrap().to_string();
        assert!(!needs_rehash(&current));
    }

    #[test]
    fn short_password_rejected() {
        assert!(validate_new_password("short").is_err());
        assert!(validate_new_password("long enough password").is_ok());
    }
}
