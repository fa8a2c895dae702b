//! Evidence files: streamed upload with hashing, size limit, chain of custody, tamper
//! detection on download and by `rekey verify`, links, and imported trail files.

use std::io::Write;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{expect_status, spawn_app, spawn_app_with, Backend, TestApp};
use crate::on_both_backends;
use crate::trail_fixtures::{records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY};

on_both_backends!(
    upload_is_hashed_stored_and_kept_in_custody,
    large_upload_streams_with_bounded_memory,
    oversized_upload_gets_413,
    tampered_file_is_detected,
    evidence_links_stay_within_the_case,
    imported_trail_files_become_evidence,
    legal_hold_needs_the_lead_and_current_version,
    object_store_keeps_evidence_by_hash,
);

/// Creates an API token of the signed-in user with the write scope and returns its secret.
async fn write_token(app: &TestApp) -> String {
    let body = json!({"name": "raw client", "scopes": ["write"], "expires_in_days": 1});
    let created = expect_status(app.post("/api/v1/account/tokens", &body).await, StatusCode::CREATED).await;
    created["secret"].as_str().unwrap().to_string()
}

async fn upload(app: &TestApp, case: i64, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("description", "Screenshot of the leaked key in the public repository")
        .text("source", "GitHub secret scanning alert")
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()));
    app.request(Method::POST, &format!("/api/v1/cases/{case}/evidence"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn stored_path(app: &TestApp, sha256: &str) -> std::path::PathBuf {
    app.data_dir.join("evidence").join(&sha256[..2]).join(sha256)
}

fn custody_actions(detail: &Value) -> Vec<String> {
    detail["custody"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap().to_string())
        .collect()
}

async fn upload_is_hashed_stored_and_kept_in_custody(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let content = br#"{"alert": "AWS access key exposed", "repository": "example/app"}"#.to_vec();

    let response = upload(&app, case, "../../alert.json", content.clone()).await;
    let evidence = expect_status(response, StatusCode::CREATED).await;
    let id = evidence["id"].as_i64().unwrap();
    assert_eq!(evidence["sha256"], sha256_hex(&content));
    assert_eq!(evidence["size"], content.len());
    assert_eq!(evidence["media_type"], "application/json");
    assert_eq!(evidence["claimed_media_type"], Value::Null);
    assert_eq!(evidence["original_name"], "alert.json", "the name never carries a path");
    assert_eq!(evidence["source"], "GitHub secret scanning alert");
    let stored = std::fs::read(stored_path(&app, evidence["sha256"].as_str().unwrap())).unwrap();
    assert_eq!(stored, content, "stored under its hash in the data directory");

    // A password pasted into the description is replaced before it is stored.
    let form = reqwest::multipart::Form::new()
        .text("description", "Bastion notes, password=hunter2secret")
        .part("file", reqwest::multipart::Part::bytes(b"notes".to_vec()).file_name("notes.txt"));
    let response = app
        .request(Method::POST, &format!("/api/v1/cases/{case}/evidence"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let noted = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(noted["description"], "Bastion notes, password=[REDACTED]");

    // A PDF name on text content keeps the claim visible next to the detected type.
    let misnamed = expect_status(upload(&app, case, "contract.pdf", b"plain notes".to_vec()).await, StatusCode::CREATED).await;
    assert_eq!(misnamed["media_type"], "text/plain");
    assert_eq!(misnamed["claimed_media_type"], "application/pdf");

    let detail = app.get_json(&format!("/api/v1/cases/{case}/evidence/{id}")).await;
    let download = app.get(&format!("/api/v1/cases/{case}/evidence/{id}/content")).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()["content-type"], "application/octet-stream");
    assert!(download.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(download.bytes().await.unwrap().to_vec(), content);
    let verified = expect_status(
        app.post(&format!("/api/v1/cases/{case}/evidence/{id}/verify"), &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(verified["intact"], true);

    let detail_after = app.get_json(&format!("/api/v1/cases/{case}/evidence/{id}")).await;
    assert_eq!(custody_actions(&detail), ["upload", "view"]);
    assert_eq!(custody_actions(&detail_after), ["upload", "view", "download", "verify", "view"]);
    let entry = &detail_after["custody"][2];
    assert_eq!(entry["actor"], "admin");
    assert_eq!(entry["client_address"], "127.0.0.1");

    let audit = app.get_json("/api/v1/audit").await;
    let created = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["entity_type"] == "evidence" && row["entity_id"] == id.to_string())
        .expect("audit row for the upload");
    assert_eq!(created["details"]["sha256"], sha256_hex(&content));

    // Evidence of another case returns 404, as if it did not exist.
    let other = app.create_case(COMPROMISE_TIME).await;
    let foreign = app.get(&format!("/api/v1/cases/{other}/evidence/{id}/content")).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let listed = app.get_json(&format!("/api/v1/cases/{other}/evidence")).await;
    assert_eq!(listed.as_array().unwrap().len(), 0);
}

/// Resident memory of this process, in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

async fn large_upload_streams_with_bounded_memory(backend: Backend) {
    const SIZE: u64 = 1024 * 1024 * 1024;
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;

    // One gigabyte of distinct blocks, written to disk, never held in memory.
    let input = tempfile::NamedTempFile::new().unwrap();
    {
        let mut writer = std::io::BufWriter::new(input.reopen().unwrap());
        let mut block = vec![0u8; 1024 * 1024];
        for index in 0..(SIZE / block.len() as u64) {
            for (offset, byte) in block.iter_mut().enumerate() {
                *byte = (offset as u64).wrapping_mul(31).wrapping_add(index) as u8;
            }
            block[..8].copy_from_slice(&index.to_le_bytes());
            writer.write_all(&block).unwrap();
        }
        writer.flush().unwrap();
    }
    let sha256sum = std::process::Command::new("sha256sum").arg(input.path()).output().unwrap();
    assert!(sha256sum.status.success());
    let expected = String::from_utf8(sha256sum.stdout).unwrap().split_whitespace().next().unwrap().to_string();

    let before = resident_bytes();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(resident_bytes(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let file = tokio::fs::File::open(input.path()).await.unwrap();
    let stream = tokio_util::io::ReaderStream::new(file);
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), SIZE)
        .file_name("disk-image.raw");
    let form = reqwest::multipart::Form::new().part("file", part);
    let response = app
        .request(Method::POST, &format!("/api/v1/cases/{case}/evidence"))
        .multipart(form)
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .unwrap();
    let evidence = expect_status(response, StatusCode::CREATED).await;
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();

    assert_eq!(evidence["sha256"], expected, "stored hash matches sha256sum of the input");
    assert_eq!(evidence["size"], SIZE);
    let growth = peak.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(before);
    // Client and server share this process; holding the file would add a gigabyte.
    assert!(growth < 300 * 1024 * 1024, "memory grew by {} MB while uploading 1 GB", growth / (1024 * 1024));
    let stored = std::fs::metadata(stored_path(&app, &expected)).unwrap();
    assert_eq!(stored.len(), SIZE);
}

async fn oversized_upload_gets_413(backend: Backend) {
    let app = spawn_app_with(backend, |settings| settings.max_evidence_mb = 1).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let big = vec![b'x'; 3 * 1024 * 1024];

    // Declared length over the limit: rejected from the headers alone, before any byte of the
    // body is sent.
    let head = format!(
        "POST /api/v1/cases/{case}/evidence HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=b\r\n\
         Content-Length: {}\r\n\r\n",
        write_token(&app).await,
        big.len() + 200
    );
    let mut socket = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");

    // No declared length: refused once the file passes the limit. The server stops reading
    // there, so the client may see the connection cut while it still sends instead of the 413.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .file_name("big.txt");
    let outcome = app
        .request(Method::POST, &format!("/api/v1/cases/{case}/evidence"))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await;
    match outcome {
        Ok(response) => assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(error) => assert!(error.is_request(), "{error}"),
    }

    let listed = app.get_json(&format!("/api/v1/cases/{case}/evidence")).await;
    assert_eq!(listed.as_array().unwrap().len(), 0, "nothing kept of a refused upload");
    let staging = app.data_dir.join("evidence").join("staging");
    let leftovers = std::fs::read_dir(&staging).map(|dir| dir.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "staging files are removed");

    // Within the limit it is accepted.
    let fits = upload(&app, case, "small.txt", vec![b'y'; 512 * 1024]).await;
    expect_status(fits, StatusCode::CREATED).await;
}

fn verify_command(app: &TestApp) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rekey"))
        .args(["--database-url", &app.state.settings.database_url(), "--data-dir"])
        .arg(&app.data_dir)
        .arg("verify")
        .output()
        .unwrap()
}

async fn tampered_file_is_detected(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let content = b"trail export kept for the regulator".to_vec();
    let evidence = expect_status(upload(&app, case, "export.txt", content).await, StatusCode::CREATED).await;
    let id = evidence["id"].as_i64().unwrap();
    let sha256 = evidence["sha256"].as_str().unwrap().to_string();

    let intact = verify_command(&app);
    let output = String::from_utf8_lossy(&intact.stdout);
    assert!(intact.status.success(), "{output} {}", String::from_utf8_lossy(&intact.stderr));
    assert!(output.contains("Evidence intact: 1 files checked"), "{output}");

    std::fs::write(stored_path(&app, &sha256), b"trail export kept for the regulatoR").unwrap();

    let download = app.get(&format!("/api/v1/cases/{case}/evidence/{id}/content")).await;
    let body = expect_status(download, StatusCode::CONFLICT).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("no longer matches"), "{body}");
    let detail = app.get_json(&format!("/api/v1/cases/{case}/evidence/{id}")).await;
    assert!(custody_actions(&detail).contains(&"integrity_failure".to_string()));

    let report = app.get_json("/api/v1/audit/verify").await;
    assert_eq!(report["first_evidence_break"]["evidence_id"], id);
    assert_eq!(report["first_break"], Value::Null, "the audit chain itself is intact");

    let broken = verify_command(&app);
    assert_eq!(broken.status.code(), Some(1));
    let output = String::from_utf8_lossy(&broken.stdout);
    assert!(output.contains(&format!("Evidence {id} does not match its hash")), "{output}");

    std::fs::remove_file(stored_path(&app, &sha256)).unwrap();
    let missing = app.get(&format!("/api/v1/cases/{case}/evidence/{id}/content")).await;
    assert_eq!(missing.status(), StatusCode::CONFLICT);

    // Uploading the original again restores the stored content for both records.
    let original = b"trail export kept for the regulator".to_vec();
    expect_status(upload(&app, case, "export.txt", original.clone()).await, StatusCode::CREATED).await;
    let repaired = app.get(&format!("/api/v1/cases/{case}/evidence/{id}/content")).await;
    assert_eq!(repaired.status(), StatusCode::OK);
    assert_eq!(repaired.bytes().await.unwrap().to_vec(), original);
}

async fn evidence_links_stay_within_the_case(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let evidence = expect_status(upload(&app, case, "note.txt", b"note".to_vec()).await, StatusCode::CREATED).await;
    let id = evidence["id"].as_i64().unwrap();
    let entry = json!({"occurred_at": "2024-03-01T11:00:00+01:00", "title": "Key found in a public repository"});
    expect_status(app.post(&format!("/api/v1/cases/{case}/timeline"), &entry).await, StatusCode::CREATED).await;
    let entry_id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM timeline_entries")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();

    let links = format!("/api/v1/cases/{case}/evidence/{id}/links");
    let linked = expect_status(
        app.post(&links, &json!({"kind": "timeline_entry", "target_id": entry_id})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(linked["links"], json!([{"kind": "timeline_entry", "target_id": entry_id}]));

    // A record of another case cannot be linked.
    let other = app.create_case(COMPROMISE_TIME).await;
    let foreign = json!({"occurred_at": "2024-03-01T12:00:00Z", "title": "Other case"});
    expect_status(app.post(&format!("/api/v1/cases/{other}/timeline"), &foreign).await, StatusCode::CREATED).await;
    let foreign_id = entry_id + 1;
    let refused = app.post(&links, &json!({"kind": "timeline_entry", "target_id": foreign_id})).await;
    let body = expect_status(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["error"]["field"], "target_id");
    let unknown = app.post(&links, &json!({"kind": "spreadsheet", "target_id": 1})).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let removed = app
        .request(Method::DELETE, &format!("{links}/timeline_entry/{entry_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let detail = app.get_json(&format!("/api/v1/cases/{case}/evidence/{id}")).await;
    assert_eq!(detail["evidence"]["links"], json!([]));
    assert_eq!(custody_actions(&detail), ["upload", "link", "unlink", "view"]);
}

async fn imported_trail_files_become_evidence(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    let file = records_file(&standard_events());
    let import = expect_status(app.upload(case, &[("trail.json", file.clone())]).await, StatusCode::CREATED).await;

    let listed = app.get_json(&format!("/api/v1/cases/{case}/evidence")).await;
    let items = listed.as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["import_id"], import["id"]);
    assert_eq!(items[0]["sha256"], sha256_hex(&file));
    assert_eq!(items[0]["sha256"], import["files"][0]["sha256"]);
    assert_eq!(items[0]["original_name"], "trail.json");
    let detail = app.get_json(&format!("/api/v1/cases/{case}/evidence/{}", items[0]["id"])).await;
    assert_eq!(custody_actions(&detail)[0], "import");

    // A failed import keeps no evidence.
    let failed = app.upload(case, &[("broken.json", b"{\"Records\": [".to_vec())]).await;
    assert_eq!(failed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let listed = app.get_json(&format!("/api/v1/cases/{case}/evidence")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

async fn legal_hold_needs_the_lead_and_current_version(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let lead = app.user_session("lena", "incident_lead").await;
    let created = lead
        .post(
            "/api/v1/cases",
            &json!({"title": "Leaked key", "severity": "P2", "detection_source": "other", "compromise_time": COMPROMISE_TIME}),
        )
        .await;
    let case = expect_status(created, StatusCode::CREATED).await["number"].as_i64().unwrap();
    let analyst = app.user_session("anna", "analyst").await;
    let add = json!({"username": "anna", "role": "analyst"});
    expect_status(lead.post(&format!("/api/v1/cases/{case}/members"), &add).await, StatusCode::CREATED).await;

    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(b"log".to_vec()).file_name("a.log"));
    let response = analyst
        .request(Method::POST, &format!("/api/v1/cases/{case}/evidence"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let evidence = expect_status(response, StatusCode::CREATED).await;
    let hold = format!("/api/v1/cases/{case}/evidence/{}/legal-hold", evidence["id"]);

    let by_analyst = analyst
        .request(Method::PUT, &hold)
        .json(&json!({"legal_hold": true, "version": 1, "reason": "litigation"}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_analyst.status(), StatusCode::FORBIDDEN);
    let placed = lead
        .request(Method::PUT, &hold)
        .json(&json!({"legal_hold": true, "version": 1, "reason": "litigation expected"}))
        .send()
        .await
        .unwrap();
    let placed = expect_status(placed, StatusCode::OK).await;
    assert_eq!(placed["legal_hold"], true);
    let stale = lead
        .request(Method::PUT, &hold)
        .json(&json!({"legal_hold": false, "version": 1}))
        .send()
        .await
        .unwrap();
    let body = expect_status(stale, StatusCode::CONFLICT).await;
    assert_eq!(body["error"]["current_version"], 2);
    let detail = lead.get(&format!("/api/v1/cases/{case}/evidence/{}", evidence["id"])).await;
    let detail = expect_status(detail, StatusCode::OK).await;
    assert_eq!(custody_actions(&detail), ["upload", "legal_hold_on", "view"]);
    assert_eq!(detail["custody"][1]["details"], "litigation expected");
}

async fn object_store_keeps_evidence_by_hash(backend: Backend) {
    let bucket = tempfile::tempdir().unwrap();
    let url = url::Url::from_directory_path(bucket.path()).unwrap().to_string();
    let app = spawn_app_with(backend, |settings| settings.evidence_store_url = format!("{url}rekey")).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let content = b"object store content".to_vec();
    let evidence = expect_status(upload(&app, case, "object.txt", content.clone()).await, StatusCode::CREATED).await;
    let sha256 = evidence["sha256"].as_str().unwrap().to_string();
    let id = evidence["id"].as_i64().unwrap();

    let object = bucket.path().join("rekey").join(&sha256[..2]).join(&sha256);
    assert_eq!(std::fs::read(&object).unwrap(), content, "stored in the object store under its hash");
    assert!(!app.data_dir.join("evidence").join(&sha256[..2]).exists(), "nothing in the local store");
    let download = app.get(&format!("/api/v1/cases/{case}/evidence/{id}/content")).await;
    assert_eq!(download.bytes().await.unwrap().to_vec(), content);

    std::fs::write(&object, b"object store contenT").unwrap();
    let refused = app.get(&format!("/api/v1/cases/{case}/evidence/{id}/content")).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
}
