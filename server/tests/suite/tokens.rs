//! API tokens: scopes, revocation, expiry, and no fallback to cookies.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_status, new_client, spawn_app, Backend, TestApp};
use crate::on_both_backends;
use crate::trail_fixtures::{records_file, standard_events, LEAKED_KEY};

on_both_backends!(
    token_scopes_limit_requests,
    token_revoked_or_expired_rejected,
    token_never_falls_back_to_cookie,
    token_cannot_manage_tokens,
);

async fn create_token(app: &TestApp, scopes: &[&str]) -> (i64, String) {
    let body = json!({"name": "alerting pipeline", "scopes": scopes, "expires_in_days": 30});
    let created = expect_status(app.post("/api/v1/account/tokens", &body).await, StatusCode::CREATED).await;
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("rk_"));
    (created["token"]["id"].as_i64().unwrap(), secret)
}

/// Sends a request with only the bearer token: no cookie, no CSRF header.
async fn with_token(app: &TestApp, secret: &str, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = new_client()
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(secret);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn token_scopes_limit_requests(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case("2024-03-01T10:00:00Z").await;
    app.add_access_key(case, LEAKED_KEY).await;
    let (_, reader) = create_token(&app, &["read"]).await;
    let (_, importer) = create_token(&app, &["import"]).await;
    let (_, writer) = create_token(&app, &["read", "write"]).await;

    expect_status(with_token(&app, &reader, Method::GET, "/api/v1/cases", None).await, StatusCode::OK).await;
    let new_case = json!({"title": "from automation", "severity": "P3", "detection_source": "cloud_alert"});
    let denied = with_token(&app, &reader, Method::POST, "/api/v1/cases", Some(new_case.clone())).await;
    let error = expect_status(denied, StatusCode::FORBIDDEN).await;
    assert!(error["error"]["message"].as_str().unwrap().contains("scope write"));
    expect_status(with_token(&app, &writer, Method::POST, "/api/v1/cases", Some(new_case)).await, StatusCode::CREATED).await;

    let form = || {
        let part = reqwest::multipart::Part::bytes(records_file(&standard_events())).file_name("t.json");
        reqwest::multipart::Form::new().part("files", part)
    };
    let upload = new_client()
        .post(format!("{}/api/v1/cases/{case}/imports", app.base))
        .bearer_auth(&importer)
        .multipart(form())
        .send()
        .await
        .unwrap();
    expect_status(upload, StatusCode::CREATED).await;
    let other_change = with_token(&app, &importer, Method::POST, &format!("/api/v1/cases/{case}/phase"), Some(json!({"phase": "containment", "force": true, "reason": "moving on for the test"}))).await;
    expect_status(other_change, StatusCode::FORBIDDEN).await;
    let read_with_import = with_token(&app, &importer, Method::GET, "/api/v1/cases", None).await;
    expect_status(read_with_import, StatusCode::FORBIDDEN).await;
}

async fn token_revoked_or_expired_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let (id, secret) = create_token(&app, &["read"]).await;
    let (expiring_id, expiring) = create_token(&app, &["read"]).await;
    expect_status(with_token(&app, &secret, Method::GET, "/api/v1/cases", None).await, StatusCode::OK).await;

    let revoke = app.request(Method::DELETE, &format!("/api/v1/account/tokens/{id}")).send().await.unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    expect_status(with_token(&app, &secret, Method::GET, "/api/v1/cases", None).await, StatusCode::UNAUTHORIZED).await;

    sqlx::query("UPDATE api_tokens SET expires_at = 1 WHERE id = $1")
        .bind(expiring_id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    expect_status(with_token(&app, &expiring, Method::GET, "/api/v1/cases", None).await, StatusCode::UNAUTHORIZED).await;

    let listed = app.get_json("/api/v1/account/tokens").await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|t| t["revoked"] == true));
    assert!(!listed.iter().any(|t| t.to_string().contains(&secret)), "secrets are shown only once");
}

async fn token_never_falls_back_to_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    // The signed-in cookie jar plus a wrong token: the token decides, so the request fails.
    let response = app
        .request(Method::GET, "/api/v1/cases")
        .bearer_auth("rk_not-a-real-token")
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::UNAUTHORIZED).await;
    let response = app
        .request(Method::GET, "/api/v1/cases")
        .header("Authorization", "Basic YWRtaW46eA==")
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::UNAUTHORIZED).await;
}

async fn token_cannot_manage_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let (_, secret) = create_token(&app, &["read", "write"]).await;
    let body = json!({"name": "escalation", "scopes": ["write"]});
    let response = with_token(&app, &secret, Method::POST, "/api/v1/account/tokens", Some(body)).await;
    expect_status(response, StatusCode::FORBIDDEN).await;
    let response = with_token(&app, &secret, Method::GET, "/api/v1/users", None).await;
    expect_status(response, StatusCode::FORBIDDEN).await;

    let invalid = app.post("/api/v1/account/tokens", &json!({"name": "x", "scopes": []})).await;
    let error = expect_status(invalid, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "scopes");
    let invalid = app
        .post("/api/v1/account/tokens", &json!({"name": "x", "scopes": ["read"], "expires_in_days": 9999}))
        .await;
    let error = expect_status(invalid, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "expires_in_days");
}
