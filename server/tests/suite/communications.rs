//! Stakeholder communication: subscriptions, templates and redaction, checked at a real SMTP
//! server.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_status, wait_for, Backend, TestApp};
use crate::mail::{add_stakeholder, app_with_mail, change_phase, free_port, header, SmtpServer};
use crate::trail_fixtures::{records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY};

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
