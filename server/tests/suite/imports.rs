//! Trail imports through the API and the command line.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_status, spawn_app, spawn_app_with, Backend, TestApp};
use crate::on_both_backends;
use crate::trail_fixtures::{
    event, gzip, lines_file, records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY, OTHER_KEY,
};

on_both_backends!(
    import_keeps_key_calls_after_compromise,
    import_twice_adds_nothing,
    import_reads_gzip_and_lines,
    import_broken_line_keeps_nothing,
    import_matches_principal_without_key,
    import_needs_compromise_time,
    import_queues_findings_email,
    import_failure_records_files,
    import_gzip_over_limit_rejected,
    import_redacts_session_token,
    import_progress_survives_leaving,
    import_keeps_readable_part,
    import_parses_only_lines_of_case_credentials,
);

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

async fn import_keeps_key_calls_after_compromise(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let response = app.upload(case, &[("trail.json", records_file(&standard_events()))]).await;
    let import = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(import["status"], "completed");
    assert_eq!(import["events_read"], 4);
    assert_eq!(import["events_matched"], 2, "only the leaked key at or after the compromise time");
    assert_eq!(import["events_new"], 2);
    assert_eq!(import["findings_new"], 1, "DescribeInstances is not a finding");
    assert_eq!(import["files"][0]["name"], "trail.json");
    assert_eq!(import["files"][0]["sha256"].as_str().unwrap().len(), 64);

    let findings = findings(&app, case).await;
    assert_eq!(findings.len(), 1);
    let finding = &findings[0];
    assert_eq!(finding["event_id"], "e-create-user");
    assert_eq!(finding["event_name"], "CreateUser");
    assert_eq!(finding["event_source"], "iam.amazonaws.com");
    assert_eq!(finding["source_ip"], "203.0.113.7");
    assert_eq!(finding["access_key_id"], LEAKED_KEY);
    assert_eq!(finding["event_time"], "2024-03-01T10:00:00Z");
    assert_eq!(finding["resource"], "backdoor");
    assert_eq!(finding["error_code"], Value::Null);
    assert!(!finding["rule"].as_str().unwrap().is_empty());
}

async fn import_twice_adds_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let file = records_file(&standard_events());
    expect_status(app.upload(case, &[("a.json", file.clone())]).await, StatusCode::CREATED).await;
    let second = expect_status(app.upload(case, &[("a.json", file)]).await, StatusCode::CREATED).await;
    assert_eq!(second["events_matched"], 2);
    assert_eq!(second["events_new"], 0);
    assert_eq!(second["findings_new"], 0);
    assert_eq!(findings(&app, case).await.len(), 1);
    let imports = app.get_json(&format!("/api/v1/cases/{case}/imports")).await;
    assert_eq!(imports.as_array().unwrap().len(), 2);
}

async fn import_reads_gzip_and_lines(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let failed_call = {
        let mut call = event("e-denied", "2024-03-01T11:00:00Z", "AttachUserPolicy", LEAKED_KEY);
        call["errorCode"] = json!("AccessDenied");
        call
    };
    let files = [
        ("records.json.gz", gzip(&records_file(&standard_events()))),
        ("lines.jsonl", lines_file(&[event("e-key", "2024-03-01T10:30:00Z", "CreateAccessKey", LEAKED_KEY)])),
        ("lines.gz", gzip(&lines_file(&[failed_call]))),
    ];
    let import = expect_status(app.upload(case, &files).await, StatusCode::CREATED).await;
    assert_eq!(import["files"].as_array().unwrap().len(), 3);
    assert_eq!(import["events_read"], 6);
    assert_eq!(import["findings_new"], 3);

    let findings = findings(&app, case).await;
    let names: Vec<&str> = findings.iter().map(|f| f["event_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["CreateUser", "CreateAccessKey", "AttachUserPolicy"], "ordered by event time");
    assert_eq!(findings[2]["error_code"], "AccessDenied");
}

async fn import_broken_line_keeps_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let mut broken = lines_file(&standard_events());
    broken.extend_from_slice(b"{\"eventID\": \"cut off\n");
    let files = [
        ("good.json", records_file(&[event("e-good", "2024-03-01T10:10:00Z", "DeleteUser", LEAKED_KEY)])),
        ("broken.jsonl", broken),
    ];
    let error = expect_status(app.upload(case, &files).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("broken.jsonl"), "{message}");
    assert!(message.contains("line 5"), "{message}");
    assert!(message.contains("Nothing was imported"), "{message}");
    assert_eq!(error["error"]["field"], "files");

    assert!(findings(&app, case).await.is_empty(), "the good file's finding is rolled back too");
    let imports = app.get_json(&format!("/api/v1/cases/{case}/imports")).await;
    let imports = imports.as_array().unwrap();
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0]["status"], "failed");
    assert!(imports[0]["error"].as_str().unwrap().contains("broken.jsonl"));
    let message = imports[0]["error"].as_str().unwrap();
    assert!(message.contains("Nothing was imported from good.json, broken.jsonl"), "{message}");
    let stored: Vec<(i64,)> = sqlx::query_as("SELECT COUNT(*) FROM trail_events")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(stored[0].0, 0);
}

