//! The post-incident report, its exports, the lessons learned and the manager dashboard.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{expect_status, spawn_app, Backend, TestApp};
use crate::on_both_backends;
use crate::trail_fixtures::{records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY};

on_both_backends!(
    empty_case_report_renders_every_section,
    full_case_report_exports_with_hashes_in_the_audit_log,
    lessons_learned_keep_versions_and_cmdb_confirmation,
    dashboard_counts_open_cases_and_times_of_closed_ones,
    report_email_reaches_its_followers,
    large_case_report_lists_are_bounded,
);

async fn move_to(app: &TestApp, case: i64, phase: &str) {
    let body = json!({"phase": phase, "force": true, "reason": "tasks tracked elsewhere for this test"});
    expect_status(app.post(&format!("/api/v1/cases/{case}/phase"), &body).await, StatusCode::OK).await;
}

async fn export(app: &TestApp, case: i64, format: &str) -> (Vec<u8>, String) {
    let response = app.get(&format!("/api/v1/cases/{case}/report/{format}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = response.headers()["x-report-sha256"].to_str().unwrap().to_string();
    let bytes = response.bytes().await.unwrap().to_vec();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), header);
    (bytes, header)
}

/// Text of the PDF's content streams, which Rekey writes uncompressed.
fn pdf_text(bytes: &[u8]) -> String {
    assert!(bytes.starts_with(b"%PDF-1."), "not a PDF");
    assert!(bytes.ends_with(b"%%EOF\n"));
    String::from_utf8_lossy(bytes).into_owned()
}

async fn empty_case_report_renders_every_section(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let body = json!({"title": "Reported key, nothing known yet", "severity": "P4", "detection_source": "other"});
    let case = expect_status(app.post("/api/v1/cases", &body).await, StatusCode::CREATED).await["number"]
        .as_i64()
        .unwrap();

    let report = app.get_json(&format!("/api/v1/cases/{case}/report")).await;
    assert_eq!(report["finding_total"], 0);
    assert_eq!(report["lessons"]["version"], 0);
    let times = report["times"].as_array().unwrap();
    assert_eq!(times.len(), 4);
    assert!(times.iter().all(|t| t["seconds"].is_null()), "no recorded times, nothing computed: {times:?}");
    assert!(times.iter().all(|t| !t["definition"].as_str().unwrap().is_empty()));

    let (markdown, _) = export(&app, case, "markdown").await;
    let markdown = String::from_utf8(markdown).unwrap();
    assert!(markdown.starts_with(&format!("# Post-incident report RK-{case}")), "{markdown}");
    for sentence in ["No credential was recorded.", "No findings were recorded.", "Impact has not been assessed.", "No evidence was kept."] {
        assert!(markdown.contains(sentence), "missing '{sentence}' in {markdown}");
    }
    let (pdf, _) = export(&app, case, "pdf").await;
    assert!(pdf_text(&pdf).contains(&format!("RK-{case}")));
}

async fn full_case_report_exports_with_hashes_in_the_audit_log(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    expect_status(app.upload(case, &[("trail.json", records_file(&standard_events()))]).await, StatusCode::CREATED).await;
    let impact = json!({"kind": "no_end_user_impact", "description": "Only the build account was touched"});
    expect_status(app.post(&format!("/api/v1/cases/{case}/impacts"), &impact).await, StatusCode::CREATED).await;
    for phase in ["containment", "eradication", "recovery", "post_incident"] {
        move_to(&app, case, phase).await;
    }
    let lessons = json!({"version": 0, "root_cause": "Key committed in a CI config file", "cmdb_updated": true});
    let put = app.request(Method::PUT, &format!("/api/v1/cases/{case}/lessons")).json(&lessons).send().await.unwrap();
    expect_status(put, StatusCode::OK).await;
    let action = json!({"description": "Enable secret scanning on every repository", "owner": "Platform team", "due_at": "2024-04-01T00:00:00+02:00"});
    expect_status(app.post(&format!("/api/v1/cases/{case}/improvements"), &action).await, StatusCode::CREATED).await;

    let report = app.get_json(&format!("/api/v1/cases/{case}/report")).await;
    assert_eq!(report["case"]["phase"], "post_incident");
    let times = report["times"].as_array().unwrap();
    let time_to_detect = times[0]["seconds"].as_i64().expect("compromise and opening times are recorded");
    assert!(time_to_detect > 0);
    for time in &times[1..] {
        assert!(time["seconds"].as_i64().unwrap() >= 0, "{time}");
    }
    assert_eq!(report["finding_total"], 1);
    assert_eq!(report["findings_by_category"][0]["findings"], 1);
    let credentials = report["credentials"].as_array().unwrap();
    assert!(credentials.iter().any(|c| c["access_key_id"] == LEAKED_KEY && c["proposed"] == false));
    assert!(credentials.iter().any(|c| c["principal_name"] == "backdoor" && c["proposed"] == true), "the created user is proposed");
    assert_eq!(report["phase_changes"].as_array().unwrap().len(), 4);
    assert_eq!(report["evidence"].as_array().unwrap().len(), 1, "the imported trail file: {}", report["evidence"]);
    assert_eq!(report["lessons"]["cmdb_updated"], true);
    assert_eq!(report["lessons"]["improvement_actions"][0]["owner"], "Platform team");
    assert_eq!(report["impacts"][0]["kind"], "no_end_user_impact");

    let (pdf, pdf_hash) = export(&app, case, "pdf").await;
    let text = pdf_text(&pdf);
    assert!(text.contains(&format!("Post-incident report RK-{case}")));
    assert!(text.contains("Time to detect: "), "computed times are in the PDF");
    assert!(text.contains("Key committed in a CI config file"));
    let (markdown, markdown_hash) = export(&app, case, "markdown").await;
    let markdown = String::from_utf8(markdown).unwrap();
    assert!(markdown.contains("Enable secret scanning on every repository"));
    assert!(markdown.contains("## Lessons learned"));
    assert!(markdown.contains("**backdoor:** Other, proposed from the trail, not confirmed"), "{markdown}");

    let audit = app.get_json(&format!("/api/v1/cases/{case}/audit")).await;
    let exports: Vec<&Value> = audit.as_array().unwrap().iter().filter(|row| row["action"] == "export").collect();
    let hashes: Vec<&str> = exports.iter().map(|row| row["details"]["sha256"].as_str().unwrap()).collect();
    assert!(hashes.contains(&pdf_hash.as_str()), "{hashes:?}");
    assert!(hashes.contains(&markdown_hash.as_str()), "{hashes:?}");

    let evidence = app.get_json(&format!("/api/v1/cases/{case}/evidence")).await;
    let detail = app.get_json(&format!("/api/v1/cases/{case}/evidence/{}", evidence[0]["id"])).await;
    let exported = detail["custody"].as_array().unwrap().iter().filter(|e| e["action"] == "export").count();
    assert_eq!(exported, 2, "each export is on the evidence's chain of custody");
}

