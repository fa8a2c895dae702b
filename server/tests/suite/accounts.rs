//! Login, sessions and the checks every route makes.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{expect_status, spawn_app, Backend, ADMIN_PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    login_sets_session_cookie,
    failed_login_is_generic,
    logout_ends_session,
    routes_require_login,
    state_change_requires_csrf_header,
    session_token_stored_hashed,
    login_upgrades_old_hash,
    common_password_rejected,
    session_expiry_and_idle_timeout,
);

async fn login_sets_session_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .post("/api/v1/session", &json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .await;
    let cookie = response
        .headers()
        .get("set-cookie")
        .expect("login sets a cookie")
        .to_str()
        .unwrap()
        .to_string();
    let user = expect_status(response, StatusCode::OK).await;
    assert_eq!(user["username"], "admin");
    assert_eq!(user["role"], "admin");
    assert!(cookie.starts_with("rekey_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http must not set Secure: {cookie}");

    let me = app.get_json("/api/v1/session").await;
    assert_eq!(me["username"], "admin");
}

async fn failed_login_is_generic(backend: Backend) {
    let app = spawn_app(backend).await;
    let wrong_password = app
        .post("/api/v1/session", &json!({"username": "admin", "password": "not the password"}))
        .await;
    let wrong_password = expect_status(wrong_password, StatusCode::UNAUTHORIZED).await;
    let unknown_user = app
        .post("/api/v1/session", &json!({"username": "nobody", "password": "not the password"}))
        .await;
    let unknown_user = expect_status(unknown_user, StatusCode::UNAUTHORIZED).await;
    assert_eq!(wrong_password, unknown_user);
    assert_eq!(wrong_password["error"]["message"], "invalid username or password");
}

async fn logout_ends_session(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let response = app.request(Method::DELETE, "/api/v1/session").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.get("/api/v1/cases").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn routes_require_login(backend: Backend) {
    let app = spawn_app(backend).await;
    let paths = [
        "/api/v1/cases",
        "/api/v1/session",
        "/api/v1/cases/1",
        "/api/v1/cases/1/credentials",
        "/api/v1/cases/1/imports",
        "/api/v1/cases/1/findings",
        "/api/v1/cases/1/stakeholders",
        "/api/v1/cases/1/notifications",
    ];
    for path in paths {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "GET {path}");
    }
    let response = app.post("/api/v1/cases", &json!({})).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "POST /api/v1/cases");

    let status = app.get_json("/api/v1/status").await;
    assert_eq!(status["mail_configured"], false);
}

async fn state_change_requires_csrf_header(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let body = json!({"title": "t", "severity": "P1", "detection_source": "other"});
    let response = app
        .client
        .post(format!("{}/api/v1/cases", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    let error = expect_status(response, StatusCode::FORBIDDEN).await;
    assert!(error["error"]["message"].as_str().unwrap().contains("X-Requested-With"));

    let login = app
        .client
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::FORBIDDEN, "login without the header");
}

async fn session_token_stored_hashed(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .post("/api/v1/session", &json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("rekey_session=")
        .to_string();
    let stored: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM sessions")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].0, token);
    assert_eq!(stored[0].0, rekey::auth::token_hash(&token));
}

async fn login_upgrades_old_hash(backend: Backend) {
    let app = spawn_app(backend).await;
    // The hash of ADMIN_PASSWORD with weaker argon2id parameters.
    let salt = "somesaltsomesalt";
    let hash = {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let params = argon2::Params::new(8192, 1, 1, None).unwrap();
        let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(salt.as_bytes()).unwrap();
        hasher.hash_password(ADMIN_PASSWORD.as_bytes(), &salt).unwrap().to_string()
    };
    assert!(hash.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{hash}");
    sqlx::query("UPDATE users SET password_hash = $1 WHERE username = 'admin'")
        .bind(&hash)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    app.login_admin().await;
    let stored: Vec<(String,)> = sqlx::query_as("SELECT password_hash FROM users WHERE username = 'admin'")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert!(stored[0].0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", stored[0].0);
    app.login_admin().await;
}

async fn common_password_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let body = json!({"username": "weak", "role": "analyst", "password": "Qwertyuiop123!"});
    let error = expect_status(app.post("/api/v1/users", &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "password");
    assert!(error["error"]["message"].as_str().unwrap().contains("most common passwords"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_rotates_session_token() {
    let app = spawn_app(Backend::Sqlite).await;
    app.login_admin().await;
    let first: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM sessions")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    app.login_admin().await;
    let second: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM sessions")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(second.len(), 1, "the session sent with the login ended");
    assert_ne!(first[0].0, second[0].0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_present() {
    let app = spawn_app(Backend::Sqlite).await;
    for path in ["/api/v1/status", "/login", "/api/v1/cases"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(!headers.contains_key("strict-transport-security"), "no HSTS over plain http");
    }

    let https = crate::helpers::spawn_app_with(Backend::Sqlite, |settings| {
        settings.public_url = "https://rekey.example.com".to_string();
    })
    .await;
    let response = https
        .post("/api/v1/session", &json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .await;
    assert!(response.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
    assert!(response.headers()["set-cookie"].to_str().unwrap().contains("Secure"));
}

async fn session_expiry_and_idle_timeout(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    expect_status(app.get("/api/v1/session").await, StatusCode::OK).await;
    sqlx::query("UPDATE sessions SET expires_at = 1")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    expect_status(app.get("/api/v1/session").await, StatusCode::UNAUTHORIZED).await;

    app.login_admin().await;
    expect_status(app.get("/api/v1/session").await, StatusCode::OK).await;
    // Last seen long ago: past the idle timeout, though the absolute lifetime is not over.
    sqlx::query("UPDATE sessions SET last_seen_at = 1")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    expect_status(app.get("/api/v1/session").await, StatusCode::UNAUTHORIZED).await;
}
