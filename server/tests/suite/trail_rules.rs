//! Finding rules as data: the built-in set, rules admins add, and disabled rules.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_status, new_client, spawn_app, Backend, TestApp};
use crate::on_both_backends;
use crate::trail_fixtures::{event, records_file, COMPROMISE_TIME, LEAKED_KEY};

on_both_backends!(
    rules_list_builtin_set,
    rules_added_rule_makes_findings,
    rules_disabled_rule_skipped,
    rules_invalid_input_rejected,
    rules_need_admin,
);

async fn rules(app: &TestApp) -> Vec<Value> {
    app.get_json("/api/v1/rules").await.as_array().unwrap().clone()
}

async fn rule_id(app: &TestApp, name: &str) -> i64 {
    let rules = rules(app).await;
    let rule = rules.iter().find(|rule| rule["name"] == name).unwrap();
    rule["id"].as_i64().unwrap()
}

async fn case_with_leaked_key(app: &TestApp) -> i64 {
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    case
}

async fn findings(app: &TestApp, case: i64) -> Vec<Value> {
    let findings = app.get_json(&format!("/api/v1/cases/{case}/findings")).await;
    findings.as_array().unwrap().clone()
}

async fn rules_list_builtin_set(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let rules = rules(&app).await;
    assert_eq!(rules.len(), rekey_trail::RULES.len());
    assert!(rules.iter().all(|rule| rule["builtin"] == true && rule["enabled"] == true));
    let names: Vec<&str> = rules.iter().map(|rule| rule["name"].as_str().unwrap()).collect();
    let expected: Vec<&str> = rekey_trail::RULES.iter().map(|rule| rule.name).collect();
    assert_eq!(names, expected, "stored in the built-in order");

    let categories: Vec<&str> = rules.iter().map(|rule| rule["category"].as_str().unwrap()).collect();
    assert!(categories.contains(&"reconnaissance"));
    assert!(categories.contains(&"defence_evasion"));
    let logging = rules.iter().find(|rule| rule["name"] == "logging-tampering").unwrap();
    assert_eq!(logging["severity"], "high");
    assert!(logging["patterns"].as_array().unwrap().contains(&json!("StopLogging")));

    rekey::rules::seed_builtin_rules(&app.state.db).await.unwrap();
    assert_eq!(self::rules(&app).await.len(), rules.len(), "seeding twice adds nothing");
}

async fn rules_added_rule_makes_findings(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let body = json!({
        "name": "user-enumeration",
        "category": "reconnaissance",
        "severity": "low",
        "provider": "aws",
        "patterns": ["ListUsers", " ListGroups* "]
    });
    let rule = expect_status(app.post("/api/v1/rules", &body).await, StatusCode::CREATED).await;
    assert_eq!(rule["builtin"], false);
    assert_eq!(rule["enabled"], true);
    assert_eq!(rule["patterns"], json!(["ListUsers", "ListGroups*"]));

    let events = [
        event("e-list", "2024-03-01T10:01:00Z", "ListUsers", LEAKED_KEY),
        event("e-groups", "2024-03-01T10:02:00Z", "ListGroupsForUser", LEAKED_KEY),
        event("e-roles", "2024-03-01T10:03:00Z", "ListRoles", LEAKED_KEY),
    ];
    let import = app.upload(case, &[("trail.json", records_file(&events))]).await;
    let import = expect_status(import, StatusCode::CREATED).await;
    assert_eq!(import["findings_new"], 2, "ListRoles stays a plain trail event");
    let findings = findings(&app, case).await;
    assert_eq!(findings[0]["rule"], "user-enumeration");
    assert_eq!(findings[0]["category"], "reconnaissance");
    assert_eq!(findings[0]["severity"], "low");
    assert_eq!(findings[1]["event_id"], "e-groups");

    let duplicate = app.post("/api/v1/rules", &body).await;
    let duplicate = expect_status(duplicate, StatusCode::CONFLICT).await;
    assert_eq!(duplicate["error"]["field"], "name");
}

async fn rules_disabled_rule_skipped(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let id = rule_id(&app, "user-creation").await;
    let disabled = app.post(&format!("/api/v1/rules/{id}/disable"), &json!({})).await;
    let disabled = expect_status(disabled, StatusCode::OK).await;
    assert_eq!(disabled["enabled"], false);

    let events = [event("e-user", "2024-03-01T10:01:00Z", "CreateUser", LEAKED_KEY)];
    let import = app.upload(case, &[("trail.json", records_file(&events))]).await;
    expect_status(import, StatusCode::CREATED).await;
    let findings = findings(&app, case).await;
    assert_eq!(findings[0]["rule"], "resource-creation", "the next matching rule applies");
    assert_eq!(findings[0]["severity"], "medium");

    let enabled = app.post(&format!("/api/v1/rules/{id}/enable"), &json!({})).await;
    assert_eq!(expect_status(enabled, StatusCode::OK).await["enabled"], true);
    rekey::rules::seed_builtin_rules(&app.state.db).await.unwrap();
    let missing = app.post("/api/v1/rules/99999/disable", &json!({})).await;
    expect_status(missing, StatusCode::NOT_FOUND).await;
}

async fn rules_invalid_input_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let valid = json!({"name": "r", "category": "reconnaissance", "severity": "low", "patterns": ["ListUsers"]});
    let cases = [
        ("name", json!("Bad Name")),
        ("name", json!("-leading")),
        ("category", json!("espionage")),
        ("severity", json!("critical")),
        ("provider", json!("gcp")),
        ("patterns", json!([])),
        ("patterns", json!(["*"])),
        ("patterns", json!(["List Users"])),
        ("patterns", json!("ListUsers")),
    ];
    for (field, value) in cases {
        let mut body = valid.clone();
        body[field] = value.clone();
        let response = app.post("/api/v1/rules", &body).await;
        let error = expect_status(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error["error"]["field"], field, "{field}: {value}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty(), "{field}: {value}");
    }
    assert_eq!(rules(&app).await.len(), rekey_trail::RULES.len(), "nothing was added");
}

async fn rules_need_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    let password = "analyst-password-42";
    rekey::auth::create_user(&app.state.db, "ana", "Ana", None, rekey_types::UserRole::Analyst, password)
        .await
        .unwrap();
    let client = new_client();
    let login = client
        .post(format!("{}/api/v1/session", app.base))
        .header("X-Requested-With", "rekey")
        .json(&json!({"username": "ana", "password": password}))
        .send()
        .await
        .unwrap();
    expect_status(login, StatusCode::OK).await;

    let requests = [
        (Method::GET, "/api/v1/rules"),
        (Method::POST, "/api/v1/rules"),
        (Method::POST, "/api/v1/rules/1/disable"),
    ];
    for (method, path) in requests {
        let response = client
            .request(method.clone(), format!("{}{path}", app.base))
            .header("X-Requested-With", "rekey")
            .json(&json!({"name": "r", "category": "reconnaissance", "severity": "low", "patterns": ["X"]}))
            .send()
            .await
            .unwrap();
        expect_status(response, StatusCode::FORBIDDEN).await;
    }
}
