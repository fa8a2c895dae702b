//! Who may see and change what: case membership, roles, sessions and login throttling.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{expect_status, spawn_app, Backend, Session, ADMIN_PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    non_member_gets_not_found,
    viewer_reads_but_cannot_change,
    manager_reads_unrestricted_only,
    only_leads_manage_members,
    last_lead_cannot_leave,
    user_admin_is_admin_only,
    disabling_user_ends_sessions,
    password_change_ends_other_sessions,
    sessions_listed_and_ended,
    failed_logins_throttled,
);

/// Every case route, read with GET, for case 1.
const CASE_READ_PATHS: &[&str] = &[
    "/api/v1/cases/1",
    "/api/v1/cases/1/credentials",
    "/api/v1/cases/1/imports",
    "/api/v1/cases/1/findings",
    "/api/v1/cases/1/stakeholders",
    "/api/v1/cases/1/notifications",
    "/api/v1/cases/1/members",
];

async fn add_member(app: &crate::helpers::TestApp, username: &str, role: &str) {
    let body = json!({"username": username, "role": role});
    expect_status(app.post("/api/v1/cases/1/members", &body).await, StatusCode::CREATED).await;
}

async fn case_count(session: &Session) -> usize {
    let cases = expect_status(session.get("/api/v1/cases").await, StatusCode::OK).await;
    cases.as_array().unwrap().len()
}

async fn non_member_gets_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    app.create_case("2023-07-10T12:20:00Z").await;
    let outsider = app.user_session("outsider", "analyst").await;

    assert_eq!(case_count(&outsider).await, 0);
    for path in CASE_READ_PATHS {
        let response = outsider.get(path).await;
        let body = expect_status(response, StatusCode::NOT_FOUND).await;
        let missing = expect_status(outsider.get(&path.replace("/cases/1", "/cases/999")).await, StatusCode::NOT_FOUND).await;
        assert_eq!(body, missing, "{path}: a hidden case must look like a missing one");
    }
    let changes = [
        ("/api/v1/cases/1/phase", json!({"phase": "containment", "force": true, "reason": "moving on for the test"})),
        ("/api/v1/cases/1/credentials", json!({"kind": "access_key", "access_key_id": "AKIATFQR7NSC8Q4X20BJ"})),
        ("/api/v1/cases/1/stakeholders", json!({"name": "X", "email": "x@example.com", "role": "legal"})),
        ("/api/v1/cases/1/members", json!({"username": "outsider", "role": "lead"})),
    ];
    for (path, body) in changes {
        let status = outsider.post(path, &body).await.status();
        assert_eq!(status, StatusCode::NOT_FOUND, "POST {path}");
    }
    let upload = outsider
        .request(Method::POST, "/api/v1/cases/1/imports")
        .multipart(reqwest::multipart::Form::new().part("files", reqwest::multipart::Part::bytes(b"{}".to_vec())))
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::NOT_FOUND, "upload to a hidden case");
}

async fn viewer_reads_but_cannot_change(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    app.create_case("2023-07-10T12:20:00Z").await;
    let viewer = app.user_session("viewer", "analyst").await;
    add_member(&app, "viewer", "viewer").await;

    assert_eq!(case_count(&viewer).await, 1);
    for path in CASE_READ_PATHS {
        expect_status(viewer.get(path).await, StatusCode::OK).await;
    }
    let case = expect_status(viewer.get("/api/v1/cases/1").await, StatusCode::OK).await;
    assert_eq!(case["my_role"], "viewer");
    let response = viewer.post("/api/v1/cases/1/phase", &json!({"phase": "containment", "force": true, "reason": "moving on for the test"})).await;
    let error = expect_status(response, StatusCode::FORBIDDEN).await;
    assert!(error["error"]["message"].as_str().unwrap().contains("read-only"));

    // An analyst writes, but moving on past open tasks takes a lead.
    add_member(&app, "viewer", "analyst").await;
    let response = viewer.post("/api/v1/cases/1/phase", &json!({"phase": "containment", "force": true, "reason": "moving on for the test"})).await;
    let error = expect_status(response, StatusCode::FORBIDDEN).await;
    assert!(error["error"]["message"].as_str().unwrap().contains("only a lead"), "{error}");
    add_member(&app, "viewer", "lead").await;
    let response = viewer.post("/api/v1/cases/1/phase", &json!({"phase": "containment", "force": true, "reason": "moving on for the test"})).await;
    expect_status(response, StatusCode::OK).await;
}