async fn lessons_learned_keep_versions_and_cmdb_confirmation(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let path = format!("/api/v1/cases/{case}/lessons");
    let put = |body: Value| app.request(Method::PUT, &path).json(&body).send();

    let first = expect_status(put(json!({"version": 0, "what_worked": "Fast key rotation"})).await.unwrap(), StatusCode::OK).await;
    assert_eq!(first["version"], 1);
    assert_eq!(first["cmdb_updated"], false);
    let stale = put(json!({"version": 0, "what_worked": "Overwrite"})).await.unwrap();
    let body = expect_status(stale, StatusCode::CONFLICT).await;
    assert_eq!(body["error"]["current_version"], 1);

    let confirmed = expect_status(put(json!({"version": 1, "what_worked": "Fast key rotation", "cmdb_updated": true})).await.unwrap(), StatusCode::OK).await;
    assert_eq!(confirmed["cmdb_confirmed_by"], "Administrator");
    let confirmed_at = confirmed["cmdb_confirmed_at"].clone();
    assert!(!confirmed_at.is_null());
    let again = expect_status(put(json!({"version": 2, "what_worked": "Fast rotation", "cmdb_updated": true})).await.unwrap(), StatusCode::OK).await;
    assert_eq!(again["cmdb_confirmed_at"], confirmed_at, "the first confirmation is kept");

    let redacted = put(json!({"version": 3, "root_cause": "CI log printed password=Sup3rS3cretPw!"})).await.unwrap();
    let redacted = expect_status(redacted, StatusCode::OK).await;
    assert_eq!(redacted["root_cause"], "CI log printed password=[REDACTED]");
    let secret = put(json!({"version": 4, "root_cause": "key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY was in git"})).await.unwrap();
    let body = expect_status(secret, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["error"]["field"], "root_cause");

    let improvements = format!("/api/v1/cases/{case}/improvements");
    let no_zone = app.post(&improvements, &json!({"description": "Rotate keys", "owner": "Ops", "due_at": "2024-04-01T00:00:00"})).await;
    let body = expect_status(no_zone, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["error"]["field"], "due_at");
    let no_owner = app.post(&improvements, &json!({"description": "Rotate keys", "owner": " "})).await;
    assert_eq!(expect_status(no_owner, StatusCode::UNPROCESSABLE_ENTITY).await["error"]["field"], "owner");
    let added = expect_status(app.post(&improvements, &json!({"description": "Rotate keys", "owner": "Ops"})).await, StatusCode::CREATED).await;
    let id = added["improvement_actions"][0]["id"].as_i64().unwrap();
    let done = json!({"description": "Rotate keys", "owner": "Ops", "status": "done", "version": 1});
    let updated = app.request(Method::PUT, &format!("{improvements}/{id}")).json(&done).send().await.unwrap();
    assert_eq!(expect_status(updated, StatusCode::OK).await["improvement_actions"][0]["status"], "done");

    let audit = app.get_json(&format!("/api/v1/cases/{case}/audit")).await;
    let kinds: Vec<&str> = audit.as_array().unwrap().iter().map(|row| row["entity_type"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "lessons_learned").count(), 4);
    assert_eq!(kinds.iter().filter(|k| **k == "improvement_action").count(), 2);
}

