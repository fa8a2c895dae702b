//! Cases, credentials and stakeholders through the API.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_status, spawn_app, Backend};
use crate::on_both_backends;

on_both_backends!(
    case_create_open_list,
    case_invalid_input_names_field,
    case_numbers_unique_concurrently,
    credential_add_and_list,
    credential_secret_rejected,
    credential_invalid_key_named,
    stakeholder_add_and_validate,
    phase_change_queues_notifications,
    unknown_case_is_not_found,
    case_edit_sets_compromise_time,
    case_text_rejects_control_characters,
);

async fn case_create_open_list(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let body = json!({
        "title": "Access key in public repository",
        "summary": "Found by a scanner",
        "severity": "P1",
        "detection_source": "external_monitoring",
        "external_ref": "INC-4711",
        "compromise_time": "2023-07-10T14:20:00+02:00",
    });
    let created = expect_status(app.post("/api/v1/cases", &body).await, StatusCode::CREATED).await;
    assert_eq!(created["number"], 1);
    assert_eq!(created["reference"], "RK-1");
    assert_eq!(created["phase"], "identification");
    assert_eq!(created["compromise_time"], "2023-07-10T12:20:00Z");
    assert_eq!(created["external_ref"], "INC-4711");
    assert_eq!(created["created_by"], "Administrator");

    let opened = app.get_json("/api/v1/cases/1").await;
    assert_eq!(opened, created);
    let listed = app.get_json("/api/v1/cases").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["title"], "Access key in public repository");
}

async fn case_invalid_input_names_field(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let valid = json!({"title": "t", "severity": "P1", "detection_source": "other"});
    let cases = [
        ("compromise_time", json!({"compromise_time": "2023-07-10T12:20:00"}), "no time zone"),
        ("compromise_time", json!({"compromise_time": "last tuesday"}), "RFC 3339"),
        ("severity", json!({"severity": "urgent"}), "unknown variant"),
        ("title", json!({"title": "   "}), "title is missing"),
        ("detection_source", json!({"detection_source": 7}), "detection_source"),
    ];
    for (field, change, expected) in cases {
        let mut body = valid.clone();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let error = expect_status(app.post("/api/v1/cases", &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error["error"]["field"], field, "{body}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{field}: {message}");
    }
    let missing = json!({"severity": "P1", "detection_source": "other"});
    let error = expect_status(app.post("/api/v1/cases", &missing).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "title");

    let listed = app.get_json("/api/v1/cases").await;
    assert_eq!(listed.as_array().unwrap().len(), 0, "no case created by invalid input");
}

async fn case_numbers_unique_concurrently(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let body = json!({"title": "parallel", "severity": "P3", "detection_source": "other"});
    let requests = (0..16).map(|_| app.post("/api/v1/cases", &body));
    let responses = futures_util::future::join_all(requests).await;
    let mut numbers = Vec::new();
    for response in responses {
        let case = expect_status(response, StatusCode::CREATED).await;
        numbers.push(case["number"].as_i64().unwrap());
    }
    numbers.sort();
    assert_eq!(numbers, (1..=16).collect::<Vec<_>>());
}

async fn credential_add_and_list(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case("2023-07-10T12:20:00Z").await;
    let body = json!({
        "kind": "access_key",
        "access_key_id": "AKIATFQR7NSC8Q4X20BJ",
        "principal_type": "user",
        "principal_name": "deploy-bot",
        "account_id": "111122223333",
    });
    let path = format!("/api/v1/cases/{case}/credentials");
    let created = expect_status(app.post(&path, &body).await, StatusCode::CREATED).await;
    assert_eq!(created["status"], "suspected");
    assert_eq!(created["principal_type"], "user");

    let duplicate = expect_status(app.post(&path, &body).await, StatusCode::CONFLICT).await;
    assert_eq!(duplicate["error"]["field"], "access_key_id");

    let role = json!({"kind": "temporary_role_credentials", "principal_type": "role", "principal_name": "ci-deployer"});
    expect_status(app.post(&path, &role).await, StatusCode::CREATED).await;

    let listed = app.get_json(&path).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let case_json = app.get_json(&format!("/api/v1/cases/{case}")).await;
    assert_eq!(case_json["credential_count"], 2);
}

async fn credential_secret_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case("2023-07-10T12:20:00Z").await;
    let path = format!("/api/v1/cases/{case}/credentials");
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let attempts = [
        ("secret_access_key", json!({"kind": "access_key", "access_key_id": "AKIATFQR7NSC8Q4X20BJ", "secret_access_key": secret})),
        ("access_key_id", json!({"kind": "access_key", "access_key_id": secret})),
        ("notes", json!({"kind": "access_key", "access_key_id": "AKIATFQR7NSC8Q4X20BJ", "notes": format!("secret is {secret}")})),
    ];
    for (field, body) in attempts {
        let error = expect_status(app.post(&path, &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error["error"]["field"], field);
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("never stores secrets"), "{message}");
        assert!(!message.contains(secret), "the error repeats the secret: {message}");
    }
    let listed = app.get_json(&path).await;
    assert_eq!(listed.as_array().unwrap().len(), 0);
}

