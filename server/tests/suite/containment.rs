//! Credential lifecycle, containment actions and the verification window through the API.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_status, spawn_app, spawn_app_with, Backend, TestApp};
use crate::on_both_backends;
use crate::trail_fixtures::{records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY};

on_both_backends!(
    credential_status_history_kept,
    credential_status_rejects_bad_moves,
    credential_status_stale_version,
    action_kinds_match_credential,
    action_invalid_input_names_field,
    action_update_stale_version,
    verification_flags_use_after_containment,
    verification_passes_without_use,
    verification_window_configurable,
);

async fn containment(app: &TestApp, case: i64) -> Vec<Value> {
    let list = app
        .get_json(&format!("/api/v1/cases/{case}/containment"))
        .await;
    list.as_array().unwrap().clone()
}

/// Creates a case with the leaked access key and returns the case number and credential id.
async fn case_with_key(app: &TestApp) -> (i64, i64) {
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    let id = containment(app, case).await[0]["credential_id"]
        .as_i64()
        .unwrap();
    (case, id)
}

async fn set_status(app: &TestApp, case: i64, credential: i64, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/cases/{case}/credentials/{credential}/status"),
        &body,
    )
    .await
}

async fn add_action(app: &TestApp, case: i64, credential: i64, body: Value) -> reqwest::Response {
    let path = format!("/api/v1/cases/{case}/credentials/{credential}/containment-actions");
    app.post(&path, &body).await
}

fn disable_key_at(time: &str) -> Value {
    json!({
        "kind": "disable_access_key",
        "performed_by": "Cloud operations on call",
        "performed_at": time,
        "authorised_by": "Incident lead",
        "result": "succeeded",
        "notes": "aws iam update-access-key --status Inactive",
        "reversible": true,
    })
}

async fn credential_status_history_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let (case, id) = case_with_key(&app).await;
    let initial = &containment(&app, case).await[0];
    assert_eq!(initial["status"], "suspected");
    assert_eq!(initial["version"], 1);
    assert_eq!(initial["history"].as_array().unwrap().len(), 1);
    assert_eq!(initial["history"][0]["to_status"], "suspected");
    assert_eq!(initial["verification"]["state"], "not_contained");

    let body =
        json!({"status": "confirmed", "version": 1, "note": "key seen in the scanner report"});
    let confirmed = expect_status(set_status(&app, case, id, body).await, StatusCode::OK).await;
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["version"], 2);
    let history = confirmed["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["from_status"], "suspected");
    assert_eq!(history[1]["to_status"], "confirmed");
    assert_eq!(history[1]["note"], "key seen in the scanner report");
    assert_eq!(history[1]["changed_by"], "Administrator");
    assert!(history[1]["changed_at"].is_string());

    let credential = app
        .get_json(&format!("/api/v1/cases/{case}/credentials"))
        .await;
    assert_eq!(credential[0]["status"], "confirmed");
}

