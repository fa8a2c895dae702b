//! Trail imports of the other export forms: zip archives, `lookup-events` output, JSON arrays
//! and CTS traces, through the API and the command line.

use std::io::{Cursor, Write};

use reqwest::StatusCode;
use serde_json::{json, Value};
use zip::write::SimpleFileOptions;
use zip::ZipWriter;

use crate::helpers::{expect_status, spawn_app, Backend, TestApp};
use crate::on_both_backends;
use crate::trail_fixtures::{
    event, gzip, records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY,
};

/// Access key of a Huawei Cloud user, as CTS records it in `user.access_key_id`.
const CTS_KEY: &str = "HSTAEXAMPLEKEY000001";

on_both_backends!(
    import_reads_zip_archive,
    import_reads_lookup_events_and_array,
    import_reads_cts_traces,
    import_broken_zip_entry_keeps_nothing,
    zip_keep_readable_reads_later_entries,
);

async fn case_with_keys(app: &TestApp) -> i64 {
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    app.add_access_key(case, CTS_KEY).await;
    case
}

async fn finding_ids(app: &TestApp, case: i64) -> Vec<String> {
    let findings = app
        .get_json(&format!("/api/v1/cases/{case}/findings"))
        .await;
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["event_id"].as_str().unwrap().to_owned())
        .collect()
}

fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        writer
            .start_file(*name, SimpleFileOptions::default())
            .unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn lookup_events_file(events: &[Value]) -> Vec<u8> {
    let entries: Vec<Value> = events
        .iter()
        .map(|event| {
            json!({
                "EventId": event["eventID"],
                "EventName": event["eventName"],
                "CloudTrailEvent": event.to_string(),
            })
        })
        .collect();
    serde_json::to_vec_pretty(&json!({ "Events": entries })).unwrap()
}

/// Builds a CTS trace made with `key` at `time`, given as epoch milliseconds or a string.
fn cts_trace(id: &str, name: &str, time: Value, key: &str) -> Value {
    json!({
        "trace_id": id,
        "trace_name": name,
        "trace_rating": "normal",
        "trace_type": "ApiCall",
        "service_type": "IAM",
        "resource_type": "user",
        "resource_name": "backdoor",
        "source_ip": "198.51.100.4",
        "time": time,
        "user": {"access_key_id": key, "name": "ops", "domain": {"id": "acct-9", "name": "ops"}},
        "request": "{\"user\":{\"name\":\"backdoor\"}}",
        "response": "",
        "code": 200
    })
}