async fn import_matches_principal_without_key(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let body = json!({"kind": "iam_user_password", "principal_type": "user", "principal_name": "deploy-bot"});
    expect_status(app.post(&format!("/api/v1/cases/{case}/credentials"), &body).await, StatusCode::CREATED).await;
    let import = app.upload(case, &[("trail.json", records_file(&standard_events()))]).await;
    let import = expect_status(import, StatusCode::CREATED).await;
    // Both keys belong to deploy-bot, so three calls from the compromise time on match.
    assert_eq!(import["events_matched"], 3);
    let names: Vec<String> = findings(&app, case)
        .await
        .iter()
        .map(|f| f["event_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["CreateUser", "CreateAccessKey"]);
}

async fn import_needs_compromise_time(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let body = json!({"title": "no time yet", "severity": "P3", "detection_source": "other"});
    let case = expect_status(app.post("/api/v1/cases", &body).await, StatusCode::CREATED).await;
    let case = case["number"].as_i64().unwrap();
    app.add_access_key(case, LEAKED_KEY).await;
    let error = app.upload(case, &[("trail.json", records_file(&standard_events()))]).await;
    let error = expect_status(error, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "compromise_time");
}

async fn import_queues_findings_email(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let body = json!({"name": "Dana", "email": "dana@example.com", "role": "legal"});
    expect_status(app.post(&format!("/api/v1/cases/{case}/stakeholders"), &body).await, StatusCode::CREATED).await;
    expect_status(app.upload(case, &[("t.json", records_file(&standard_events()))]).await, StatusCode::CREATED).await;
    let notifications = app.get_json(&format!("/api/v1/cases/{case}/notifications")).await;
    let notifications = notifications.as_array().unwrap();
    assert_eq!(notifications.len(), 1);
    let subject = notifications[0]["subject"].as_str().unwrap();
    assert!(subject.contains("1 new eradication finding"), "{subject}");
}

async fn import_failure_records_files(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let good = records_file(&standard_events());
    let files = [("good.json", good.clone()), ("broken.jsonl", b"{oops}\n".to_vec())];
    expect_status(app.upload(case, &files).await, StatusCode::UNPROCESSABLE_ENTITY).await;

    let imports = app.get_json(&format!("/api/v1/cases/{case}/imports")).await;
    let failed = &imports[0];
    assert_eq!(failed["status"], "failed");
    let names: Vec<&str> = failed["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["good.json", "broken.jsonl"]);
    assert_eq!(failed["files"][0]["size"], good.len());
    assert_eq!(failed["files"][1]["size"], 7);
    assert_eq!(failed["files"][0]["sha256"].as_str().unwrap().len(), 64);
}

async fn import_gzip_over_limit_rejected(backend: Backend) {
    let app = spawn_app_with(backend, |settings| settings.max_decompressed_mb = 1).await;
    let case = case_with_leaked_key(&app).await;
    let many: Vec<Value> = (0..6_000)
        .map(|i| event(&format!("e-{i}"), "2024-03-01T10:00:00Z", "DescribeInstances", LEAKED_KEY))
        .collect();
    let file = lines_file(&many);
    assert!(file.len() > 1024 * 1024, "the file must pass the 1 MB limit");
    let error = app.upload(case, &[("big.jsonl.gz", gzip(&file))]).await;
    let error = expect_status(error, StatusCode::UNPROCESSABLE_ENTITY).await;
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("big.jsonl.gz: the decompressed content is larger than the limit of 1 MB"), "{message}");
    assert!(message.contains("max_decompressed_mb"), "{message}");
    let stored: Vec<(i64,)> = sqlx::query_as("SELECT COUNT(*) FROM trail_events").fetch_all(&app.state.db.pool).await.unwrap();
    assert_eq!(stored[0].0, 0);
}

async fn import_redacts_session_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let mut call = event("e-assume", "2024-03-01T10:05:00Z", "AssumeRole", LEAKED_KEY);
    call["responseElements"] = json!({"credentials": {"accessKeyId": "ASIAEXAMPLENEW00001", "sessionToken": "FwoGZXIvYXdzSECRETTOKEN"}});
    let mut other = event("e-other", "2024-03-01T10:06:00Z", "AssumeRole", OTHER_KEY);
    other["responseElements"] = json!({"credentials": {"sessionToken": "FwoGZXIvYXdzOTHERTOKEN"}});
    let import = app.upload(case, &[("t.json", records_file(&[call, other]))]).await;
    expect_status(import, StatusCode::CREATED).await;

    // Only the leaked key's call is stored; the other key's call stays in the kept file.
    let rows: Vec<(String,)> = sqlx::query_as("SELECT raw FROM trail_events")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let raw = &rows[0].0;
    assert!(!raw.contains("SECRETTOKEN"), "{raw}");
    assert!(raw.contains("[REDACTED]"), "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_import_trail_on_sqlite() {
    let app = spawn_app(Backend::Sqlite).await;
    let case = case_with_leaked_key(&app).await;
    let file = app.data_dir.join("cli-trail.json");
    std::fs::write(&file, records_file(&standard_events())).unwrap();
    let database_url = format!("sqlite://{}?mode=rwc", app.data_dir.join("rekey.db").display());

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rekey"))
        // The data directory contains the evidence store, which would otherwise be made in the
        // working directory.
        .arg("--data-dir")
        .arg(&app.data_dir)
        .args(["--database-url", &database_url, "import-trail", "--case", &format!("RK-{case}")])
        .arg(&file)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("4 events read, 2 matched, 2 new, 1 new findings"), "{stdout}");
    assert_eq!(findings(&app, case).await.len(), 1);

    let missing = tokio::process::Command::new(env!("CARGO_BIN_EXE_rekey"))
        .arg("--data-dir")
        .arg(&app.data_dir)
        .args(["--database-url", &database_url, "import-trail", "--case", "99"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("case 99 not found"));
}

/// Starts a large import, watches its progress, and drops the request: the import finishes on
/// the server all the same.
async fn import_progress_survives_leaving(backend: Backend) {
    use crate::trail_fixtures::{event, lines_file};

    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    // Storing 40,000 calls of the leaked key takes a while; read-only calls make no findings.
    let events: Vec<Value> = (0..40_000)
        .map(|n| event(&format!("bulk-{n}"), "2024-03-01T11:00:00Z", "ListBuckets", LEAKED_KEY))
        .collect();
    let file = lines_file(&events);

    let base = app.base.clone();
    let client = app.client.clone();
    let upload = tokio::spawn(async move {
        let part = reqwest::multipart::Part::bytes(file).file_name("bulk.jsonl");
        client
            .post(format!("{base}/api/v1/cases/{case}/imports"))
            .header("X-Requested-With", "rekey")
            .multipart(reqwest::multipart::Form::new().part("files", part))
            .send()
            .await
    });
    let running = crate::helpers::wait_for("the running import", std::time::Duration::from_secs(60), || async {
        let running = app.get_json(&format!("/api/v1/cases/{case}/imports/running")).await;
        let first = running.as_array()?.first()?.clone();
        (first["bytes_total"].as_u64()? > 0).then_some(first)
    })
    .await;
    assert_eq!(running["files"], json!(["bulk.jsonl"]));
    assert_eq!(running["started_by"], "Administrator");
    upload.abort();

    let imports = crate::helpers::wait_for("the import to finish", std::time::Duration::from_secs(120), || async {
        let imports = app.get_json(&format!("/api/v1/cases/{case}/imports")).await;
        let done = imports.as_array()?.iter().any(|import| import["status"] == "completed");
        done.then_some(imports)
    })
    .await;
    assert_eq!(imports[0]["events_read"], 40_000);
    // The files are kept as evidence after the import commits; then the entry goes.
    crate::helpers::wait_for("the running list to empty", std::time::Duration::from_secs(60), || async {
        let running = app.get_json(&format!("/api/v1/cases/{case}/imports/running")).await;
        (running == json!([])).then_some(())
    })
    .await;
    let evidence = app.get_json(&format!("/api/v1/cases/{case}/evidence")).await;
    assert_eq!(evidence[0]["original_name"], "bulk.jsonl", "the file is kept although the client left");
}

/// After a failed import the analyst may keep what could be read: the good files, and every
/// event of a broken one but the damaged.
async fn import_keeps_readable_part(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let mut broken = lines_file(&standard_events());
    broken.extend_from_slice(b"{\"eventID\": \"cut off\n");
    broken.extend_from_slice(&lines_file(&[event("e-after-break", "2024-03-01T10:20:00Z", "DeleteRole", LEAKED_KEY)]));
    let good = records_file(&[event("e-good", "2024-03-01T10:10:00Z", "DeleteUser", LEAKED_KEY)]);

    let form = |choice: &str| {
        reqwest::multipart::Form::new()
            .text("on_error", choice.to_string())
            .part("files", reqwest::multipart::Part::bytes(good.clone()).file_name("good.json"))
            .part("files", reqwest::multipart::Part::bytes(broken.clone()).file_name("broken.jsonl"))
    };
    let path = format!("/api/v1/cases/{case}/imports");
    let unknown = app.request(reqwest::Method::POST, &path).multipart(form("maybe")).send().await.unwrap();
    let body = expect_status(unknown, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["error"]["field"], "on_error");

    let kept = app.request(reqwest::Method::POST, &path).multipart(form("keep_readable")).send().await.unwrap();
    let import = expect_status(kept, StatusCode::CREATED).await;
    assert_eq!(import["status"], "completed");
    assert_eq!(import["events_read"], 6, "the good file's event and every line but the damaged one");
    let note = import["error"].as_str().unwrap();
    assert!(note.contains("broken.jsonl line 5"), "{note}");
    assert_eq!(import["files"].as_array().unwrap().len(), 2);

    let names: Vec<String> = findings(&app, case).await.iter().map(|f| f["event_id"].as_str().unwrap().to_string()).collect();
    assert!(names.contains(&"e-good".to_string()), "{names:?}");
    assert!(names.contains(&"e-create-user".to_string()), "{names:?}");
    assert!(names.contains(&"e-after-break".to_string()), "the events after a damaged line are kept: {names:?}");
}

/// In a file with one event per line, only the lines that hold a case credential's key id or
/// name are parsed. Other lines are counted and checked to hold one object each.
async fn import_parses_only_lines_of_case_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_leaked_key(&app).await;
    let mut other = event("e-other", "2024-03-01T10:06:00Z", "DeleteUser", OTHER_KEY);
    other["eventTime"] = json!(5);
    let mut file = lines_file(&standard_events());
    file.extend_from_slice(&lines_file(&[other]));
    let import = expect_status(app.upload(case, &[("mixed.jsonl", file.clone())]).await, StatusCode::CREATED).await;
    assert_eq!(import["events_read"], 5, "every line is counted");
    assert_eq!(import["events_matched"], 2);

    // The same damage in a line of the leaked key is reported with its line.
    let mut leaked = event("e-bad", "2024-03-01T10:07:00Z", "DeleteUser", LEAKED_KEY);
    leaked["eventTime"] = json!(5);
    let mut broken = file.clone();
    broken.extend_from_slice(&lines_file(&[leaked]));
    let error = expect_status(app.upload(case, &[("broken.jsonl", broken)]).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("broken.jsonl line 6"), "{message}");
    assert!(message.contains("eventTime"), "{message}");

    // A line that is not an object is rejected, whichever key it contains.
    let mut garbage = file;
    garbage.extend_from_slice(b"not json at all\n");
    let error = expect_status(app.upload(case, &[("garbage.jsonl", garbage)]).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("garbage.jsonl line 6"), "{message}");
}