async fn credential_invalid_key_named(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case("2023-07-10T12:20:00Z").await;
    let path = format!("/api/v1/cases/{case}/credentials");
    let cases = [
        ("access_key_id", json!({"kind": "access_key", "access_key_id": "akia-lower"})),
        ("access_key_id", json!({"kind": "access_key"})),
        ("account_id", json!({"kind": "access_key", "access_key_id": "AKIATFQR7NSC8Q4X20BJ", "account_id": "12 34"})),
        ("kind", json!({"kind": "magic", "access_key_id": "AKIATFQR7NSC8Q4X20BJ"})),
        ("principal_name", json!({"kind": "other"})),
    ];
    for (field, body) in cases {
        let error = expect_status(app.post(&path, &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
}

async fn stakeholder_add_and_validate(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case("2023-07-10T12:20:00Z").await;
    let path = format!("/api/v1/cases/{case}/stakeholders");
    let body = json!({"name": "Dana Counsel", "email": "Dana@Example.com", "role": "legal"});
    let created = expect_status(app.post(&path, &body).await, StatusCode::CREATED).await;
    assert_eq!(created["email"], "dana@example.com");
    assert_eq!(created["role"], "legal");

    let duplicate = expect_status(app.post(&path, &body).await, StatusCode::CONFLICT).await;
    assert_eq!(duplicate["error"]["field"], "email");

    let bad_email = json!({"name": "X", "email": "not-an-address", "role": "legal"});
    let error = expect_status(app.post(&path, &bad_email).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "email");
    let bad_role = json!({"name": "X", "email": "x@example.com", "role": "king"});
    let error = expect_status(app.post(&path, &bad_role).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "role");

    let listed = app.get_json(&path).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

async fn phase_change_queues_notifications(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case("2023-07-10T12:20:00Z").await;
    for (name, email) in [("Dana", "dana@example.com"), ("Chris", "chris@example.com")] {
        let body = json!({"name": name, "email": email, "role": "communications"});
        expect_status(app.post(&format!("/api/v1/cases/{case}/stakeholders"), &body).await, StatusCode::CREATED).await;
    }
    let moved = app
        .post(
            &format!("/api/v1/cases/{case}/phase"),
            &json!({"phase": "containment", "force": true, "reason": "playbook tasks not part of this test"}),
        )
        .await;
    let moved = expect_status(moved, StatusCode::OK).await;
    assert_eq!(moved["phase"], "containment");

    let again = app
        .post(&format!("/api/v1/cases/{case}/phase"), &json!({"phase": "containment"}))
        .await;
    let again = expect_status(again, StatusCode::CONFLICT).await;
    assert_eq!(again["error"]["field"], "phase");

    let notifications = app.get_json(&format!("/api/v1/cases/{case}/notifications")).await;
    let notifications = notifications.as_array().unwrap();
    assert_eq!(notifications.len(), 2);
    for notification in notifications {
        assert_eq!(notification["status"], "queued", "mail is not configured, so it waits");
        let subject = notification["subject"].as_str().unwrap();
        assert!(subject.contains("[RK-1]"), "{subject}");
        assert!(subject.contains("Containment"), "{subject}");
    }
}

async fn unknown_case_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    for path in ["/api/v1/cases/99", "/api/v1/cases/99/findings", "/api/v1/cases/99/credentials"] {
        let error = expect_status(app.get(path).await, StatusCode::NOT_FOUND).await;
        assert_eq!(error["error"]["code"], "not_found", "{path}");
    }
    let error = expect_status(app.get("/api/v1/no-such-route").await, StatusCode::NOT_FOUND).await;
    assert_eq!(error["error"]["code"], "not_found");
}

async fn case_edit_sets_compromise_time(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let body = json!({"title": "time unknown at first", "severity": "P3", "detection_source": "other"});
    let created = expect_status(app.post("/api/v1/cases", &body).await, StatusCode::CREATED).await;
    assert_eq!(created["version"], 1);
    assert_eq!(created["compromise_time"], serde_json::Value::Null);

    let patch = |body: serde_json::Value| {
        app.request(reqwest::Method::PATCH, "/api/v1/cases/1").json(&body).send()
    };
    let edited = patch(json!({"version": 1, "compromise_time": "2023-07-10T14:20:00+02:00", "severity": "P1"}))
        .await
        .unwrap();
    let edited = expect_status(edited, StatusCode::OK).await;
    assert_eq!(edited["compromise_time"], "2023-07-10T12:20:00Z");
    assert_eq!(edited["severity"], "P1");
    assert_eq!(edited["title"], "time unknown at first", "fields left out stay");
    assert_eq!(edited["version"], 2);

    let stale = patch(json!({"version": 1, "title": "overwritten"})).await.unwrap();
    let stale = expect_status(stale, StatusCode::CONFLICT).await;
    assert_eq!(stale["error"]["field"], "version");
    let future = patch(json!({"version": 2, "compromise_time": "2999-01-01T00:00:00Z"})).await.unwrap();
    let future = expect_status(future, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(future["error"]["message"].as_str().unwrap().contains("in the future"));
    let missing_version = patch(json!({"title": "x"})).await.unwrap();
    let missing_version = expect_status(missing_version, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(missing_version["error"]["field"], "version");

    let case = app.get_json("/api/v1/cases/1").await;
    assert_eq!(case["title"], "time unknown at first");
    assert_eq!(case["version"], 2);
}

async fn case_text_rejects_control_characters(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let cases = [
        ("title", json!({"title": "evil\u{202E}live", "severity": "P1", "detection_source": "other"})),
        ("title", json!({"title": "two\nlines", "severity": "P1", "detection_source": "other"})),
        ("external_ref", json!({"title": "t", "external_ref": "A\u{0}B", "severity": "P1", "detection_source": "other"})),
    ];
    for (field, body) in cases {
        let error = expect_status(app.post("/api/v1/cases", &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    let multiline = json!({"title": "t", "summary": "line one\nline two", "severity": "P1", "detection_source": "other"});
    expect_status(app.post("/api/v1/cases", &multiline).await, StatusCode::CREATED).await;
}
