//! Derived credentials: proposed from the trail, confirmed, and re-analysed from the kept trail files.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_status, spawn_app, Backend, TestApp};
use crate::on_both_backends;
use crate::trail_fixtures::{event, key_creation, lines_file, records_file, COMPROMISE_TIME, LEAKED_KEY, OTHER_KEY};

const KEY_B: &str = "AKIAIOSFODNN7DERIVB1";
const KEY_C: &str = "AKIAIOSFODNN7DERIVC1";
const KEY_D: &str = "AKIAIOSFODNN7DERIVD1";

on_both_backends!(
    derived_chain_three_levels,
    proposed_credential_matches_nothing,
    derived_key_already_recorded,
    confirm_unknown_credential_rejected,
    confirm_detects_altered_trail_file,
    confirm_skips_damaged_events,
    confirm_waits_for_running_import,
);

async fn case_with_leaked_key(app: &TestApp) -> i64 {
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    case
}

/// Builds a call of the user `backdoor`, made with `key`.
fn backdoor_call(id: &str, time: &str, name: &str, key: &str) -> Value {
    let mut call = event(id, time, name, key);
    call["userIdentity"]["userName"] = json!("backdoor");
    call["userIdentity"]["arn"] = json!("arn:aws:iam::111122223333:user/backdoor");
    call
}

/// Builds the attack: the leaked key creates key B, B creates key C, C creates the user
/// backdoor, and backdoor attaches a policy. One call of an unrelated key and one of B before the
/// compromise time are noise.
fn chain_events() -> Vec<Value> {
    let mut create_user = event("e-c-user", "2024-03-01T10:04:00Z", "CreateUser", KEY_C);
    create_user["responseElements"] = json!({
        "user": {"userName": "backdoor", "userId": "AIDABACKDOOR", "arn": "arn:aws:iam::111122223333:user/backdoor"}
    });
    vec![
        event("e-b-early", "2024-03-01T09:00:00Z", "DeleteBucket", KEY_B),
        key_creation("e-a-key", "2024-03-01T10:01:00Z", LEAKED_KEY, KEY_B),
        event("e-b-delete", "2024-03-01T10:02:00Z", "DeleteBucket", KEY_B),
        key_creation("e-b-key", "2024-03-01T10:03:00Z", KEY_B, KEY_C),
        create_user,
        backdoor_call("e-d-policy", "2024-03-01T10:05:00Z", "AttachUserPolicy", KEY_D),
        event("e-other", "2024-03-01T10:06:00Z", "DeleteUser", OTHER_KEY),
    ]
}

async fn credentials(app: &TestApp, case: i64) -> Vec<Value> {
    let list = app.get_json(&format!("/api/v1/cases/{case}/credentials")).await;
    list.as_array().unwrap().clone()
}

