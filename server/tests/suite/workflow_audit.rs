//! Audit rows of the response workflow. Every create and update of a workflow record appends
//! one in the change's transaction, and edits record the values before and after. A change that
//! fails leaves neither the record nor an audit row.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_status, spawn_app, Backend, TestApp};
use crate::on_both_backends;
use crate::trail_fixtures::{records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY, OTHER_KEY};

on_both_backends!(workflow_changes_audited, playbook_changes_audited, failed_changes_leave_nothing);

async fn send(app: &TestApp, method: Method, path: &str, body: Value) -> Response {
    app.request(method, path).json(&body).send().await.unwrap()
}

/// Sends a change that must succeed and returns the response body.
async fn change(app: &TestApp, method: Method, path: &str, body: Value, expected: StatusCode) -> Value {
    expect_status(send(app, method, path, body).await, expected).await
}

/// Returns the entries of the case's audit log, oldest first.
async fn case_audit(app: &TestApp, case: i64) -> Vec<Value> {
    let entries = app.get_json(&format!("/api/v1/cases/{case}/audit?limit=1000")).await;
    let mut entries = entries.as_array().unwrap().clone();
    entries.reverse();
    entries
}

/// Returns the single entry with `action` on `entity_type` `id`; fails when there is none or more.
fn entry<'a>(entries: &'a [Value], action: &str, entity_type: &str, id: &Value) -> &'a Value {
    let id = match id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let found: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == action && e["entity_type"] == entity_type && e["entity_id"] == id.as_str())
        .collect();
    assert_eq!(found.len(), 1, "{action} {entity_type} {id} in {entries:#?}");
    found[0]
}

/// Creates a case with the leaked key as credential 1; returns its number and first task's id.
async fn case_with_key(app: &TestApp) -> (i64, i64) {
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    let tasks = app.get_json(&format!("/api/v1/cases/{case}/tasks")).await;
    (case, tasks[0]["id"].as_i64().unwrap())
}