async fn manager_reads_unrestricted_only(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    app.create_case("2023-07-10T12:20:00Z").await;
    let body = json!({"title": "Board member's key", "severity": "P1", "detection_source": "other", "restricted": true});
    let restricted = expect_status(app.post("/api/v1/cases", &body).await, StatusCode::CREATED).await;
    assert_eq!(restricted["restricted"], true);
    let manager = app.user_session("manager", "manager").await;

    let cases = expect_status(manager.get("/api/v1/cases").await, StatusCode::OK).await;
    let numbers: Vec<i64> = cases.as_array().unwrap().iter().map(|c| c["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [1], "the restricted case is not listed");
    assert_eq!(cases[0]["my_role"], serde_json::Value::Null);
    expect_status(manager.get("/api/v1/cases/1/findings").await, StatusCode::OK).await;
    expect_status(manager.get("/api/v1/cases/2").await, StatusCode::NOT_FOUND).await;
    let change = manager.post("/api/v1/cases/1/phase", &json!({"phase": "containment", "force": true, "reason": "moving on for the test"})).await;
    expect_status(change, StatusCode::FORBIDDEN).await;
    let create = manager.post("/api/v1/cases", &json!({"title": "t", "severity": "P4", "detection_source": "other"})).await;
    expect_status(create, StatusCode::FORBIDDEN).await;
}

async fn only_leads_manage_members(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let lead = app.user_session("lead", "incident_lead").await;
    let analyst = app.user_session("analyst", "analyst").await;
    let body = json!({"title": "t", "severity": "P2", "detection_source": "other"});
    expect_status(lead.post("/api/v1/cases", &body).await, StatusCode::CREATED).await;

    // The admin did not create the case: no access to its content, but may manage members.
    assert_eq!(expect_status(app.get("/api/v1/cases").await, StatusCode::OK).await.as_array().unwrap().len(), 0);
    expect_status(app.get("/api/v1/cases/1").await, StatusCode::NOT_FOUND).await;
    add_member(&app, "analyst", "analyst").await;

    let response = analyst.post("/api/v1/cases/1/members", &json!({"username": "admin", "role": "lead"})).await;
    expect_status(response, StatusCode::FORBIDDEN).await;
    let response = lead.post("/api/v1/cases/1/members", &json!({"username": "nobody", "role": "viewer"})).await;
    let error = expect_status(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "username");
    let members = expect_status(analyst.get("/api/v1/cases/1/members").await, StatusCode::OK).await;
    assert_eq!(members.as_array().unwrap().len(), 2);
}

async fn last_lead_cannot_leave(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    app.create_case("2023-07-10T12:20:00Z").await;
    let response = app.request(Method::DELETE, "/api/v1/cases/1/members/1").send().await.unwrap();
    let error = expect_status(response, StatusCode::CONFLICT).await;
    assert!(error["error"]["message"].as_str().unwrap().contains("at least one lead"));
    let response = app.post("/api/v1/cases/1/members", &json!({"username": "admin", "role": "analyst"})).await;
    expect_status(response, StatusCode::CONFLICT).await;
    let members = app.get_json("/api/v1/cases/1/members").await;
    assert_eq!(members[0]["role"], "lead", "a rejected change leaves the membership as it was");
}

async fn user_admin_is_admin_only(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let analyst = app.user_session("analyst", "analyst").await;
    expect_status(analyst.get("/api/v1/users").await, StatusCode::FORBIDDEN).await;
    let body = json!({"username": "sneaky", "role": "admin", "password": "a long enough password"});
    expect_status(analyst.post("/api/v1/users", &body).await, StatusCode::FORBIDDEN).await;

    let generated = app.post("/api/v1/users", &json!({"username": "newbie", "role": "analyst"})).await;
    let generated = expect_status(generated, StatusCode::CREATED).await;
    let password = generated["generated_password"].as_str().unwrap().to_string();
    assert!(password.len() >= 12);
    app.session_for("newbie", &password).await;

    let short = app.post("/api/v1/users", &json!({"username": "weak", "role": "analyst", "password": "short"})).await;
    let error = expect_status(short, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "password");
    let taken = app.post("/api/v1/users", &json!({"username": "newbie", "role": "analyst"})).await;
    expect_status(taken, StatusCode::CONFLICT).await;
    let users = app.get_json("/api/v1/users").await;
    assert_eq!(users.as_array().unwrap().len(), 3);
    assert!(users.to_string().find("password_hash").is_none());
}

async fn disabling_user_ends_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let analyst = app.user_session("analyst", "analyst").await;
    expect_status(analyst.get("/api/v1/session").await, StatusCode::OK).await;
    let users = app.get_json("/api/v1/users").await;
    let id = users.as_array().unwrap().iter().find(|u| u["username"] == "analyst").unwrap()["id"].as_i64().unwrap();

    let response = app
        .request(Method::PATCH, &format!("/api/v1/users/{id}"))
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    let updated = expect_status(response, StatusCode::OK).await;
    assert_eq!(updated["disabled"], true);
    expect_status(analyst.get("/api/v1/session").await, StatusCode::UNAUTHORIZED).await;
    let login = analyst
        .post("/api/v1/session", &json!({"username": "analyst", "password": "analyst password for tests"}))
        .await;
    expect_status(login, StatusCode::UNAUTHORIZED).await;

    let response = app
        .request(Method::PATCH, "/api/v1/users/1")
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::UNPROCESSABLE_ENTITY).await;
}