async fn finding_ids(app: &TestApp, case: i64) -> Vec<String> {
    let findings = app.get_json(&format!("/api/v1/cases/{case}/findings")).await;
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["event_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn confirm(app: &TestApp, case: i64, credential: &Value) -> Value {
    let id = credential["id"].as_i64().unwrap();
    let response = app
        .post(&format!("/api/v1/cases/{case}/credentials/{id}/confirm"), &json!({}))
        .await;
    expect_status(response, StatusCode::OK).await
}

/// Returns the one proposed credential of the case.
async fn proposed(app: &TestApp, case: i64) -> Value {
    let proposed: Vec<Value> = credentials(app, case)
        .await
        .into_iter()
        .filter(|credential| credential["proposed"] == true)
        .collect();
    assert_eq!(proposed.len(), 1, "{proposed:?}");
    proposed[0].clone()
}

async fn derived_chain_three_levels(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let import = app.upload(case, &[("trail.json", records_file(&chain_events()))]).await;
    let import = expect_status(import, StatusCode::CREATED).await;
    assert_eq!(import["events_matched"], 1);
    assert_eq!(finding_ids(&app, case).await, ["e-a-key"]);

    // Level 1: key B, created by the leaked key.
    let leaked_id = credentials(&app, case).await[0]["id"].as_i64().unwrap();
    let key_b = proposed(&app, case).await;
    assert_eq!(key_b["access_key_id"], KEY_B);
    assert_eq!(key_b["kind"], "access_key");
    assert_eq!(key_b["status"], "suspected");
    assert_eq!(key_b["derived_from"], leaked_id);
    assert!(key_b["notes"].as_str().unwrap().contains("CreateAccessKey"));

    let confirmed = confirm(&app, case, &key_b).await;
    assert_eq!(confirmed["credential"]["status"], "confirmed");
    assert_eq!(confirmed["credential"]["proposed"], false);
    assert_eq!(confirmed["events_added"], 2, "the call before the compromise time stays out");
    assert_eq!(confirmed["findings_added"], 2);
    assert_eq!(confirmed["credentials_proposed"], 1);

    // Level 2: key C, created by key B.
    let key_c = proposed(&app, case).await;
    assert_eq!(key_c["access_key_id"], KEY_C);
    assert_eq!(key_c["derived_from"], key_b["id"]);
    let confirmed = confirm(&app, case, &key_c).await;
    assert_eq!(confirmed["events_added"], 1);
    assert_eq!(confirmed["credentials_proposed"], 1);

    // Level 3: the user backdoor, created by key C and matched by name.
    let backdoor = proposed(&app, case).await;
    assert_eq!(backdoor["principal_name"], "backdoor");
    assert_eq!(backdoor["principal_type"], "user");
    assert_eq!(backdoor["access_key_id"], Value::Null);
    assert_eq!(backdoor["derived_from"], key_c["id"]);
    let confirmed = confirm(&app, case, &backdoor).await;
    assert_eq!(confirmed["events_added"], 1);
    assert_eq!(confirmed["findings_added"], 1);
    assert_eq!(confirmed["credentials_proposed"], 0, "the chain ends");

    let again = confirm(&app, case, &backdoor).await;
    assert_eq!(again["events_added"], 0);
    assert_eq!(again["credentials_proposed"], 0);

    assert_eq!(
        finding_ids(&app, case).await,
        ["e-a-key", "e-b-delete", "e-b-key", "e-c-user", "e-d-policy"]
    );
    assert_eq!(credentials(&app, case).await.len(), 4);
    let other: Vec<(i64,)> = sqlx::query_as("SELECT COUNT(*) FROM trail_events WHERE event_id IN ('e-other', 'e-b-early')")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(other[0].0, 0, "neither the unrelated key's call nor B's call before the compromise time is stored");
}

async fn proposed_credential_matches_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let file = records_file(&chain_events());
    expect_status(app.upload(case, &[("a.json", file.clone())]).await, StatusCode::CREATED).await;

    let again = expect_status(app.upload(case, &[("a.json", file.clone())]).await, StatusCode::CREATED).await;
    assert_eq!(again["events_matched"], 1, "the proposed key B matches nothing");
    assert_eq!(again["events_new"], 0);
    assert_eq!(credentials(&app, case).await.len(), 2, "key B is proposed once");

    let key_b = proposed(&app, case).await;
    confirm(&app, case, &key_b).await;
    let third = expect_status(app.upload(case, &[("a.json", file)]).await, StatusCode::CREATED).await;
    assert_eq!(third["events_matched"], 3, "key B now matches, without adding its calls twice");
    assert_eq!(third["events_new"], 0);
    assert_eq!(finding_ids(&app, case).await, ["e-a-key", "e-b-delete", "e-b-key"]);
}

async fn derived_key_already_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    app.add_access_key(case, KEY_B).await;
    let events = [
        key_creation("e-a-key", "2024-03-01T10:01:00Z", LEAKED_KEY, KEY_B),
        key_creation("e-failed", "2024-03-01T10:02:00Z", LEAKED_KEY, KEY_C),
    ];
    let mut events = events.to_vec();
    events[1]["errorCode"] = json!("LimitExceeded");
    let import = app.upload(case, &[("trail.json", records_file(&events))]).await;
    expect_status(import, StatusCode::CREATED).await;
    let all = credentials(&app, case).await;
    assert_eq!(all.len(), 2, "nothing proposed: B is recorded and the failed call created no key");
    assert!(all.iter().all(|credential| credential["proposed"] == false));
}

async fn confirm_unknown_credential_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let other_case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(other_case, KEY_B).await;
    let foreign = credentials(&app, other_case).await[0].clone();

    let cases = [
        format!("/api/v1/cases/{case}/credentials/9999/confirm"),
        format!("/api/v1/cases/{case}/credentials/{}/confirm", foreign["id"]),
        format!("/api/v1/cases/999/credentials/{}/confirm", foreign["id"]),
    ];
    for path in cases {
        let response = app.post(&path, &json!({})).await;
        expect_status(response, StatusCode::NOT_FOUND).await;
    }
    assert_eq!(credentials(&app, other_case).await[0]["status"], "suspected");
}

