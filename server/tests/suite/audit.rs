//! The audit log: what it records, and that editing, deleting or reordering rows is detected.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_status, spawn_app, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    audit_records_changes_and_logins,
    audit_detects_edited_row,
    audit_detects_deleted_row,
    audit_detects_swapped_rows,
    audit_detects_truncation,
);

/// Makes a handful of audited changes: logins, a case, a credential, a failed login.
async fn audited_activity(app: &TestApp) {
    app.login_admin().await;
    let case = app.create_case("2023-07-10T12:20:00Z").await;
    app.add_access_key(case, "AKIATFQR7NSC8Q4X20BJ").await;
    let failed = app.post("/api/v1/session", &json!({"username": "admin", "password": "wrong password"})).await;
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let moved = app.post(&format!("/api/v1/cases/{case}/phase"), &json!({"phase": "containment", "force": true, "reason": "moving on for the test"})).await;
    expect_status(moved, StatusCode::OK).await;
}

async fn verification(app: &TestApp) -> Value {
    app.get_json("/api/v1/audit/verify").await
}

async fn execute(app: &TestApp, sql: &'static str) {
    sqlx::query(sql).execute(&app.state.db.pool).await.unwrap();
}

async fn audit_records_changes_and_logins(backend: Backend) {
    let app = spawn_app(backend).await;
    audited_activity(&app).await;
    let entries = app.get_json("/api/v1/audit").await;
    let actions: Vec<&str> = entries.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["phase_changed", "login_failed", "credential_added", "case_created", "login"]);
    let phase = &entries[0];
    assert_eq!(phase["actor"], "admin");
    assert_eq!(phase["case_number"], 1);
    assert_eq!(phase["client_address"], "127.0.0.1");
    assert_eq!(phase["details"]["before"], "identification");
    assert_eq!(phase["details"]["after"], "containment");

    let case_entries = app.get_json("/api/v1/cases/1/audit").await;
    assert_eq!(case_entries.as_array().unwrap().len(), 3, "case entries only");

    let outsider = app.user_session("outsider", "analyst").await;
    expect_status(outsider.get("/api/v1/cases/1/findings").await, StatusCode::NOT_FOUND).await;
    let entries = app.get_json("/api/v1/audit?limit=1").await;
    assert_eq!(entries[0]["action"], "access_denied");
    assert_eq!(entries[0]["actor"], "outsider");

    let result = verification(&app).await;
    assert_eq!(result["first_break"], Value::Null, "{result}");
    assert!(result["rows_checked"].as_i64().unwrap() >= 7);
}

async fn audit_detects_edited_row(backend: Backend) {
    let app = spawn_app(backend).await;
    audited_activity(&app).await;
    execute(&app, "UPDATE audit_log SET actor_name = 'someone else' WHERE id = 3").await;
    let result = verification(&app).await;
    assert_eq!(result["first_break"]["row_id"], 3, "{result}");
    assert!(result["first_break"]["reason"].as_str().unwrap().contains("edited"));
    assert_eq!(result["rows_checked"], 2);
}

async fn audit_detects_deleted_row(backend: Backend) {
    let app = spawn_app(backend).await;
    audited_activity(&app).await;
    execute(&app, "DELETE FROM audit_log WHERE id = 2").await;
    let result = verification(&app).await;
    assert_eq!(result["first_break"]["row_id"], 2, "{result}");
    assert!(result["first_break"]["reason"].as_str().unwrap().contains("missing"));
}

async fn audit_detects_swapped_rows(backend: Backend) {
    let app = spawn_app(backend).await;
    audited_activity(&app).await;
    // Exchange the ids of rows 2 and 3, keeping each row's content and hashes.
    execute(&app, "UPDATE audit_log SET id = 1000 WHERE id = 2").await;
    execute(&app, "UPDATE audit_log SET id = 2 WHERE id = 3").await;
    execute(&app, "UPDATE audit_log SET id = 3 WHERE id = 1000").await;
    let result = verification(&app).await;
    assert_eq!(result["first_break"]["row_id"], 2, "{result}");
    assert!(result["first_break"]["reason"].as_str().unwrap().contains("reordered"));
}

async fn audit_detects_truncation(backend: Backend) {
    let app = spawn_app(backend).await;
    audited_activity(&app).await;
    let before = verification(&app).await;
    let rows = before["rows_checked"].as_i64().unwrap();
    sqlx::query("DELETE FROM audit_log WHERE id >= $1")
        .bind(rows - 1)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let result = verification(&app).await;
    assert!(result["first_break"]["reason"].as_str().unwrap().contains("deleted"), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_command_reports_break() {
    let app = spawn_app(Backend::Sqlite).await;
    audited_activity(&app).await;
    let database_url = format!("sqlite://{}?mode=rwc", app.data_dir.join("rekey.db").display());
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_rekey"))
            .args(["--database-url", &database_url, "verify"])
            .output()
            .unwrap()
    };
    let intact = run();
    assert!(intact.status.success(), "{}", String::from_utf8_lossy(&intact.stderr));
    assert!(String::from_utf8_lossy(&intact.stdout).contains("intact"));

    execute(&app, "UPDATE audit_log SET details = '{\"edited\": true}' WHERE id = 2").await;
    let broken = run();
    assert_eq!(broken.status.code(), Some(1));
    let output = String::from_utf8_lossy(&broken.stdout);
    assert!(output.contains("broken at row 2"), "{output}");
}