async fn credential_status_rejects_bad_moves(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let (case, id) = case_with_key(&app).await;
    let body = json!({"status": "disabled", "version": 1});
    expect_status(set_status(&app, case, id, body).await, StatusCode::OK).await;

    let cases = [
        (
            json!({"status": "confirmed", "version": 2}),
            "allowed next: verified, rotated",
        ),
        (
            json!({"status": "false_positive", "version": 2}),
            "cannot become false_positive",
        ),
        (
            json!({"status": "verified", "version": 2}),
            "no containment action yet",
        ),
        (json!({"status": "gone", "version": 2}), "unknown variant"),
        (
            json!({"status": "rotated", "version": 2, "note": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}),
            "never stores secrets",
        ),
    ];
    for (body, expected) in cases {
        let response = set_status(&app, case, id, body.clone()).await;
        let error = expect_status(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        let field = error["error"]["field"].as_str().unwrap();
        assert!(field == "status" || field == "note", "{body}: {field}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let unchanged = &containment(&app, case).await[0];
    assert_eq!(unchanged["status"], "disabled");
    assert_eq!(unchanged["version"], 2);
    assert_eq!(unchanged["history"].as_array().unwrap().len(), 2);

    let missing = set_status(
        &app,
        case,
        999,
        json!({"status": "confirmed", "version": 1}),
    )
    .await;
    expect_status(missing, StatusCode::NOT_FOUND).await;
}

async fn credential_status_stale_version(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let (case, id) = case_with_key(&app).await;
    let first = set_status(&app, case, id, json!({"status": "confirmed", "version": 1})).await;
    expect_status(first, StatusCode::OK).await;
    let second = set_status(
        &app,
        case,
        id,
        json!({"status": "false_positive", "version": 1}),
    )
    .await;
    let error = expect_status(second, StatusCode::CONFLICT).await;
    assert_eq!(error["error"]["code"], "stale_version");
    assert_eq!(error["error"]["current_version"], 2);
    assert_eq!(containment(&app, case).await[0]["status"], "confirmed");
}

async fn action_kinds_match_credential(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let (case, key) = case_with_key(&app).await;
    let role = json!({"kind": "temporary_role_credentials", "principal_type": "role", "principal_name": "ci-deploy"});
    let response = app
        .post(&format!("/api/v1/cases/{case}/credentials"), &role)
        .await;
    let role = expect_status(response, StatusCode::CREATED).await["id"]
        .as_i64()
        .unwrap();

    let listed = containment(&app, case).await;
    let kinds = |index: usize| listed[index]["action_kinds"].as_array().unwrap().clone();
    assert!(kinds(0).contains(&json!("disable_access_key")));
    assert!(!kinds(0).contains(&json!("revoke_role_sessions")));
    assert!(kinds(1).contains(&json!("revoke_role_sessions")));
    assert!(kinds(1).contains(&json!("change_trust_policy")));
    assert!(!kinds(1).contains(&json!("delete_access_key")));

    let mut revoke = disable_key_at("2024-03-01T10:02:00Z");
    revoke["kind"] = json!("revoke_role_sessions");
    let wrong = expect_status(
        add_action(&app, case, key, revoke.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(wrong["error"]["field"], "kind");
    assert!(wrong["error"]["message"]
        .as_str()
        .unwrap()
        .contains("disable_access_key"));

    let action = expect_status(
        add_action(&app, case, role, revoke).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(action["kind"], "revoke_role_sessions");
    assert!(action["warning"]
        .as_str()
        .unwrap()
        .contains("stay valid until they expire"));
    assert!(action["warning"]
        .as_str()
        .unwrap()
        .contains("legitimate users"));

    let disabled = expect_status(
        add_action(&app, case, key, disable_key_at("2024-03-01T10:02:00Z")).await,
        StatusCode::CREATED,
    )
    .await;
    assert!(disabled["warning"].is_null());
    assert_eq!(disabled["performed_by"], "Cloud operations on call");
    assert_eq!(disabled["authorised_by"], "Incident lead");
    assert_eq!(disabled["recorded_by"], "Administrator");
    assert_eq!(disabled["reversible"], true);
    assert_eq!(disabled["performed_at"], "2024-03-01T10:02:00Z");

    let listed = containment(&app, case).await;
    assert_eq!(
        listed[0]["status"], "disabled",
        "a successful action disables the credential"
    );
    let history = listed[0]["history"].as_array().unwrap();
    assert_eq!(
        history.last().unwrap()["note"],
        "containment action: Disable the access key"
    );
    assert_eq!(listed[0]["actions"].as_array().unwrap().len(), 1);
}

async fn action_invalid_input_names_field(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let (case, key) = case_with_key(&app).await;
    let cases = [
        ("authorised_by", json!({"authorised_by": "  "})),
        (
            "performed_at",
            json!({"performed_at": "2024-03-01T10:02:00"}),
        ),
        (
            "performed_at",
            json!({"performed_at": "2999-01-01T00:00:00Z"}),
        ),
        (
            "notes",
            json!({"notes": "secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}),
        ),
        ("result", json!({"result": "maybe"})),
        ("kind", json!({"kind": "unplug"})),
    ];
    for (field, change) in cases {
        let mut body = disable_key_at("2024-03-01T10:02:00Z");
        for (name, value) in change.as_object().unwrap() {
            body[name] = value.clone();
        }
        let response = add_action(&app, case, key, body.clone()).await;
        let error = expect_status(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    let mut body = disable_key_at("2024-03-01T10:02:00Z");
    body.as_object_mut().unwrap().remove("authorised_by");
    let error = expect_status(
        add_action(&app, case, key, body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["error"]["field"], "authorised_by");

    let unknown = add_action(&app, case, 999, disable_key_at("2024-03-01T10:02:00Z")).await;
    expect_status(unknown, StatusCode::NOT_FOUND).await;
    let listed = &containment(&app, case).await[0];
    assert_eq!(listed["actions"], json!([]), "invalid input stores nothing");
    assert_eq!(listed["status"], "suspected");
}

async fn action_update_stale_version(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let (case, key) = case_with_key(&app).await;
    let action = expect_status(
        add_action(&app, case, key, disable_key_at("2024-03-01T10:02:00Z")).await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/cases/{case}/containment-actions/{}", action["id"]);

    let body = json!({"version": 1, "result": "partial", "notes": "second key still active", "reversible": false});
    let updated = app
        .request(Method::PATCH, &path)
        .json(&body)
        .send()
        .await
        .unwrap();
    let updated = expect_status(updated, StatusCode::OK).await;
    assert_eq!(updated["result"], "partial");
    assert_eq!(updated["notes"], "second key still active");
    assert_eq!(updated["reversible"], false);
    assert_eq!(updated["version"], 2);

    let stale = app
        .request(Method::PATCH, &path)
        .json(&json!({"version": 1, "result": "failed"}))
        .send()
        .await
        .unwrap();
    let error = expect_status(stale, StatusCode::CONFLICT).await;
    assert_eq!(error["error"]["code"], "stale_version");
    assert_eq!(error["error"]["current_version"], 2);

    let other_case = app.create_case(COMPROMISE_TIME).await;
    let wrong_case = format!(
        "/api/v1/cases/{other_case}/containment-actions/{}",
        action["id"]
    );
    let response = app
        .request(Method::PATCH, &wrong_case)
        .json(&json!({"version": 2}))
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::NOT_FOUND).await;
}

async fn verification_flags_use_after_containment(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let (case, key) = case_with_key(&app).await;
    // The standard trail has a call of the key at 10:05, three minutes after this action.
    expect_status(
        add_action(&app, case, key, disable_key_at("2024-03-01T10:02:00Z")).await,
        StatusCode::CREATED,
    )
    .await;
    let upload = app
        .upload(case, &[("trail.json", records_file(&standard_events()))])
        .await;
    expect_status(upload, StatusCode::CREATED).await;

    let verification = containment(&app, case).await[0]["verification"].clone();
    assert_eq!(verification["state"], "used_after_containment");
    assert_eq!(verification["contained_at"], "2024-03-01T10:02:00Z");
    assert_eq!(verification["window_ends_at"], "2024-03-01T10:32:00Z");
    assert_eq!(verification["events_after"], 1);
    assert_eq!(verification["succeeded_after"], 1);
    assert_eq!(verification["first_use_after"], "2024-03-01T10:05:00Z");

    let verify = set_status(&app, case, key, json!({"status": "verified", "version": 2})).await;
    let error = expect_status(verify, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("after containment"));
}

async fn verification_passes_without_use(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let (case, key) = case_with_key(&app).await;
    expect_status(
        add_action(&app, case, key, disable_key_at("2024-03-01T10:10:00Z")).await,
        StatusCode::CREATED,
    )
    .await;
    let upload = app
        .upload(case, &[("trail.json", records_file(&standard_events()))])
        .await;
    expect_status(upload, StatusCode::CREATED).await;

    let verification = containment(&app, case).await[0]["verification"].clone();
    assert_eq!(verification["state"], "passed");
    assert_eq!(verification["events_after"], 0);
    assert!(verification["first_use_after"].is_null());

    let verify = set_status(&app, case, key, json!({"status": "verified", "version": 2})).await;
    let verified = expect_status(verify, StatusCode::OK).await;
    assert_eq!(verified["status"], "verified");
}

async fn verification_window_configurable(backend: Backend) {
    let app = spawn_app_with(backend, |settings| settings.verification_window_minutes = 5).await;
    app.login_admin().await;
    let (case, key) = case_with_key(&app).await;
    let mut now = disable_key_at("");
    now.as_object_mut().unwrap().remove("performed_at");
    expect_status(add_action(&app, case, key, now).await, StatusCode::CREATED).await;

    let verification = containment(&app, case).await[0]["verification"].clone();
    assert_eq!(verification["state"], "watching");
    assert_eq!(verification["window_minutes"], 5);
    let verify = set_status(&app, case, key, json!({"status": "verified", "version": 2})).await;
    let error = expect_status(verify, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("verification window runs until"));
}
