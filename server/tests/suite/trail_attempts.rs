//! Failed calls in a trail import: findings marked as attempts.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_status, spawn_app, Backend};
use crate::on_both_backends;
use crate::trail_fixtures::{event, records_file, COMPROMISE_TIME, LEAKED_KEY};

on_both_backends!(failed_calls_are_attempts);

async fn failed_calls_are_attempts(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;

    let mut denied_create = event("e-denied-create", "2024-03-01T10:01:00Z", "CreateUser", LEAKED_KEY);
    denied_create["errorCode"] = json!("AccessDenied");
    let mut denied_list = event("e-denied-list", "2024-03-01T10:02:00Z", "ListUsers", LEAKED_KEY);
    denied_list["errorCode"] = json!("AccessDenied");
    let events = [
        event("e-create", "2024-03-01T10:00:00Z", "CreateUser", LEAKED_KEY),
        denied_create,
        denied_list,
        event("e-list", "2024-03-01T10:03:00Z", "ListUsers", LEAKED_KEY),
    ];
    let import = app.upload(case, &[("trail.json", records_file(&events))]).await;
    let import = expect_status(import, StatusCode::CREATED).await;
    assert_eq!(import["events_matched"], 4);
    assert_eq!(import["findings_new"], 3, "the successful ListUsers is not a finding");

    let findings = app.get_json(&format!("/api/v1/cases/{case}/findings")).await;
    let findings = findings.as_array().unwrap();
    let ids: Vec<&str> = findings.iter().map(|f| f["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["e-create", "e-denied-create", "e-denied-list"]);

    assert_eq!(findings[0]["attempt"], false);
    assert_eq!(findings[1]["attempt"], true);
    assert_eq!(findings[1]["rule"], "user-creation");
    assert_eq!(findings[1]["category"], "credential_creation");
    assert_eq!(findings[2]["attempt"], true);
    assert_eq!(findings[2]["error_code"], "AccessDenied");
    assert_eq!(findings[2]["rule"], "failed-call");
    assert_eq!(findings[2]["category"], "reconnaissance");
}
