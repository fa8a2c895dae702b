//! Stakeholder invitations: single use, expiry, and the sections the stakeholder can then read.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{expect_status, new_client, spawn_app, Backend, Session, TestApp};
use crate::on_both_backends;

on_both_backends!(
    invitation_accepted_once,
    invitation_expires,
    stakeholder_sees_shared_sections_only,
    invitation_input_checked,
);

/// Invites a stakeholder to case 1 and returns the token from the link.
async fn invite(app: &TestApp, sections: &[&str]) -> String {
    let body = json!({"name": "Dana Counsel", "email": "dana@example.com", "sections": sections});
    let invitation = expect_status(app.post("/api/v1/cases/1/invitations", &body).await, StatusCode::CREATED).await;
    let link = invitation["link"].as_str().unwrap();
    assert!(link.starts_with("http://rekey.test/invitations/"), "{link}");
    link.rsplit('/').next().unwrap().to_string()
}

async fn accept(app: &TestApp, token: &str, username: &str) -> (StatusCode, Session) {
    let session = Session {
        base: app.base.clone(),
        client: new_client(),
    };
    let body = json!({"username": username, "password": "dana's long password"});
    let response = session.post(&format!("/api/v1/invitations/{token}/accept"), &body).await;
    (response.status(), session)
}

async fn invitation_accepted_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    app.create_case("2023-07-10T12:20:00Z").await;
    let token = invite(&app, &[]).await;

    let preview = expect_status(app.get(&format!("/api/v1/invitations/{token}")).await, StatusCode::OK).await;
    assert_eq!(preview["case_reference"], "RK-1");
    assert_eq!(preview["email"], "dana@example.com");

    let (status, dana) = accept(&app, &token, "dana").await;
    assert_eq!(status, StatusCode::OK);
    let me = expect_status(dana.get("/api/v1/session").await, StatusCode::OK).await;
    assert_eq!(me["role"], "stakeholder");

    let (again, _) = accept(&app, &token, "dana2").await;
    assert_eq!(again, StatusCode::NOT_FOUND, "the link works once");
    expect_status(app.get(&format!("/api/v1/invitations/{token}")).await, StatusCode::NOT_FOUND).await;

    let queued = app.get_json("/api/v1/cases/1/notifications").await;
    let subject = queued[0]["subject"].as_str().unwrap();
    assert!(subject.contains("Invitation"), "{subject}");
}

async fn invitation_expires(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    app.create_case("2023-07-10T12:20:00Z").await;
    let token = invite(&app, &[]).await;
    sqlx::query("UPDATE case_invitations SET expires_at = 1")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let (status, _) = accept(&app, &token, "dana").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = accept(&app, "not-a-token", "dana").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn stakeholder_sees_shared_sections_only(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    app.create_case("2023-07-10T12:20:00Z").await;
    app.add_access_key(1, "AKIATFQR7NSC8Q4X20BJ").await;
    app.create_case("2023-07-10T12:20:00Z").await;
    let token = invite(&app, &["notifications"]).await;
    let (status, dana) = accept(&app, &token, "dana").await;
    assert_eq!(status, StatusCode::OK);

    let cases = expect_status(dana.get("/api/v1/cases").await, StatusCode::OK).await;
    assert_eq!(cases.as_array().unwrap().len(), 1, "only the case of the invitation");
    assert_eq!(cases[0]["credential_count"], 0, "counts of unshared sections stay hidden");
    let overview = expect_status(dana.get("/api/v1/cases/1").await, StatusCode::OK).await;
    assert_eq!(overview["credential_count"], 0);
    assert_eq!(overview["shared_sections"], json!(["notifications"]));
    let lead_view = app.get_json("/api/v1/cases/1").await;
    assert_eq!(lead_view["credential_count"], 1);
    expect_status(dana.get("/api/v1/cases/1/notifications").await, StatusCode::OK).await;
    for path in ["/api/v1/cases/1/findings", "/api/v1/cases/1/imports", "/api/v1/cases/1/credentials", "/api/v1/cases/2"] {
        expect_status(dana.get(path).await, StatusCode::NOT_FOUND).await;
    }
    let change = dana.post("/api/v1/cases/1/phase", &json!({"phase": "containment", "force": true, "reason": "moving on for the test"})).await;
    assert_ne!(change.status(), StatusCode::OK);
    let create = dana.post("/api/v1/cases", &json!({"title": "t", "severity": "P4", "detection_source": "other"})).await;
    expect_status(create, StatusCode::FORBIDDEN).await;

    // Making the stakeholder an analyst is not possible: stakeholders stay viewers.
    let promote = app.post("/api/v1/cases/1/members", &json!({"username": "dana", "role": "analyst"})).await;
    expect_status(promote, StatusCode::UNPROCESSABLE_ENTITY).await;
}

async fn invitation_input_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    app.create_case("2023-07-10T12:20:00Z").await;
    let cases = [
        ("email", json!({"name": "D", "email": "not-an-address"})),
        ("sections", json!({"name": "D", "email": "d@example.com", "sections": ["evidence-of-everything"]})),
        ("expires_in_hours", json!({"name": "D", "email": "d@example.com", "expires_in_hours": 0})),
        ("name", json!({"name": " ", "email": "d@example.com"})),
    ];
    for (field, body) in cases {
        let error = expect_status(app.post("/api/v1/cases/1/invitations", &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    let analyst = app.user_session("analyst", "analyst").await;
    let body = json!({"username": "analyst", "role": "analyst"});
    expect_status(app.post("/api/v1/cases/1/members", &body).await, StatusCode::CREATED).await;
    let body = json!({"name": "D", "email": "d@example.com"});
    expect_status(analyst.post("/api/v1/cases/1/invitations", &body).await, StatusCode::FORBIDDEN).await;
    let listed = app.request(Method::GET, "/api/v1/cases/1/invitations").send().await.unwrap();
    let listed = expect_status(listed, StatusCode::OK).await;
    assert_eq!(listed.as_array().unwrap().len(), 0);
}