async fn dashboard_counts_open_cases_and_times_of_closed_ones(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let open_case = app.create_case(COMPROMISE_TIME).await;
    move_to(&app, open_case, "containment").await;
    let closed_case = app.create_case(COMPROMISE_TIME).await;
    for phase in ["containment", "eradication", "recovery", "post_incident"] {
        move_to(&app, closed_case, phase).await;
    }
    let restricted = json!({"title": "Board member", "severity": "P1", "detection_source": "other", "restricted": true});
    expect_status(app.post("/api/v1/cases", &restricted).await, StatusCode::CREATED).await;

    let board = app.get_json("/api/v1/dashboard").await;
    assert_eq!(board["open_total"], 2);
    let closed = board["closed_cases"].as_array().unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["number"], closed_case);
    assert!(closed[0]["seconds_to_contain"].as_i64().unwrap() >= 0);
    assert!(closed[0]["seconds_to_recover"].as_i64().unwrap() >= 0);

    // A manager who is no member gets the cases that are not restricted.
    let manager = app.user_session("mara", "manager").await;
    let board = expect_status(manager.get("/api/v1/dashboard").await, StatusCode::OK).await;
    assert_eq!(board["open_total"], 1);
    assert_eq!(board["open_cases"], json!([{"phase": "containment", "severity": "P2", "cases": 1}]));
    assert_eq!(board["closed_cases"].as_array().unwrap().len(), 1);
}

async fn report_email_reaches_its_followers(backend: Backend) {
    use crate::mail::{app_with_mail, free_port, header, SmtpServer};

    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &temp.path().join("maildir"));
    let app = app_with_mail(backend, port).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    for (email, subscriptions) in [("counsel@example.com", json!(["post_incident_report"])), ("ops@example.com", json!(["status_updates"]))] {
        let body = json!({"name": email, "email": email, "role": "legal", "subscriptions": subscriptions});
        expect_status(app.post(&format!("/api/v1/cases/{case}/stakeholders"), &body).await, StatusCode::CREATED).await;
    }
    let lessons = json!({"version": 0, "root_cause": "Key in a CI log; token=hunter2secret was printed too"});
    let put = app.request(Method::PUT, &format!("/api/v1/cases/{case}/lessons")).json(&lessons).send().await.unwrap();
    expect_status(put, StatusCode::OK).await;

    let analyst = app.user_session("ana", "analyst").await;
    let add = json!({"username": "ana", "role": "analyst"});
    expect_status(app.post(&format!("/api/v1/cases/{case}/members"), &add).await, StatusCode::CREATED).await;
    let by_analyst = analyst.post(&format!("/api/v1/cases/{case}/report/send"), &json!({})).await;
    assert_eq!(by_analyst.status(), StatusCode::FORBIDDEN);

    let sent = app.post(&format!("/api/v1/cases/{case}/report/send"), &json!({"note": "Final report attached as a link."})).await;
    let sent = expect_status(sent, StatusCode::OK).await;
    assert_eq!(sent["recipients"], 1);

    let messages = crate::helpers::wait_for("the report email", std::time::Duration::from_secs(30), || async {
        let messages = smtp.messages();
        (!messages.is_empty()).then_some(messages)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1, "only the follower of the report gets it");
    let message = &messages[0];
    assert_eq!(header(message, "To").unwrap(), "counsel@example.com");
    let subject = header(message, "Subject").unwrap();
    assert!(subject.contains(&format!("[RK-{case}] post-incident report")), "{subject}");
    assert!(message.contains("Time to detect"), "{message}");
    assert!(message.contains(&format!("/cases/{case}/report")), "{message}");
    assert!(!message.contains("hunter2secret"), "secrets are redacted: {message}");
}

async fn large_case_report_lists_are_bounded(backend: Backend) {
    use crate::trail_fixtures::{event, lines_file};

    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    let events: Vec<Value> = (0..600)
        .map(|n| {
            let mut call = event(&format!("e-{n}"), "2024-03-01T10:30:00Z", "DeleteUser", LEAKED_KEY);
            call["requestParameters"]["userName"] = json!(format!("user-{n}"));
            call
        })
        .collect();
    expect_status(app.upload(case, &[("many.jsonl", lines_file(&events))]).await, StatusCode::CREATED).await;

    let report = app.get_json(&format!("/api/v1/cases/{case}/report")).await;
    assert_eq!(report["resources_total"], 600);
    assert_eq!(report["resources"].as_array().unwrap().len(), rekey_types::REPORT_LIST_LIMIT);
    assert!(report["timeline_total"].as_i64().unwrap() > 600);
    assert_eq!(report["timeline"].as_array().unwrap().len(), rekey_types::REPORT_LIST_LIMIT);
    let (markdown, _) = export(&app, case, "markdown").await;
    let markdown = String::from_utf8(markdown).unwrap();
    assert!(markdown.contains("100 more affected resources are listed in Rekey."), "{}", &markdown[..500]);
}
