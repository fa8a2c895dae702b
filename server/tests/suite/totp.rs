//! Two-factor authentication with one-time codes.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_status, new_client, spawn_app, spawn_app_with, Backend, Session, TestApp, ADMIN_PASSWORD};
use crate::on_both_backends;

on_both_backends!(totp_login_needs_code, totp_required_for_admins);

fn step_now() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    rekey::totp::current_step(now)
}

/// Enables two-factor authentication for the signed-in admin; returns the secret and the
/// time step of the code used.
async fn enable_totp(app: &TestApp) -> (String, u64) {
    let setup = expect_status(app.post("/api/v1/account/totp/setup", &json!({})).await, StatusCode::OK).await;
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(setup["uri"].as_str().unwrap().starts_with("otpauth://totp/Rekey:admin?secret="));
    let wrong = app.post("/api/v1/account/totp/enable", &json!({"code": "000000"})).await;
    let error = expect_status(wrong, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "code");
    let step = step_now();
    let code = rekey::totp::code_at(&secret, step).unwrap();
    let enabled = app.post("/api/v1/account/totp/enable", &json!({"code": code})).await;
    expect_status(enabled, StatusCode::NO_CONTENT).await;
    (secret, step)
}

async fn login(app: &TestApp, code: Option<String>) -> (StatusCode, serde_json::Value) {
    let session = Session {
        base: app.base.clone(),
        client: new_client(),
    };
    let body = json!({"username": "admin", "password": ADMIN_PASSWORD, "totp_code": code});
    let response = session.post("/api/v1/session", &body).await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn totp_login_needs_code(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let (secret, used_step) = enable_totp(&app).await;
    // A session alone cannot swap the enrolled app for another one.
    let again = app.post("/api/v1/account/totp/setup", &json!({})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let me = app.get_json("/api/v1/session").await;
    assert_eq!(me["totp_enabled"], true);

    let (status, body) = login(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "totp_required");
    let (status, body) = login(&app, Some("123456".into())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["message"], "invalid username or password");

    let (status, _) = login(&app, Some(rekey::totp::code_at(&secret, used_step).unwrap())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the code used to enable cannot log in again");
    let next = rekey::totp::code_at(&secret, used_step + 1).unwrap();
    let (status, body) = login(&app, Some(next.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = login(&app, Some(next)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a code works once");

    let wrong = app.post("/api/v1/account/totp/disable", &json!({"current_password": "not it"})).await;
    expect_status(wrong, StatusCode::UNPROCESSABLE_ENTITY).await;
    let disabled = app.post("/api/v1/account/totp/disable", &json!({"current_password": ADMIN_PASSWORD})).await;
    expect_status(disabled, StatusCode::NO_CONTENT).await;
    let (status, _) = login(&app, None).await;
    assert_eq!(status, StatusCode::OK);
}

async fn totp_required_for_admins(backend: Backend) {
    let app = spawn_app_with(backend, |settings| settings.require_totp_for_admins = true).await;
    app.login_admin().await;
    let error = expect_status(app.get("/api/v1/users").await, StatusCode::FORBIDDEN).await;
    assert!(error["error"]["message"].as_str().unwrap().contains("two-factor"));
    enable_totp(&app).await;
    expect_status(app.get("/api/v1/users").await, StatusCode::OK).await;
}
