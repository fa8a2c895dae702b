//! Stakeholder communication: subscriptions, templates and redaction, checked at a real SMTP
//! server.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_status, wait_for, Backend, TestApp};
use crate::mail::{add_stakeholder, app_with_mail, app_with_mail_and, change_phase, free_port, header, SmtpServer};
use crate::trail_fixtures::{records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY};

/// Shaped like a secret access key, which every email redacts.
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// Adds a stakeholder who receives only `subscriptions`.
async fn add_subscriber(app: &TestApp, case: i64, email: &str, subscriptions: &[&str]) -> serde_json::Value {
    let body = json!({
        "name": email,
        "email": email,
        "role": "technical",
        "subscriptions": subscriptions,
    });
    let response = app.post(&format!("/api/v1/cases/{case}/stakeholders"), &body).await;
    expect_status(response, StatusCode::CREATED).await
}

/// Subjects received per recipient, each list sorted.
fn subjects_by_recipient(messages: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut subjects: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for message in messages {
        let to = header(message, "To").expect("To header");
        let subject = header(message, "Subject").expect("Subject header");
        subjects.entry(to).or_default().push(subject);
    }
    for list in subjects.values_mut() {
        list.sort();
    }
    subjects
}

/// Waits until exactly `count` messages arrived and no more follow within half a second.
async fn wait_for_messages(smtp: &SmtpServer, count: usize) -> Vec<String> {
    wait_for(&format!("{count} emails"), Duration::from_secs(30), || async {
        let messages = smtp.messages();
        (messages.len() >= count).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), count, "{:#?}", subjects_by_recipient(&messages));
    messages
}

async fn events_reach_subscribers_only(backend: Backend) {
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &temp.path().join("maildir"));
    let app = app_with_mail(backend, port).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;

    add_subscriber(&app, case, "phase@example.com", &["phase_changes"]).await;
    add_subscriber(&app, case, "severity@example.com", &["severity_changes"]).await;
    add_subscriber(&app, case, "containment@example.com", &["containment_complete"]).await;
    add_subscriber(&app, case, "findings@example.com", &["findings"]).await;
    let nothing = add_subscriber(&app, case, "nothing@example.com", &[]).await;
    assert_eq!(nothing["subscriptions"], json!([]));
    let everything = add_stakeholder(&app, case, "Everything", "all@example.com", "management").await;

    change_phase(&app, case, "containment").await;
    let raised = app.post(&format!("/api/v1/cases/{case}/severity"), &json!({"severity": "P1"})).await;
    let raised = expect_status(raised, StatusCode::OK).await;
    assert_eq!(raised["severity"], "P1");
    let upload = app.upload(case, &[("trail.json", records_file(&standard_events()))]).await;
    expect_status(upload, StatusCode::CREATED).await;
    change_phase(&app, case, "eradication").await;

    let messages = wait_for_messages(&smtp, 9).await;
    let subjects = subjects_by_recipient(&messages);
    let expected: &[(&str, &[&str])] = &[
        ("all@example.com", &["eradication finding", "containment complete", "moved to Containment", "severity raised to P1"]),
        ("containment@example.com", &["containment complete"]),
        ("findings@example.com", &["eradication finding"]),
        ("phase@example.com", &["moved to Containment", "moved to Eradication"]),
        ("severity@example.com", &["severity raised to P1 critical"]),
    ];
    assert_eq!(subjects.len(), expected.len(), "{subjects:#?}");
    for (recipient, fragments) in expected {
        let received = subjects.get(*recipient).unwrap_or_else(|| panic!("no email to {recipient}"));
        assert_eq!(received.len(), fragments.len(), "{recipient}: {received:?}");
        for (subject, fragment) in received.iter().zip(fragments.iter()) {
            assert!(subject.contains(fragment), "{recipient}: {subject:?} lacks {fragment:?}");
        }
    }

    // Every email of the case threads under one root and carries a plain-text and an HTML part.
    for message in &messages {
        assert_eq!(header(message, "In-Reply-To").as_deref(), Some("<case-1@rekey.test>"));
        assert_eq!(header(message, "References").as_deref(), Some("<case-1@rekey.test>"));
        assert!(message.contains("multipart/alternative"), "{message}");
        assert!(message.contains("text/html"), "{message}");
        assert!(message.contains("<a href=\"http://rekey.test/cases/1\">"), "{message}");
    }

    // The lead changes a stakeholder's subscriptions.
    let id = everything;
    let path = format!("/api/v1/cases/{case}/stakeholders/{id}/subscriptions");
    let response = app
        .request(reqwest::Method::PUT, &path)
        .json(&json!({"subscriptions": ["status_updates"]}))
        .send()
        .await
        .unwrap();
    let updated = expect_status(response, StatusCode::OK).await;
    assert_eq!(updated["subscriptions"], json!(["status_updates"]));
    change_phase(&app, case, "recovery").await;
    let messages = wait_for_messages(&smtp, 10).await;
    let subjects = subjects_by_recipient(&messages);
    assert_eq!(subjects["all@example.com"].len(), 4, "{subjects:#?}");
    assert_eq!(subjects["phase@example.com"].len(), 3, "{subjects:#?}");
}

