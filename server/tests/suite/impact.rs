//! Impact records, affected resources and recovery actions through the API.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_status, spawn_app, Backend, TestApp};
use crate::on_both_backends;
use crate::trail_fixtures::{records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY};

on_both_backends!(
    impact_no_end_user_impact_explicit,
    impact_invalid_input_names_field,
    impact_stale_version_conflicts,
    resources_created_from_findings,
    resource_owner_edit_and_conflicts,
    resource_invalid_input_names_field,
    recovery_action_tracks_status,
);

async fn put(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.request(Method::PUT, path)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn patch(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.request(Method::PATCH, path)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn interruption() -> Value {
    json!({
        "kind": "service_interruption",
        "description": "Deploy pipeline down for 40 minutes while the key was disabled",
        "users_affected": 0,
        "severity": "medium",
    })
}

async fn impact_no_end_user_impact_explicit(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let path = format!("/api/v1/cases/{case}/impacts");
    assert_eq!(
        app.get_json(&path).await,
        json!([]),
        "not yet assessed is an empty list"
    );

    let none =
        json!({"kind": "no_end_user_impact", "description": "Only the CI account was touched"});
    let created = expect_status(app.post(&path, &none).await, StatusCode::CREATED).await;
    assert_eq!(created["kind"], "no_end_user_impact");
    assert!(created["severity"].is_null());
    assert_eq!(created["created_by"], "Administrator");
    assert_eq!(created["version"], 1);

    let contradicting =
        json!({"kind": "end_user_impact", "severity": "high", "users_affected": 12});
    let error = expect_status(app.post(&path, &contradicting).await, StatusCode::CONFLICT).await;
    assert_eq!(error["error"]["field"], "kind");

    expect_status(app.post(&path, &interruption()).await, StatusCode::CREATED).await;
    let listed = app.get_json(&path).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[1]["severity"], "medium");
    assert_eq!(listed[1]["users_affected"], 0);
}

async fn impact_invalid_input_names_field(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let path = format!("/api/v1/cases/{case}/impacts");
    let cases = [
        ("severity", json!({"kind": "data_exposure"})),
        (
            "severity",
            json!({"kind": "no_end_user_impact", "severity": "low"}),
        ),
        (
            "users_affected",
            json!({"kind": "no_end_user_impact", "users_affected": 3}),
        ),
        (
            "users_affected",
            json!({"kind": "cost", "severity": "low", "users_affected": -1}),
        ),
        ("kind", json!({"kind": "reputation", "severity": "low"})),
        ("severity", json!({"kind": "cost", "severity": "huge"})),
        (
            "description",
            json!({"kind": "cost", "severity": "low", "description": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}),
        ),
    ];
    for (field, body) in cases {
        let error = expect_status(
            app.post(&path, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    assert_eq!(
        app.get_json(&path).await,
        json!([]),
        "invalid input stores nothing"
    );
}

async fn impact_stale_version_conflicts(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let created = expect_status(
        app.post(&format!("/api/v1/cases/{case}/impacts"), &interruption())
            .await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/cases/{case}/impacts/{}", created["id"]);

    let mut edit = interruption();
    let missing = expect_status(
        put(&app, &path, &edit).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(missing["error"]["field"], "version");

    edit["version"] = json!(1);
    edit["severity"] = json!("high");
    let saved = expect_status(put(&app, &path, &edit).await, StatusCode::OK).await;
    assert_eq!(saved["severity"], "high");
    assert_eq!(saved["version"], 2);

    edit["severity"] = json!("low");
    let error = expect_status(put(&app, &path, &edit).await, StatusCode::CONFLICT).await;
    assert_eq!(error["error"]["code"], "stale_version");
    assert_eq!(error["error"]["current_version"], 2);
    let listed = app.get_json(&format!("/api/v1/cases/{case}/impacts")).await;
    assert_eq!(listed[0]["severity"], "high");
}

async fn resources_created_from_findings(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    let upload = app
        .upload(case, &[("trail.json", records_file(&standard_events()))])
        .await;
    expect_status(upload, StatusCode::CREATED).await;
    let findings = app
        .get_json(&format!("/api/v1/cases/{case}/findings"))
        .await;
    let finding_id = findings[0]["id"].clone();

    let path = format!("/api/v1/cases/{case}/resources");
    let resources = app.get_json(&path).await;
    assert_eq!(resources.as_array().unwrap().len(), 1);
    assert_eq!(resources[0]["resource_type"], "iam");
    assert_eq!(resources[0]["resource_id"], "backdoor");
    assert_eq!(resources[0]["region"], "us-east-1");
    assert_eq!(resources[0]["finding_ids"], json!([finding_id]));
    assert!(resources[0]["created_by"].is_null());

    let again = app.get_json(&path).await;
    assert_eq!(again, resources, "listing again links nothing twice");

    let manual = json!({"resource_type": "iam", "resource_id": "backdoor"});
    let error = expect_status(app.post(&path, &manual).await, StatusCode::CONFLICT).await;
    assert_eq!(error["error"]["field"], "resource_id");
}

fn database_resource() -> Value {
    json!({
        "resource_type": "rds:db",
        "resource_id": "arn:aws:rds:eu-west-1:111122223333:db:orders",
        "name": "orders",
        "account_id": "111122223333",
        "region": "eu-west-1",
        "owner_name": "Orders team",
        "owner_email": "orders@example.com",
    })
}

async fn resource_owner_edit_and_conflicts(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let created = expect_status(
        app.post(
            &format!("/api/v1/cases/{case}/resources"),
            &database_resource(),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["owner_name"], "Orders team");
    assert_eq!(created["created_by"], "Administrator");
    assert!(created["owner_notified_at"].is_null());
    let path = format!("/api/v1/cases/{case}/resources/{}", created["id"]);

    let mut edit = database_resource();
    edit["version"] = json!(1);
    edit["owner_notified_at"] = json!("2024-03-01T12:30:00+01:00");
    let saved = expect_status(put(&app, &path, &edit).await, StatusCode::OK).await;
    assert_eq!(saved["owner_notified_at"], "2024-03-01T11:30:00Z");
    assert_eq!(saved["version"], 2);

    edit["owner_name"] = json!("Someone else");
    let error = expect_status(put(&app, &path, &edit).await, StatusCode::CONFLICT).await;
    assert_eq!(error["error"]["current_version"], 2);

    let other_case = app.create_case(COMPROMISE_TIME).await;
    let wrong_case = format!("/api/v1/cases/{other_case}/resources/{}", created["id"]);
    expect_status(put(&app, &wrong_case, &edit).await, StatusCode::NOT_FOUND).await;
}

async fn resource_invalid_input_names_field(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let path = format!("/api/v1/cases/{case}/resources");
    let cases = [
        ("resource_type", json!({"resource_type": " "})),
        ("resource_id", json!({"resource_id": ""})),
        ("owner_email", json!({"owner_email": "orders team"})),
        ("account_id", json!({"account_id": "1111 2222"})),
        (
            "owner_notified_at",
            json!({"owner_notified_at": "2024-03-01T12:30:00"}),
        ),
    ];
    for (field, change) in cases {
        let mut body = database_resource();
        for (name, value) in change.as_object().unwrap() {
            body[name] = value.clone();
        }
        let error = expect_status(
            app.post(&path, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    assert_eq!(
        app.get_json(&path).await,
        json!([]),
        "invalid input stores nothing"
    );
}

async fn recovery_action_tracks_status(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let resource = expect_status(
        app.post(
            &format!("/api/v1/cases/{case}/resources"),
            &database_resource(),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let actions_path = format!(
        "/api/v1/cases/{case}/resources/{}/recovery-actions",
        resource["id"]
    );

    let invalid = app.post(&actions_path, &json!({"kind": "pray"})).await;
    let error = expect_status(invalid, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "kind");

    let body = json!({"kind": "restore_from_backup", "notes": "snapshot of 2024-02-29"});
    let action = expect_status(app.post(&actions_path, &body).await, StatusCode::CREATED).await;
    assert_eq!(action["status"], "planned");
    assert!(action["performed_by"].is_null());
    assert_eq!(action["cmdb_updated"], false);

    let path = format!("/api/v1/cases/{case}/recovery-actions/{}", action["id"]);
    let done = patch(
        &app,
        &path,
        &json!({"version": 1, "status": "done", "cmdb_updated": true}),
    )
    .await;
    let done = expect_status(done, StatusCode::OK).await;
    assert_eq!(done["status"], "done");
    assert_eq!(done["performed_by"], "Administrator");
    assert!(done["done_at"].is_string());
    assert_eq!(done["cmdb_updated"], true);
    assert_eq!(done["notes"], "snapshot of 2024-02-29");
    assert_eq!(done["version"], 2);

    let stale = patch(&app, &path, &json!({"version": 1, "status": "failed"})).await;
    let error = expect_status(stale, StatusCode::CONFLICT).await;
    assert_eq!(error["error"]["current_version"], 2);

    let listed = app
        .get_json(&format!("/api/v1/cases/{case}/resources"))
        .await;
    assert_eq!(listed[0]["recovery_actions"][0]["status"], "done");

    let other_case = app.create_case(COMPROMISE_TIME).await;
    let wrong_case = format!(
        "/api/v1/cases/{other_case}/resources/{}/recovery-actions",
        resource["id"]
    );
    expect_status(app.post(&wrong_case, &body).await, StatusCode::NOT_FOUND).await;
}