/// Confirming reads the kept trail file again; a file changed in the evidence store stops the
/// confirmation with 409 and leaves the credential proposed.
async fn confirm_detects_altered_trail_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let import = app.upload(case, &[("trail.json", records_file(&chain_events()))]).await;
    expect_status(import, StatusCode::CREATED).await;
    let (sha256,): (String,) = sqlx::query_as("SELECT sha256 FROM evidence")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let stored = app.data_dir.join("evidence").join(&sha256[..2]).join(&sha256);
    let original = std::fs::read(&stored).unwrap();
    let altered = String::from_utf8(original.clone()).unwrap().replace("DeleteBucket", "DeleteBucker");
    std::fs::write(&stored, altered).unwrap();

    let key_b = proposed(&app, case).await;
    let id = key_b["id"].as_i64().unwrap();
    let response = app.post(&format!("/api/v1/cases/{case}/credentials/{id}/confirm"), &json!({})).await;
    let error = expect_status(response, StatusCode::CONFLICT).await;
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("trail.json"), "{message}");
    assert!(message.contains("no longer matches its SHA-256"), "{message}");
    assert_eq!(proposed(&app, case).await["id"], key_b["id"], "still proposed");
    assert_eq!(finding_ids(&app, case).await, ["e-a-key"]);

    std::fs::remove_file(&stored).unwrap();
    let response = app.post(&format!("/api/v1/cases/{case}/credentials/{id}/confirm"), &json!({})).await;
    let error = expect_status(response, StatusCode::CONFLICT).await;
    assert!(error["error"]["message"].as_str().unwrap().contains("no content is stored"), "{error}");

    std::fs::write(&stored, original).unwrap();
    let confirmed = confirm(&app, case, &key_b).await;
    assert_eq!(confirmed["events_added"], 2, "the restored file reads as before");
}

/// Checks that confirming skips and lists a damaged line of the credential and still adds its
/// later calls. The import passed that line over, because it contained no key of the case yet.
async fn confirm_skips_damaged_events(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let mut damaged = event("e-b-damaged", "2024-03-01T10:02:00Z", "DeleteBucket", KEY_B);
    damaged["eventTime"] = json!(12345);
    let file = lines_file(&[
        key_creation("e-a-key", "2024-03-01T10:01:00Z", LEAKED_KEY, KEY_B),
        damaged,
        event("e-b-policy", "2024-03-01T10:03:00Z", "PutBucketPolicy", KEY_B),
    ]);
    let import = expect_status(app.upload(case, &[("damaged.jsonl", file)]).await, StatusCode::CREATED).await;
    assert_eq!(import["events_read"], 3);

    let key_b = proposed(&app, case).await;
    let confirmed = confirm(&app, case, &key_b).await;
    assert_eq!(confirmed["events_added"], 1);
    let skipped = confirmed["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let skipped = skipped[0].as_str().unwrap();
    assert!(skipped.contains("damaged.jsonl line 2"), "{skipped}");
    assert!(skipped.contains("eventTime"), "{skipped}");
    assert_eq!(finding_ids(&app, case).await, ["e-a-key", "e-b-policy"]);
}

/// Checks that confirming waits for a running import, which loaded the case's credentials
/// before the confirmation.
async fn confirm_waits_for_running_import(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let file = records_file(&[key_creation("e-a-key", "2024-03-01T10:01:00Z", LEAKED_KEY, KEY_B)]);
    expect_status(app.upload(case, &[("trail.json", file)]).await, StatusCode::CREATED).await;
    let key_b = proposed(&app, case).await;
    let (case_id,): (i64,) = sqlx::query_as("SELECT id FROM cases WHERE number = $1")
        .bind(case)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();

    let (_progress, running) = rekey::import::RunningImports::start(&app.state.running_imports, case_id, "Administrator", &[]);
    let id = key_b["id"].as_i64().unwrap();
    let response = app.post(&format!("/api/v1/cases/{case}/credentials/{id}/confirm"), &json!({})).await;
    let error = expect_status(response, StatusCode::CONFLICT).await;
    assert!(error["error"]["message"].as_str().unwrap().contains("an import of this case is running"), "{error}");
    assert_eq!(proposed(&app, case).await["id"], key_b["id"], "still proposed");

    drop(running);
    confirm(&app, case, &key_b).await;
}
