//! The case timeline and the user's time zone preference through the API.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_status, spawn_app, Backend, TestApp};
use crate::on_both_backends;
use crate::trail_fixtures::{records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY};

on_both_backends!(
    timeline_merges_case_records,
    timeline_entry_requires_zone,
    preferences_time_zone_saved,
);

async fn timeline(app: &TestApp, case: i64) -> Vec<Value> {
    let entries = app
        .get_json(&format!("/api/v1/cases/{case}/timeline"))
        .await;
    entries.as_array().unwrap().clone()
}

async fn timeline_merges_case_records(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    let credential = app
        .get_json(&format!("/api/v1/cases/{case}/credentials"))
        .await[0]["id"]
        .clone();
    let action = json!({
        "kind": "disable_access_key",
        "performed_at": "2024-03-01T10:02:00Z",
        "authorised_by": "Incident lead",
        "result": "succeeded",
        "reversible": true,
    });
    let path = format!("/api/v1/cases/{case}/credentials/{credential}/containment-actions");
    expect_status(app.post(&path, &action).await, StatusCode::CREATED).await;
    let upload = app
        .upload(case, &[("trail.json", records_file(&standard_events()))])
        .await;
    expect_status(upload, StatusCode::CREATED).await;
    let manual =
        json!({"occurred_at": "2024-03-01T11:01:00+01:00", "title": "Scanner alert received"});
    expect_status(
        app.post(&format!("/api/v1/cases/{case}/timeline"), &manual)
            .await,
        StatusCode::CREATED,
    )
    .await;
    let phase = json!({"phase": "containment", "force": true, "reason": "key is live"});
    expect_status(
        app.post(&format!("/api/v1/cases/{case}/phase"), &phase)
            .await,
        StatusCode::OK,
    )
    .await;

    let entries = timeline(&app, case).await;
    let sources: Vec<&str> = entries
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    for expected in [
        "compromise_time",
        "trail_event",
        "containment_action",
        "manual",
        "case",
        "credential",
        "credential_status",
        "trail_import",
        "phase_change",
    ] {
        assert!(
            sources.contains(&expected),
            "{expected} missing from {sources:?}"
        );
    }
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "entries in time order");

    assert_eq!(entries[0]["source"], "compromise_time");
    assert_eq!(entries[0]["at"], "2024-03-01T10:00:00Z");
    assert_eq!(entries[0]["category"], "incident");
    assert_eq!(entries[1]["source"], "trail_event");
    assert_eq!(entries[1]["title"], "CreateUser");
    assert_eq!(entries[2]["source"], "manual");
    assert_eq!(entries[2]["at"], "2024-03-01T10:01:00Z", "stored in UTC");
    assert_eq!(entries[3]["source"], "containment_action");
    assert_eq!(entries[3]["category"], "response");
    let phase_change = entries
        .iter()
        .find(|e| e["source"] == "phase_change")
        .unwrap();
    assert!(phase_change["detail"]
        .as_str()
        .unwrap()
        .contains("key is live"));
    assert_eq!(phase_change["actor"], "Administrator");
}

async fn timeline_entry_requires_zone(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let path = format!("/api/v1/cases/{case}/timeline");
    let cases = [
        (
            "occurred_at",
            json!({"occurred_at": "2024-03-01T11:01:00", "title": "t"}),
            "no time zone",
        ),
        (
            "occurred_at",
            json!({"occurred_at": "at noon", "title": "t"}),
            "RFC 3339",
        ),
        (
            "title",
            json!({"occurred_at": "2024-03-01T11:01:00Z", "title": " "}),
            "title is missing",
        ),
        (
            "title",
            json!({"occurred_at": "2024-03-01T11:01:00Z"}),
            "missing field",
        ),
    ];
    for (field, body, expected) in cases {
        let error = expect_status(
            app.post(&path, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(error["error"]["field"], field, "{body}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
    }
    let manual = timeline(&app, case)
        .await
        .into_iter()
        .filter(|e| e["source"] == "manual")
        .count();
    assert_eq!(manual, 0, "invalid entries store nothing");
}

async fn preferences_time_zone_saved(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    assert_eq!(
        app.get_json("/api/v1/preferences").await,
        json!({"time_zone": null})
    );

    let put = |body: Value| {
        app.request(Method::PUT, "/api/v1/preferences")
            .json(&body)
            .send()
    };
    let saved = expect_status(
        put(json!({"time_zone": "Asia/Kolkata"})).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(saved["time_zone"], "Asia/Kolkata");
    assert_eq!(
        app.get_json("/api/v1/preferences").await["time_zone"],
        "Asia/Kolkata"
    );

    for bad in ["Europe/", "Mars Base", "../../etc/passwd"] {
        let response = put(json!({"time_zone": bad})).await.unwrap();
        let error = expect_status(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error["error"]["field"], "time_zone", "{bad}");
    }
    assert_eq!(
        app.get_json("/api/v1/preferences").await["time_zone"],
        "Asia/Kolkata"
    );

    let cleared = expect_status(put(json!({"time_zone": ""})).await.unwrap(), StatusCode::OK).await;
    assert!(cleared["time_zone"].is_null());
}