async fn workflow_changes_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let (case, task) = case_with_key(&app).await;
    let base = format!("/api/v1/cases/{case}");

    let body = json!({"version": 1, "status": "done"});
    change(&app, Method::PATCH, &format!("{base}/tasks/{task}"), body, StatusCode::OK).await;

    let containment = app.get_json(&format!("{base}/containment")).await;
    let body = json!({"status": "confirmed", "version": containment[0]["version"], "note": "seen in the repo"});
    change(&app, Method::POST, &format!("{base}/credentials/1/status"), body, StatusCode::OK).await;
    let body = json!({
        "kind": "disable_access_key", "authorised_by": "Incident lead", "result": "succeeded",
        "reversible": true, "performed_at": "2024-03-01T10:02:00Z",
    });
    let action = change(&app, Method::POST, &format!("{base}/credentials/1/containment-actions"), body, StatusCode::CREATED).await;
    let body = json!({"version": 1, "notes": "key set inactive"});
    change(&app, Method::PATCH, &format!("{base}/containment-actions/{}", action["id"]), body, StatusCode::OK).await;

    let body = json!({"kind": "service_interruption", "description": "deploys stopped", "severity": "medium"});
    let impact = change(&app, Method::POST, &format!("{base}/impacts"), body, StatusCode::CREATED).await;
    let body = json!({"kind": "service_interruption", "description": "deploys stopped", "severity": "high", "version": 1});
    change(&app, Method::PUT, &format!("{base}/impacts/{}", impact["id"]), body, StatusCode::OK).await;

    let body = json!({"resource_type": "iam:user", "resource_id": "backdoor"});
    let resource = change(&app, Method::POST, &format!("{base}/resources"), body, StatusCode::CREATED).await;
    let body = json!({"resource_type": "iam:user", "resource_id": "backdoor", "owner_name": "Identity team", "version": 1});
    change(&app, Method::PUT, &format!("{base}/resources/{}", resource["id"]), body, StatusCode::OK).await;
    let path = format!("{base}/resources/{}/recovery-actions", resource["id"]);
    let recovery = change(&app, Method::POST, &path, json!({"kind": "destroy"}), StatusCode::CREATED).await;
    let body = json!({"version": 1, "status": "done"});
    change(&app, Method::PATCH, &format!("{base}/recovery-actions/{}", recovery["id"]), body, StatusCode::OK).await;

    let body = json!({"occurred_at": "2024-03-01T11:01:00+01:00", "title": "Scanner alert received"});
    change(&app, Method::POST, &format!("{base}/timeline"), body, StatusCode::CREATED).await;
    let body = json!({"name": "Regulator report", "aware_at": "2024-03-01T10:30:00Z", "deadline_hours": 72});
    let clock = change(&app, Method::POST, &format!("{base}/legal-clocks"), body, StatusCode::CREATED).await;
    change(&app, Method::POST, &format!("{base}/legal-clocks/{}/met", clock["id"]), json!({}), StatusCode::OK).await;
    let body = json!({"text": "Key disabled."});
    let update = change(&app, Method::POST, &format!("{base}/status-updates"), body, StatusCode::CREATED).await;
    let body = json!({"channel": "phone", "recipient": "Counsel", "subject": "Briefing"});
    let call = change(&app, Method::POST, &format!("{base}/communications"), body, StatusCode::CREATED).await;
    change(&app, Method::POST, &format!("{base}/severity"), json!({"severity": "P1"}), StatusCode::OK).await;
    let body = json!({"name": "Dana", "email": "dana@example.com", "role": "legal"});
    let stakeholder = change(&app, Method::POST, &format!("{base}/stakeholders"), body, StatusCode::CREATED).await;
    let body = json!({"subscriptions": ["findings"], "finding_min_severity": "high"});
    let path = format!("{base}/stakeholders/{}/subscriptions", stakeholder["id"]);
    change(&app, Method::PUT, &path, body, StatusCode::OK).await;
    app.add_access_key(case, OTHER_KEY).await;
    change(&app, Method::POST, &format!("{base}/credentials/2/confirm"), json!({}), StatusCode::OK).await;

    let entries = case_audit(&app, case).await;
    let task_update = entry(&entries, "update", "task", &json!(task));
    assert_eq!(task_update["details"]["before"]["status"], "todo");
    assert_eq!(task_update["details"]["after"]["status"], "done");
    assert_eq!(task_update["actor"], "admin");
    assert_eq!(task_update["case_number"], case);

    let credential_changes: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "update" && e["entity_type"] == "credential" && e["entity_id"] == "1")
        .collect();
    let statuses: Vec<(&Value, &Value)> = credential_changes
        .iter()
        .map(|e| (&e["details"]["before"]["status"], &e["details"]["after"]["status"]))
        .collect();
    assert_eq!(
        statuses,
        [(&json!("suspected"), &json!("confirmed")), (&json!("confirmed"), &json!("disabled"))],
        "manual change, then the change a successful containment action makes"
    );
    let confirmed = entry(&entries, "update", "credential", &json!(2));
    assert_eq!(confirmed["details"]["before"], json!({"status": "suspected", "proposed": false}));
    assert_eq!(confirmed["details"]["after"], json!({"status": "confirmed", "proposed": false}));

    let created = entry(&entries, "create", "containment_action", &action["id"]);
    assert_eq!(created["details"]["kind"], "disable_access_key");
    assert_eq!(created["details"]["performed_at"], "2024-03-01T10:02:00Z");
    let edited = entry(&entries, "update", "containment_action", &action["id"]);
    assert_eq!(edited["details"]["before"]["notes"], "");
    assert_eq!(edited["details"]["after"]["notes"], "key set inactive");

    entry(&entries, "create", "impact_record", &impact["id"]);
    let edited = entry(&entries, "update", "impact_record", &impact["id"]);
    assert_eq!(edited["details"]["before"]["severity"], "medium");
    assert_eq!(edited["details"]["after"]["severity"], "high");

    entry(&entries, "create", "affected_resource", &resource["id"]);
    let edited = entry(&entries, "update", "affected_resource", &resource["id"]);
    assert_eq!(edited["details"]["before"]["owner_name"], Value::Null);
    assert_eq!(edited["details"]["after"]["owner_name"], "Identity team");
    entry(&entries, "create", "recovery_action", &recovery["id"]);
    let edited = entry(&entries, "update", "recovery_action", &recovery["id"]);
    assert_eq!(edited["details"]["before"]["status"], "planned");
    assert_eq!(edited["details"]["after"]["status"], "done");
    assert!(edited["details"]["after"]["done_at"].is_string(), "{edited}");

    let timeline: Vec<&Value> = entries.iter().filter(|e| e["entity_type"] == "timeline_entry").collect();
    assert_eq!(timeline.len(), 1, "{entries:#?}");
    assert_eq!(timeline[0]["action"], "create");
    assert_eq!(timeline[0]["details"]["occurred_at"], "2024-03-01T10:01:00Z");
    assert_eq!(timeline[0]["details"]["zone_offset"], "+01:00");

    entry(&entries, "create", "legal_clock", &clock["id"]);
    let met = entry(&entries, "update", "legal_clock", &clock["id"]);
    assert_eq!(met["details"]["before"]["met_at"], Value::Null);
    assert!(met["details"]["after"]["met_at"].is_string(), "{met}");
    let posted = entry(&entries, "create", "status_update", &update["id"]);
    assert_eq!(posted["details"]["text"], "Key disabled.");
    let call_id = call["key"].as_str().unwrap().trim_start_matches("manual-");
    entry(&entries, "create", "communication", &json!(call_id));
    let severity = entry(&entries, "severity_changed", "case", &json!(case));
    assert_eq!(severity["details"]["before"], "P2");
    assert_eq!(severity["details"]["after"], "P1");
    let subscriptions = entry(&entries, "update", "stakeholder", &stakeholder["id"]);
    assert_eq!(subscriptions["details"]["before"]["finding_min_severity"], "low");
    assert_eq!(subscriptions["details"]["after"]["finding_min_severity"], "high");
    assert_eq!(subscriptions["details"]["after"]["subscriptions"], json!(["findings"]));

    // A resource that a finding names is added by Rekey itself, which the audit row names.
    let upload = app.upload(case, &[("trail.json", records_file(&standard_events()))]).await;
    expect_status(upload, StatusCode::CREATED).await;
    let resources = app.get_json(&format!("{base}/resources")).await;
    let linked = resources
        .as_array()
        .unwrap()
        .iter()
        .find(|resource| resource["created_by"].is_null())
        .unwrap_or_else(|| panic!("no resource added from a finding: {resources:#}"));
    let entries = case_audit(&app, case).await;
    let added = entry(&entries, "create", "affected_resource", &linked["id"]);
    assert_eq!(added["actor"], "rekey");
    assert_eq!(added["details"]["resource_id"], "backdoor");

    let verification = app.get_json("/api/v1/audit/verify").await;
    assert_eq!(verification["first_break"], Value::Null, "{verification}");
}