async fn import_reads_zip_archive(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_keys(&app).await;
    let archive = zip_of(&[
        (
            "AWSLogs/111122223333/CloudTrail/us-east-1/a.json.gz",
            gzip(&records_file(&standard_events())),
        ),
        (
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/d.json.gz",
            gzip(b"{\"digestStartTime\":1}"),
        ),
        (
            "more/b.json",
            records_file(&[event(
                "e-zip-key",
                "2024-03-01T10:30:00Z",
                "CreateAccessKey",
                LEAKED_KEY,
            )]),
        ),
    ]);
    let import = expect_status(
        app.upload(case, &[("bucket.zip", archive)]).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(import["events_read"], 5, "the digest file is skipped");
    assert_eq!(import["events_matched"], 3);
    assert_eq!(import["findings_new"], 2);
    let files = import["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "the archive is one file record");
    assert_eq!(files[0]["name"], "bucket.zip");
    assert_eq!(
        finding_ids(&app, case).await,
        ["e-create-user", "e-zip-key"]
    );
}

async fn import_reads_lookup_events_and_array(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_keys(&app).await;
    let array = serde_json::to_vec(&[event(
        "e-array",
        "2024-03-01T10:20:00Z",
        "DeleteUser",
        LEAKED_KEY,
    )])
    .unwrap();
    let files = [
        ("lookup.json", lookup_events_file(&standard_events())),
        ("array.json.gz", gzip(&array)),
    ];
    let import = expect_status(app.upload(case, &files).await, StatusCode::CREATED).await;
    assert_eq!(import["events_read"], 5);
    assert_eq!(import["events_matched"], 3);
    assert_eq!(finding_ids(&app, case).await, ["e-create-user", "e-array"]);

    let findings = app
        .get_json(&format!("/api/v1/cases/{case}/findings"))
        .await;
    assert_eq!(findings[0]["access_key_id"], LEAKED_KEY);
    assert_eq!(findings[0]["resource"], "backdoor");
}

async fn import_reads_cts_traces(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_keys(&app).await;
    // 2024-03-01T10:15:00Z, and the same instant in the legacy form with a zone.
    let single = cts_trace("t-create", "createUser", json!(1709288100000i64), CTS_KEY);
    let legacy = cts_trace(
        "t-legacy",
        "deleteUser",
        json!("2024/03/01 18:20:00 GMT+08:00"),
        CTS_KEY,
    );
    let before = cts_trace("t-before", "createUser", json!(1709286000000i64), CTS_KEY);
    let mut failed = cts_trace(
        "t-denied",
        "createAccessKey",
        json!(1709289000000i64),
        CTS_KEY,
    );
    failed["code"] = json!("403");
    let read_only = cts_trace("t-list", "listUsers", json!(1709289000000i64), CTS_KEY);
    let query_response =
        json!({"meta_data": {"count": 3}, "traces": [legacy, before, failed, read_only]});
    let files = [
        ("single.json", serde_json::to_vec_pretty(&single).unwrap()),
        (
            "query.json.gz",
            gzip(&serde_json::to_vec(&query_response).unwrap()),
        ),
    ];
    let import = expect_status(app.upload(case, &files).await, StatusCode::CREATED).await;
    assert_eq!(import["events_read"], 5);
    assert_eq!(
        import["events_matched"], 4,
        "the trace before the compromise time is left out"
    );
    assert_eq!(import["findings_new"], 3, "listUsers is read-only");

    let findings = app
        .get_json(&format!("/api/v1/cases/{case}/findings"))
        .await;
    let findings = findings.as_array().unwrap();
    let ids: Vec<&str> = findings
        .iter()
        .map(|f| f["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["t-create", "t-legacy", "t-denied"]);
    assert_eq!(findings[0]["event_name"], "createUser");
    assert_eq!(findings[0]["event_source"], "IAM");
    assert_eq!(findings[0]["access_key_id"], CTS_KEY);
    assert_eq!(findings[0]["source_ip"], "198.51.100.4");
    assert_eq!(findings[0]["event_time"], "2024-03-01T10:15:00Z");
    assert_eq!(findings[0]["resource"], "backdoor");
    assert_eq!(findings[1]["event_time"], "2024-03-01T10:20:00Z");
    assert_eq!(findings[2]["error_code"], "403");
}

async fn import_broken_zip_entry_keeps_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_keys(&app).await;
    let zoneless = cts_trace(
        "t-zoneless",
        "createUser",
        json!("2024/03/01 18:20:00"),
        CTS_KEY,
    );
    let archive = zip_of(&[
        ("good.json", records_file(&standard_events())),
        ("traces/bad.json", format!("{zoneless}\n").into_bytes()),
    ]);
    let error = app.upload(case, &[("export.zip", archive)]).await;
    let error = expect_status(error, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "files");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("export.zip/traces/bad.json line 1"),
        "{message}"
    );
    assert!(message.contains("has no time zone"), "{message}");
    assert!(message.contains("Nothing was imported"), "{message}");
    assert!(finding_ids(&app, case).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_import_trail_directory() {
    let app = spawn_app(Backend::Sqlite).await;
    let case = case_with_keys(&app).await;
    let root = app.data_dir.join("bucket");
    let nested = root.join("AWSLogs/111122223333/CloudTrail/us-east-1");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(
        nested.join("a.json.gz"),
        gzip(&records_file(&standard_events())),
    )
    .unwrap();
    let trace = cts_trace("t-create", "createUser", json!(1709288100000i64), CTS_KEY);
    std::fs::write(
        root.join("trace.json"),
        serde_json::to_vec_pretty(&trace).unwrap(),
    )
    .unwrap();
    std::fs::write(root.join(".DS_Store"), b"\x00\x00\x00\x01Bud1").unwrap();
    let mut key_creation = event("e-new-key", "2024-03-01T10:30:00Z", "CreateAccessKey", LEAKED_KEY);
    key_creation["responseElements"] = json!({"accessKey": {"accessKeyId": "AKIAIOSFODNN7CLINEW1"}});
    std::fs::write(root.join("z.json"), records_file(&[key_creation])).unwrap();
    let database_url = format!(
        "sqlite://{}?mode=rwc",
        app.data_dir.join("rekey.db").display()
    );

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rekey"))
        // The data directory contains the evidence store, which would otherwise be made in the
        // working directory.
        .arg("--data-dir")
        .arg(&app.data_dir)
        .args([
            "--database-url",
            &database_url,
            "import-trail",
            "--case",
            &case.to_string(),
        ])
        .arg(&root)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stdout.contains("6 events read, 4 matched, 4 new, 3 new findings"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 credential(s) that these calls created are proposed"),
        "{stdout}"
    );
    assert_eq!(
        finding_ids(&app, case).await,
        ["e-create-user", "t-create", "e-new-key"]
    );
}

/// Keeping the readable part of a zip archive skips the damaged event of one entry and reads
/// the entries after it.
async fn zip_keep_readable_reads_later_entries(backend: Backend) {
    let app = spawn_app(backend).await;
    let case = case_with_keys(&app).await;
    let mut damaged = event("e-no-id", "2024-03-01T10:02:00Z", "DeleteUser", LEAKED_KEY);
    damaged.as_object_mut().unwrap().remove("eventID");
    let archive = zip_of(&[
        ("1.json", records_file(&[event("e-first", "2024-03-01T10:01:00Z", "DeleteUser", LEAKED_KEY)])),
        ("2.json", records_file(&[damaged])),
        ("3.json", records_file(&[event("e-third", "2024-03-01T10:03:00Z", "DeleteRole", LEAKED_KEY)])),
    ]);
    let form = reqwest::multipart::Form::new()
        .text("on_error", "keep_readable")
        .part("files", reqwest::multipart::Part::bytes(archive).file_name("trail.zip"));
    let response = app
        .request(reqwest::Method::POST, &format!("/api/v1/cases/{case}/imports"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let import = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(import["events_read"], 2);
    let note = import["error"].as_str().unwrap();
    assert!(note.contains("trail.zip/2.json"), "{note}");
    assert!(note.contains("eventID"), "{note}");
    assert_eq!(finding_ids(&app, case).await, ["e-first", "e-third"]);
}
