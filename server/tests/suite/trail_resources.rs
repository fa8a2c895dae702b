//! Affected resources of findings, extracted from their events.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_status, spawn_app, Backend};
use crate::on_both_backends;
use crate::trail_fixtures::{event, records_file, COMPROMISE_TIME, LEAKED_KEY};

on_both_backends!(findings_list_affected_resources);

async fn findings_list_affected_resources(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;

    let mut attach = event("e-attach", "2024-03-01T10:01:00Z", "AttachUserPolicy", LEAKED_KEY);
    attach["requestParameters"] = json!({
        "userName": "backdoor",
        "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"
    });
    let mut run = event("e-run", "2024-03-01T10:02:00Z", "RunInstances", LEAKED_KEY);
    run["eventSource"] = json!("ec2.amazonaws.com");
    run["requestParameters"] = json!({"imageId": "ami-1"});
    run["responseElements"] = json!({
        "instancesSet": {"items": [{"instanceId": "i-1"}, {"instanceId": "i-2"}]}
    });
    let import = app.upload(case, &[("trail.json", records_file(&[attach, run]))]).await;
    expect_status(import, StatusCode::CREATED).await;

    let findings = app.get_json(&format!("/api/v1/cases/{case}/findings")).await;
    assert_eq!(
        findings[0]["resources"],
        json!(["backdoor", "arn:aws:iam::aws:policy/AdministratorAccess"])
    );
    assert_eq!(findings[1]["resources"], json!(["ami-1", "i-1", "i-2"]));
}