/// Playbooks, finding rules and preferences belong to no case, so administrators read their
/// rows in the full log.
async fn playbook_changes_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let body = json!({
        "name": "Phished password",
        "is_default": false,
        "steps": [{"phase": "identification", "title": "Find the phished account"}],
    });
    let playbook = change(&app, Method::POST, "/api/v1/playbooks", body.clone(), StatusCode::CREATED).await;
    let mut edit = body;
    edit["version"] = json!(1);
    edit["steps"] = json!([{"phase": "containment", "title": "Reset the password"}]);
    let path = format!("/api/v1/playbooks/{}", playbook["id"]);
    change(&app, Method::PUT, &path, edit, StatusCode::OK).await;
    change(&app, Method::PUT, "/api/v1/preferences", json!({"time_zone": "Asia/Kolkata"}), StatusCode::OK).await;
    let body = json!({"name": "user-enumeration", "category": "reconnaissance", "severity": "low", "patterns": ["ListUsers"]});
    let rule = change(&app, Method::POST, "/api/v1/rules", body, StatusCode::CREATED).await;
    let path = format!("/api/v1/rules/{}/disable", rule["id"]);
    change(&app, Method::POST, &path, json!({}), StatusCode::OK).await;

    let entries = app.get_json("/api/v1/audit?limit=1000").await;
    let entries = entries.as_array().unwrap().clone();
    let created = entry(&entries, "create", "playbook", &playbook["id"]);
    assert_eq!(created["details"]["name"], "Phished password");
    let replaced = entry(&entries, "update", "playbook", &playbook["id"]);
    assert_eq!(replaced["details"]["before"]["steps"][0]["title"], "Find the phished account");
    assert_eq!(replaced["details"]["after"]["steps"][0]["title"], "Reset the password");
    assert_eq!(replaced["details"]["after"]["version"], 2);
    let zone = entry(&entries, "update", "preferences", &json!(1));
    assert_eq!(zone["details"]["before"]["time_zone"], Value::Null);
    assert_eq!(zone["details"]["after"]["time_zone"], "Asia/Kolkata");
    let added = entry(&entries, "create", "finding_rule", &rule["id"]);
    assert_eq!(added["details"]["patterns"], json!(["ListUsers"]));
    let disabled = entry(&entries, "update", "finding_rule", &rule["id"]);
    assert_eq!(disabled["details"]["before"]["enabled"], true);
    assert_eq!(disabled["details"]["after"]["enabled"], false);
}