crate::on_both_backends!(events_reach_subscribers_only);

async fn stakeholder_roles_and_audience(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let path = format!("/api/v1/cases/{case}/stakeholders");

    let roles = [
        "legal",
        "communications",
        "technical",
        "developers",
        "management",
        "resource_owner",
        "law_enforcement",
        "regulator",
        "external_party",
    ];
    for (index, role) in roles.iter().enumerate() {
        let body = json!({
            "name": format!("Person {index}"),
            "email": format!("person{index}@example.com"),
            "role": role,
            "audience": if index % 2 == 0 { "internal" } else { "external" },
        });
        let created = expect_status(app.post(&path, &body).await, StatusCode::CREATED).await;
        assert_eq!(created["role"], *role);
        assert_eq!(created["subscriptions"].as_array().unwrap().len(), 6, "{created}");
    }
    let listed = app.get_json(&path).await;
    let audiences: Vec<&str> = listed.as_array().unwrap().iter().map(|s| s["audience"].as_str().unwrap()).collect();
    assert_eq!(audiences[..3], ["internal", "external", "internal"]);

    let bad_role = json!({"name": "X", "email": "x@example.com", "role": "journalist"});
    let rejected = expect_status(app.post(&path, &bad_role).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(rejected["error"]["message"].as_str().unwrap().contains("role"), "{rejected}");
    let bad_kind = json!({"name": "X", "email": "x@example.com", "role": "legal", "subscriptions": ["gossip"]});
    let rejected = expect_status(app.post(&path, &bad_kind).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(rejected["error"]["message"].as_str().unwrap().contains("subscriptions"), "{rejected}");
}

crate::on_both_backends!(stakeholder_roles_and_audience);

async fn post_update(app: &TestApp, case: i64, text: &str) -> serde_json::Value {
    let response = app.post(&format!("/api/v1/cases/{case}/status-updates"), &json!({"text": text})).await;
    expect_status(response, StatusCode::CREATED).await
}

async fn status_update_reaches_subscribers(backend: Backend) {
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &temp.path().join("maildir"));
    let app = app_with_mail(backend, port).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    add_subscriber(&app, case, "updates@example.com", &["status_updates"]).await;
    add_subscriber(&app, case, "phase@example.com", &["phase_changes"]).await;

    let update = post_update(&app, case, "Key disabled at 10:40 UTC.\n\nNext: db_password=hunter22 rotated.").await;
    assert_eq!(update["recipients"], 1);
    assert_eq!(update["redactions"], json!(["password"]));
    assert_eq!(update["created_by"], "Administrator");
    let text = update["text"].as_str().unwrap();
    assert!(!text.contains("hunter22"), "{text}");
    assert!(text.contains("db_password=[REDACTED]"), "{text}");

    let messages = wait_for_messages(&smtp, 1).await;
    assert_eq!(header(&messages[0], "To").as_deref(), Some("updates@example.com"));
    assert!(header(&messages[0], "Subject").unwrap().contains("status update"), "{}", messages[0]);
    assert!(messages[0].contains("Key disabled at 10:40 UTC."), "{}", messages[0]);
    assert!(!messages[0].contains("hunter22"), "{}", messages[0]);

    let listed = app.get_json(&format!("/api/v1/cases/{case}/status-updates")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["text"], update["text"]);

    let empty = app.post(&format!("/api/v1/cases/{case}/status-updates"), &json!({"text": "  "})).await;
    let empty = expect_status(empty, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(empty["error"]["field"], "text");
}

crate::on_both_backends!(status_update_reaches_subscribers);

/// Each kind of secret, as it might appear in a case title and in a status update, and a
/// fragment of the secret that must not reach the SMTP server.
const SECRETS: &[(&str, &str, &str)] = &[
    ("cloud_secret_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "K7MDENG"),
    ("password", "password=Tr0ub4dor&3", "Tr0ub4dor"),
    ("bearer_token", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJhbGci"),
    (
        "private_key",
        "-----BEGIN EC PRIVATE KEY----- MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5 -----END EC PRIVATE KEY-----",
        "MHcCAQEEIBkg",
    ),
    ("api_token", "ghp_R4nd0mT0k3nR4nd0mT0k3nR4nd0mT0k3n12", "ghp_R4nd0m"),
];

async fn redaction_in_subject_and_body(backend: Backend) {
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &temp.path().join("maildir"));
    let app = app_with_mail(backend, port).await;
    app.login_admin().await;

    for (index, (kind, secret, fragment)) in SECRETS.iter().enumerate() {
        let body = json!({
            "title": format!("Leak {index}: {secret}"),
            "severity": "P2",
            "detection_source": "anonymous_report",
        });
        let case = expect_status(app.post("/api/v1/cases", &body).await, StatusCode::CREATED).await;
        let case = case["number"].as_i64().unwrap();
        add_subscriber(&app, case, &format!("reader{index}@example.com"), &["status_updates"]).await;
        let update = post_update(&app, case, &format!("Found in the paste: {secret}")).await;
        assert_eq!(update["redactions"], json!([kind]), "{kind}");

        let messages = wait_for_messages(&smtp, index + 1).await;
        let message = messages
            .iter()
            .find(|m| header(m, "To").as_deref() == Some(format!("reader{index}@example.com").as_str()))
            .unwrap_or_else(|| panic!("no email for {kind}"));
        let subject = header(message, "Subject").unwrap();
        assert!(!subject.contains(fragment), "{kind} in subject: {subject}");
        assert!(subject.contains("[REDACTED]"), "{kind}: {subject}");
        assert!(!message.contains(fragment), "{kind} in body:\n{message}");
        assert!(message.contains("Found in the paste: "), "{kind}:\n{message}");
    }
}

crate::on_both_backends!(redaction_in_subject_and_body);

async fn overdue_update_reminds_lead(backend: Backend) {
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &temp.path().join("maildir"));
    let app = crate::helpers::spawn_app_with(backend, |settings| {
        settings.smtp_host = "127.0.0.1".to_string();
        settings.smtp_port = port;
        settings.smtp_security = rekey::config::SmtpSecurity::None;
        settings.status_cadence_p2_seconds = 3;
    })
    .await;
    let password = "lead password for tests";
    let lead = rekey::auth::create_user(
        &app.state.db,
        "lead",
        "Lee Lead",
        Some("lead@example.com"),
        rekey_types::UserRole::Analyst,
        password,
    )
    .await;
    assert!(lead.is_ok());
    let login = app.post("/api/v1/session", &json!({"username": "lead", "password": password})).await;
    expect_status(login, StatusCode::OK).await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let schedule_path = format!("/api/v1/cases/{case}/status-schedule");

    let schedule = app.get_json(&schedule_path).await;
    assert_eq!(schedule["cadence_seconds"], 3);
    assert_eq!(schedule["overdue"], false);

    // Three seconds after creation without an update, the case is overdue and the lead hears.
    let schedule = wait_for("an overdue status update", Duration::from_secs(15), || async {
        let schedule = app.get_json(&schedule_path).await;
        (schedule["overdue"] == true).then_some(schedule)
    })
    .await;
    let overdue = app.get_json("/api/v1/status-updates/overdue").await;
    assert_eq!(overdue[0]["case_number"], case);
    assert_eq!(overdue[0]["due_at"], schedule["due_at"]);
    let messages = wait_for_messages(&smtp, 1).await;
    assert_eq!(header(&messages[0], "To").as_deref(), Some("lead@example.com"));
    assert!(header(&messages[0], "Subject").unwrap().contains("status update overdue"), "{}", messages[0]);

    // An update clears the flag and starts the next period, which earns one more reminder.
    post_update(&app, case, "Still investigating.").await;
    let schedule = app.get_json(&schedule_path).await;
    assert_eq!(schedule["overdue"], false);
    assert!(schedule["last_update_at"].is_string(), "{schedule}");
    let overdue = app.get_json("/api/v1/status-updates/overdue").await;
    assert_eq!(overdue, json!([]));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let messages = wait_for_messages(&smtp, 2).await;
    let reminders = messages.iter().filter(|m| header(m, "To").as_deref() == Some("lead@example.com")).count();
    assert_eq!(reminders, 2);
}

crate::on_both_backends!(overdue_update_reminds_lead);

async fn record(app: &TestApp, case: i64, body: serde_json::Value) -> serde_json::Value {
    let response = app.post(&format!("/api/v1/cases/{case}/communications"), &body).await;
    expect_status(response, StatusCode::CREATED).await
}

async fn communications_log_in_order(backend: Backend) {
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &temp.path().join("maildir"));
    let app = app_with_mail(backend, port).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    add_stakeholder(&app, case, "Dana", "dana@example.com", "legal").await;

    let call = record(
        &app,
        case,
        json!({
            "channel": "phone",
            "recipient": "Dana (counsel)",
            "subject": "First briefing",
            "content": "Explained the leak and the next steps.",
            "occurred_at": "2024-03-01T11:00:00+01:00",
        }),
    )
    .await;
    assert_eq!(call["sender"], "Administrator");
    assert_eq!(call["recorded_by"], "Administrator");
    assert_eq!(call["at"], "2024-03-01T10:00:00Z");
    assert_eq!(call["redactions"], json!([]));
    change_phase(&app, case, "containment").await;
    wait_for_messages(&smtp, 1).await;
    let filing = record(
        &app,
        case,
        json!({
            "channel": "portal",
            "sender": "Dana",
            "recipient": "Data protection authority",
            "subject": "Breach notification filed",
            "content": "Reference 2024-77. Portal login password: Pa55word!",
        }),
    )
    .await;
    assert_eq!(filing["sender"], "Dana");
    assert_eq!(filing["redactions"], json!(["password"]));
    assert!(!filing["content"].as_str().unwrap().contains("Pa55word"), "{filing}");

    let log = wait_for("the email logged as sent", Duration::from_secs(10), || async {
        let log = app.get_json(&format!("/api/v1/cases/{case}/communications")).await;
        (log[1]["delivery"] == "sent").then_some(log)
    })
    .await;
    let log = log.as_array().unwrap();
    let channels: Vec<&str> = log.iter().map(|entry| entry["channel"].as_str().unwrap()).collect();
    assert_eq!(channels, ["phone", "email", "portal"]);
    assert_eq!(log[0]["key"], call["key"]);
    assert_eq!(log[1]["recipient"], "dana@example.com");
    assert_eq!(log[1]["delivery"], "sent");
    assert!(log[1]["subject"].as_str().unwrap().contains("moved to Containment"), "{}", log[1]);
    assert_eq!(log[2]["key"], filing["key"]);
    assert!(log[2]["delivery"].is_null(), "{}", log[2]);

    let path = format!("/api/v1/cases/{case}/communications");
    let no_zone = json!({"channel": "phone", "recipient": "X", "subject": "Y", "occurred_at": "2024-03-01T11:00:00"});
    let rejected = expect_status(app.post(&path, &no_zone).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(rejected["error"]["field"], "occurred_at");
    let no_recipient = json!({"channel": "phone", "recipient": " ", "subject": "Y"});
    let rejected = expect_status(app.post(&path, &no_recipient).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(rejected["error"]["field"], "recipient");
}

crate::on_both_backends!(communications_log_in_order);

async fn legal_clock_reminds_lead(backend: Backend) {
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &temp.path().join("maildir"));
    let app = app_with_mail(backend, port).await;
    let password = "lead password for tests";
    let lead = rekey::auth::create_user(
        &app.state.db,
        "lead",
        "Lee Lead",
        Some("lead@example.com"),
        rekey_types::UserRole::Analyst,
        password,
    )
    .await;
    assert!(lead.is_ok());
    let login = app.post("/api/v1/session", &json!({"username": "lead", "password": password})).await;
    expect_status(login, StatusCode::OK).await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let path = format!("/api/v1/cases/{case}/legal-clocks");

    // Aware 71 hours ago: one hour is left of 72, inside the 12-hour reminder window.
    let aware_at = (chrono::Utc::now() - chrono::Duration::hours(71)).to_rfc3339();
    let body = json!({"name": "Regulator breach report", "aware_at": aware_at, "deadline_hours": 72});
    let urgent = expect_status(app.post(&path, &body).await, StatusCode::CREATED).await;
    let seconds_left = urgent["seconds_left"].as_i64().unwrap();
    assert!((3500..=3600).contains(&seconds_left), "{urgent}");
    let fresh_body = json!({"name": "Customer notice", "aware_at": chrono::Utc::now().to_rfc3339(), "deadline_hours": 72});
    let fresh = expect_status(app.post(&path, &fresh_body).await, StatusCode::CREATED).await;

    let messages = wait_for_messages(&smtp, 1).await;
    assert_eq!(header(&messages[0], "To").as_deref(), Some("lead@example.com"));
    assert!(header(&messages[0], "Subject").unwrap().contains("legal deadline approaching"), "{}", messages[0]);
    assert!(messages[0].contains("Regulator breach report"), "{}", messages[0]);
    let clocks = app.get_json(&path).await;
    assert!(clocks[0]["reminded_at"].is_string(), "{clocks}");
    assert!(clocks[1]["reminded_at"].is_null(), "{clocks}");

    let fresh_id = fresh["id"].as_i64().unwrap();
    let met = app.post(&format!("{path}/{fresh_id}/met"), &json!({})).await;
    let met = expect_status(met, StatusCode::OK).await;
    assert!(met["met_at"].is_string(), "{met}");

    let zero = json!({"name": "X", "aware_at": aware_at, "deadline_hours": 0});
    let rejected = expect_status(app.post(&path, &zero).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(rejected["error"]["field"], "deadline_hours");
    let no_zone = json!({"name": "X", "aware_at": "2024-03-01T10:00:00", "deadline_hours": 72});
    let rejected = expect_status(app.post(&path, &no_zone).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(rejected["error"]["field"], "aware_at");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1, "one reminder per clock");
}

crate::on_both_backends!(legal_clock_reminds_lead);

/// Adds a stakeholder who follows findings of `threshold` or higher, and phase changes.
async fn add_findings_follower(app: &TestApp, case: i64, email: &str, threshold: Option<&str>) {
    let mut body = json!({"name": email, "email": email, "role": "technical", "subscriptions": ["findings", "phase_changes"]});
    if let Some(threshold) = threshold {
        body["finding_min_severity"] = json!(threshold);
    }
    let response = app.post(&format!("/api/v1/cases/{case}/stakeholders"), &body).await;
    let stakeholder = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(stakeholder["finding_min_severity"], threshold.unwrap_or("low"));
}

/// Checks that each follower of findings gets one redacted email per import, which lists only
/// the new findings at or above their threshold. A follower gets nothing when none reaches it.
async fn findings_email_respects_threshold(backend: Backend) {
    use crate::trail_fixtures::event;
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &temp.path().join("maildir"));
    let app = app_with_mail(backend, port).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    add_findings_follower(&app, case, "all@example.com", None).await;
    add_findings_follower(&app, case, "medium@example.com", Some("medium")).await;
    add_findings_follower(&app, case, "high@example.com", Some("high")).await;
    add_subscriber(&app, case, "phases@example.com", &["phase_changes"]).await;
    let invalid = json!({"name": "X", "email": "x@example.com", "role": "legal", "finding_min_severity": "urgent"});
    let rejected = app.post(&format!("/api/v1/cases/{case}/stakeholders"), &invalid).await;
    let rejected = expect_status(rejected, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(rejected["error"]["field"], "finding_min_severity", "{rejected}");
    assert!(rejected["error"]["message"].as_str().unwrap().contains("medium"), "{rejected}");

    // One high finding whose user name is shaped like a secret key, two medium and one low.
    let mut create_user = event("e-user", "2024-03-01T10:01:00Z", "CreateUser", LEAKED_KEY);
    create_user["requestParameters"] = json!({"userName": SECRET_KEY});
    let mut denied = event("e-denied", "2024-03-01T10:04:00Z", "DescribeInstances", LEAKED_KEY);
    denied["errorCode"] = json!("AccessDenied");
    let first = vec![
        create_user,
        event("e-delete", "2024-03-01T10:02:00Z", "DeleteBucket", LEAKED_KEY),
        event("e-run", "2024-03-01T10:03:00Z", "RunInstances", LEAKED_KEY),
        denied,
    ];
    let upload = app.upload(case, &[("first.json", records_file(&first))]).await;
    let outcome = expect_status(upload, StatusCode::CREATED).await;
    assert_eq!(outcome["findings_new"], 4, "{outcome}");
    let findings = app.get_json(&format!("/api/v1/cases/{case}/findings")).await;
    let severities: Vec<&str> = findings.as_array().unwrap().iter().map(|f| f["severity"].as_str().unwrap()).collect();
    assert_eq!(severities, ["high", "medium", "medium", "low"], "{findings:#}");

    let messages = wait_for_messages(&smtp, 3).await;
    let by_recipient = |recipient: &str| -> Vec<String> {
        messages.iter().filter(|m| header(m, "To").as_deref() == Some(recipient)).cloned().collect()
    };
    let all = by_recipient("all@example.com");
    assert_eq!(all.len(), 1, "one email for the whole import");
    assert!(header(&all[0], "Subject").unwrap().contains("4 new eradication finding(s)"), "{}", all[0]);
    assert!(all[0].contains("By severity: 1 high, 2 medium, 1 low."), "{}", all[0]);
    for call in ["CreateUser", "DeleteBucket", "RunInstances", "DescribeInstances"] {
        assert!(all[0].contains(call), "{call} missing: {}", all[0]);
    }
    let medium = by_recipient("medium@example.com");
    assert_eq!(medium.len(), 1);
    let subject = header(&medium[0], "Subject").unwrap();
    assert!(subject.contains("3 new eradication finding(s) of severity medium or higher"), "{subject}");
    assert!(medium[0].contains("DeleteBucket"), "{}", medium[0]);
    assert!(medium[0].contains("RunInstances"), "{}", medium[0]);
    assert!(!medium[0].contains("DescribeInstances"), "low finding left out: {}", medium[0]);
    let high = by_recipient("high@example.com");
    assert_eq!(high.len(), 1);
    assert!(header(&high[0], "Subject").unwrap().contains("1 new eradication finding(s) of severity high"), "{}", high[0]);
    assert!(high[0].contains("CreateUser"), "{}", high[0]);
    assert!(!high[0].contains("DeleteBucket"), "{}", high[0]);
    assert!(by_recipient("phases@example.com").is_empty());
    for message in &messages {
        assert!(!message.contains(SECRET_KEY), "secret in email: {message}");
        assert!(message.contains("[REDACTED]"), "{message}");
    }

    // A second import with only a medium finding reaches the low and medium thresholds only.
    let second = vec![event("e-delete-2", "2024-03-01T10:05:00Z", "DeleteBucket", LEAKED_KEY)];
    let upload = app.upload(case, &[("second.json", records_file(&second))]).await;
    expect_status(upload, StatusCode::CREATED).await;
    let messages = wait_for_messages(&smtp, 5).await;
    let subjects = subjects_by_recipient(&messages);
    assert_eq!(subjects["all@example.com"].len(), 2, "{subjects:#?}");
    assert_eq!(subjects["medium@example.com"].len(), 2, "{subjects:#?}");
    assert_eq!(subjects["high@example.com"].len(), 1, "{subjects:#?}");
    let notifications = app.get_json(&format!("/api/v1/cases/{case}/notifications")).await;
    assert_eq!(notifications.as_array().unwrap().len(), 5, "{notifications:#}");
}

crate::on_both_backends!(findings_email_respects_threshold);

/// Creates a user with the password `{username} password for tests`.
async fn create_user(app: &TestApp, username: &str, email: Option<&str>, role: rekey_types::UserRole) {
    let password = format!("{username} password for tests");
    let created = rekey::auth::create_user(&app.state.db, username, username, email, role, &password).await;
    assert!(created.is_ok(), "{created:?}");
}

/// Checks that reminders go to every lead of the case with an email address, and not to its
/// creator once she is no longer a lead. A case whose leads have no address reminds its creator.
async fn reminders_reach_case_leads(backend: Backend) {
    use rekey_types::UserRole;
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &temp.path().join("maildir"));
    let app = app_with_mail_and(backend, port, |settings| settings.status_cadence_p1_seconds = 1).await;
    create_user(&app, "cara", Some("cara@example.com"), UserRole::IncidentLead).await;
    create_user(&app, "lena", Some("lena@example.com"), UserRole::Analyst).await;
    create_user(&app, "liam", Some("liam@example.com"), UserRole::Analyst).await;
    create_user(&app, "noel", None, UserRole::Analyst).await;
    create_user(&app, "otto", Some("otto@example.com"), UserRole::Analyst).await;
    let cara = app.session_for("cara", "cara password for tests").await;

    // Case 1: Lena and Liam lead, Otto and Cara, who opened it, are analysts.
    // Case 2: Noel, who has no email address, is its only lead.
    let body = json!({"title": "Leads", "severity": "P2", "detection_source": "other", "compromise_time": COMPROMISE_TIME});
    let mut cases = Vec::new();
    for members in [&[("lena", "lead"), ("liam", "lead"), ("otto", "analyst"), ("cara", "analyst")][..], &[("noel", "lead"), ("cara", "analyst")]] {
        let case = expect_status(cara.post("/api/v1/cases", &body).await, StatusCode::CREATED).await;
        let case = case["number"].as_i64().unwrap();
        for (username, role) in members {
            let member = json!({"username": username, "role": role});
            expect_status(cara.post(&format!("/api/v1/cases/{case}/members"), &member).await, StatusCode::CREATED).await;
        }
        cases.push(case);
    }
    // At P1 an update is due one second after creation, so both cases become overdue.
    for case in &cases {
        let raised = cara.post(&format!("/api/v1/cases/{case}/severity"), &json!({"severity": "P1"})).await;
        expect_status(raised, StatusCode::OK).await;
    }
    let aware_at = (chrono::Utc::now() - chrono::Duration::hours(71)).to_rfc3339();
    let clock = json!({"name": "Regulator breach report", "aware_at": aware_at, "deadline_hours": 72});
    let path = format!("/api/v1/cases/{}/legal-clocks", cases[0]);
    expect_status(cara.post(&path, &clock).await, StatusCode::CREATED).await;

    let messages = wait_for_messages(&smtp, 5).await;
    let mut received: Vec<(String, String)> = messages
        .iter()
        .map(|message| {
            let subject = header(message, "Subject").unwrap();
            let reference = subject.split(']').next().unwrap().trim_start_matches('[').to_string();
            let kind = if subject.contains("status update overdue") { "overdue" } else { "legal" };
            (header(message, "To").unwrap(), format!("{reference} {kind}"))
        })
        .collect();
    received.sort();
    let expected = [
        ("cara@example.com", "RK-2 overdue"),
        ("lena@example.com", "RK-1 legal"),
        ("lena@example.com", "RK-1 overdue"),
        ("liam@example.com", "RK-1 legal"),
        ("liam@example.com", "RK-1 overdue"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(to, what)| (to.to_string(), what.to_string())).collect();
    assert_eq!(received, expected);
}

crate::on_both_backends!(reminders_reach_case_leads);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_email_reports_smtp_reply() {
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let app = app_with_mail(Backend::Sqlite, port).await;
    app.login_admin().await;
    let body = json!({"to": "admin@example.com"});

    // Nothing listens yet: the connection error comes back, with no reply code.
    let down = expect_status(app.post("/api/v1/admin/test-email", &body).await, StatusCode::OK).await;
    assert_eq!(down["accepted"], false);
    assert!(down["code"].is_null(), "{down}");
    assert!(!down["reply"].as_str().unwrap().is_empty(), "{down}");

    let smtp = SmtpServer::start(port, &temp.path().join("maildir"));
    let up = expect_status(app.post("/api/v1/admin/test-email", &body).await, StatusCode::OK).await;
    assert_eq!(up["accepted"], true, "{up}");
    assert_eq!(up["code"], 250);
    let messages = wait_for_messages(&smtp, 1).await;
    assert_eq!(header(&messages[0], "Subject").as_deref(), Some("Rekey test email"));

    let invalid = app.post("/api/v1/admin/test-email", &json!({"to": "not an address"})).await;
    let invalid = expect_status(invalid, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(invalid["error"]["field"], "to");

    // An analyst may not send one.
    let password = "analyst password for tests";
    let analyst =
        rekey::auth::create_user(&app.state.db, "ana", "Ana", None, rekey_types::UserRole::Analyst, password).await;
    assert!(analyst.is_ok());
    let client = crate::helpers::new_client();
    let send = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{}{path}", app.base))
            .header("X-Requested-With", "rekey")
            .json(&body)
            .send()
    };
    let login = send("/api/v1/session", json!({"username": "ana", "password": password})).await.unwrap();
    expect_status(login, StatusCode::OK).await;
    let forbidden = send("/api/v1/admin/test-email", body).await.unwrap();
    expect_status(forbidden, StatusCode::FORBIDDEN).await;
}

async fn case_saved_redacted(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    app.login_admin().await;
    let body = json!({
        "title": "Key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY in a gist",
        "summary": "Found with curl -H 'Authorization: Bearer abcdef123456789' and DB_PASSWORD=hunter22.",
        "severity": "P2",
        "detection_source": "anonymous_report",
    });
    let created = expect_status(app.post("/api/v1/cases", &body).await, StatusCode::CREATED).await;
    assert_eq!(created["redactions"], json!(["cloud_secret_key", "password", "bearer_token"]));
    assert_eq!(created["title"], "Key [REDACTED] in a gist");
    let summary = created["summary"].as_str().unwrap();
    assert!(!summary.contains("abcdef123456789"), "{summary}");
    assert!(!summary.contains("hunter22"), "{summary}");

    let number = created["number"].as_i64().unwrap();
    let stored = app.get_json(&format!("/api/v1/cases/{number}")).await;
    assert_eq!(stored["summary"], created["summary"]);
    assert!(stored.get("redactions").is_none(), "{stored}");
}

crate::on_both_backends!(case_saved_redacted);

/// Two Rekey instances on one PostgreSQL database remind the lead once per overdue update.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_remind_once() {
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &temp.path().join("maildir"));
    let first = crate::helpers::spawn_app_with(Backend::Postgres, |settings| {
        settings.smtp_host = "127.0.0.1".to_string();
        settings.smtp_port = port;
        settings.smtp_security = rekey::config::SmtpSecurity::None;
        settings.status_cadence_p2_seconds = 1;
    })
    .await;
    let mut settings = (*first.state.settings).clone();
    settings.listen = "127.0.0.1:0".parse().unwrap();
    let second = rekey::build(settings).await.expect("second instance builds");
    let (_stop_second, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(second.serve(async {
        let _ = stopped.await;
    }));

    let password = "lead password for tests";
    let lead = rekey::auth::create_user(
        &first.state.db,
        "lead",
        "Lee Lead",
        Some("lead@example.com"),
        rekey_types::UserRole::Analyst,
        password,
    )
    .await;
    assert!(lead.is_ok());
    let login = first.post("/api/v1/session", &json!({"username": "lead", "password": password})).await;
    expect_status(login, StatusCode::OK).await;
    for _ in 0..3 {
        first.create_case(COMPROMISE_TIME).await;
    }

    // Each case is overdue one second after creation and stays so with the same due time.
    wait_for_messages(&smtp, 3).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 3, "one reminder per case");
    let mut subjects: Vec<String> = messages.iter().map(|m| header(m, "Subject").unwrap()).collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
}