async fn password_change_ends_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let other = app.session_for("admin", ADMIN_PASSWORD).await;
    let wrong = app
        .post("/api/v1/account/password", &json!({"current_password": "wrong", "new_password": "a brand new password"}))
        .await;
    let error = expect_status(wrong, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "current_password");
    let short = app
        .post("/api/v1/account/password", &json!({"current_password": ADMIN_PASSWORD, "new_password": "short"}))
        .await;
    let error = expect_status(short, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "new_password");

    let changed = app
        .post("/api/v1/account/password", &json!({"current_password": ADMIN_PASSWORD, "new_password": "a brand new password"}))
        .await;
    expect_status(changed, StatusCode::NO_CONTENT).await;
    expect_status(app.get("/api/v1/session").await, StatusCode::OK).await;
    expect_status(other.get("/api/v1/session").await, StatusCode::UNAUTHORIZED).await;
    app.session_for("admin", "a brand new password").await;
}

async fn sessions_listed_and_ended(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let other = app.session_for("admin", ADMIN_PASSWORD).await;
    let sessions = app.get_json("/api/v1/account/sessions").await;
    let sessions = sessions.as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(sessions[0]["client_address"], "127.0.0.1");
    let other_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_i64().unwrap();

    let response = app
        .request(Method::DELETE, &format!("/api/v1/account/sessions/{other_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_status(other.get("/api/v1/session").await, StatusCode::UNAUTHORIZED).await;

    let analyst = app.user_session("analyst", "analyst").await;
    let mine = app.get_json("/api/v1/account/sessions").await;
    let my_id = mine[0]["id"].as_i64().unwrap();
    let response = analyst
        .request(Method::DELETE, &format!("/api/v1/account/sessions/{my_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "another user's session");
}

async fn failed_logins_throttled(backend: Backend) {
    let app = spawn_app(backend).await;
    for _ in 0..5 {
        let response = app.post("/api/v1/session", &json!({"username": "admin", "password": "guess"})).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // After five failures even the right password waits, so guessing cannot go on at speed.
    let response = app
        .post("/api/v1/session", &json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
}