/// Number of rows in the audit log.
async fn audit_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

/// Removes the head row of the audit chain, so that every append fails, and returns its values.
async fn break_audit_head(app: &TestApp) -> (i64, String) {
    let head: (i64, String) = sqlx::query_as("SELECT last_id, last_hash FROM audit_head WHERE id = 1")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_head").execute(&app.state.db.pool).await.unwrap();
    head
}

async fn restore_audit_head(app: &TestApp, head: (i64, String)) {
    sqlx::query("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, $1, $2)")
        .bind(head.0)
        .bind(head.1)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
}

/// Checks that every change made while the audit log cannot be written fails with 500 and keeps nothing:
/// the record written before the audit row is rolled back with it.
async fn failed_changes_leave_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (case, task) = case_with_key(&app).await;
    let base = format!("/api/v1/cases/{case}");
    let body = json!({"resource_type": "iam:user", "resource_id": "backdoor"});
    let resource = change(&app, Method::POST, &format!("{base}/resources"), body, StatusCode::CREATED).await;
    let body = json!({"kind": "cost", "description": "extra instances", "severity": "low"});
    let impact = change(&app, Method::POST, &format!("{base}/impacts"), body, StatusCode::CREATED).await;
    let before_rows = audit_rows(&app).await;
    let before_lists = case_lists(&app, case).await;

    let head = break_audit_head(&app).await;
    let attempts = [
        (Method::PATCH, format!("{base}/tasks/{task}"), json!({"version": 1, "status": "done"})),
        (Method::POST, format!("{base}/credentials/1/status"), json!({"status": "confirmed", "version": 1})),
        (
            Method::POST,
            format!("{base}/credentials/1/containment-actions"),
            json!({"kind": "disable_access_key", "authorised_by": "Lead", "result": "succeeded", "reversible": true}),
        ),
        (Method::POST, format!("{base}/impacts"), json!({"kind": "no_end_user_impact"})),
        (
            Method::PUT,
            format!("{base}/impacts/{}", impact["id"]),
            json!({"kind": "cost", "description": "changed", "severity": "high", "version": 1}),
        ),
        (Method::POST, format!("{base}/resources"), json!({"resource_type": "ec2:instance", "resource_id": "i-1"})),
        (
            Method::PUT,
            format!("{base}/resources/{}", resource["id"]),
            json!({"resource_type": "iam:user", "resource_id": "backdoor", "owner_name": "X", "version": 1}),
        ),
        (Method::POST, format!("{base}/resources/{}/recovery-actions", resource["id"]), json!({"kind": "destroy"})),
        (Method::POST, format!("{base}/timeline"), json!({"occurred_at": "2024-03-01T11:00:00Z", "title": "t"})),
        (
            Method::POST,
            format!("{base}/legal-clocks"),
            json!({"name": "Report", "aware_at": "2024-03-01T10:30:00Z", "deadline_hours": 72}),
        ),
        (Method::POST, format!("{base}/status-updates"), json!({"text": "Key disabled."})),
        (Method::POST, format!("{base}/communications"), json!({"channel": "phone", "recipient": "C", "subject": "S"})),
        (Method::POST, format!("{base}/severity"), json!({"severity": "P1"})),
        (Method::POST, format!("{base}/credentials/1/confirm"), json!({})),
        (
            Method::POST,
            "/api/v1/playbooks".to_string(),
            json!({"name": "New", "steps": [{"phase": "recovery", "title": "t"}]}),
        ),
        (Method::PUT, "/api/v1/preferences".to_string(), json!({"time_zone": "Asia/Kolkata"})),
        (
            Method::POST,
            "/api/v1/rules".to_string(),
            json!({"name": "user-enumeration", "category": "reconnaissance", "severity": "low", "patterns": ["ListUsers"]}),
        ),
        (Method::POST, "/api/v1/rules/1/disable".to_string(), json!({})),
    ];
    for (method, path, body) in attempts {
        let response = send(&app, method.clone(), &path, body).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR, "{method} {path}");
    }
    restore_audit_head(&app, head).await;

    assert_eq!(audit_rows(&app).await, before_rows, "no audit row written");
    assert_eq!(case_lists(&app, case).await, before_lists, "no record changed");
    let playbooks = app.get_json("/api/v1/playbooks").await;
    assert_eq!(playbooks.as_array().unwrap().len(), 1, "{playbooks}");
    let preferences = app.get_json("/api/v1/preferences").await;
    assert_eq!(preferences["time_zone"], Value::Null);
    let rules = app.get_json("/api/v1/rules").await;
    let rules = rules.as_array().unwrap();
    assert!(rules.iter().all(|rule| rule["name"] != "user-enumeration"), "no rule added");
    assert!(rules.iter().all(|rule| rule["enabled"] == true), "no rule disabled");
    let verification = app.get_json("/api/v1/audit/verify").await;
    assert_eq!(verification["first_break"], Value::Null, "{verification}");

    // With the audit log back, the same kind of change succeeds and is recorded.
    let body = json!({"version": 1, "status": "done"});
    change(&app, Method::PATCH, &format!("{base}/tasks/{task}"), body, StatusCode::OK).await;
    assert_eq!(audit_rows(&app).await, before_rows + 1);
}

/// Reads every workflow list of a case and the case itself, to compare before and after.
async fn case_lists(app: &TestApp, case: i64) -> Vec<Value> {
    let base = format!("/api/v1/cases/{case}");
    let mut lists = Vec::new();
    for section in [
        "", "/tasks", "/containment", "/credentials", "/impacts", "/resources", "/timeline", "/legal-clocks",
        "/status-updates", "/communications",
    ] {
        let mut value = app.get_json(&format!("{base}{section}")).await;
        // Times computed at each request differ between two reads.
        if section == "/containment" {
            for item in value.as_array_mut().unwrap() {
                item["verification"] = Value::Null;
            }
        }
        lists.push(value);
    }
    lists
}
