//! Evidence and the post-incident report in real headless Chromium: upload a file on the case
//! page, write the lessons learned, and take the PDF of a case carried through all phases.

use std::time::Duration;

use fantoccini::{Client, Locator};
use futures_util::FutureExt;
use reqwest::StatusCode;
use serde_json::json;

use crate::browser::{click, connect, fill, start_driver, text_of};
use crate::helpers::{expect_status, spawn_app, wait_for, Backend, TestApp, ADMIN_PASSWORD};
use crate::trail_fixtures::{records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY};

/// Creates a case with a leaked key, an import and an impact record, and moves it through
/// every phase.
async fn case_through_all_phases(app: &TestApp) -> i64 {
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    app.add_access_key(case, LEAKED_KEY).await;
    let import = app.upload(case, &[("trail.json", records_file(&standard_events()))]).await;
    expect_status(import, StatusCode::CREATED).await;
    let impact = json!({"kind": "no_end_user_impact", "description": "Only the build account was used"});
    expect_status(app.post(&format!("/api/v1/cases/{case}/impacts"), &impact).await, StatusCode::CREATED).await;
    for phase in ["containment", "eradication", "recovery", "post_incident"] {
        let body = json!({"phase": phase, "force": true, "reason": "playbook tracked in the ticket"});
        expect_status(app.post(&format!("/api/v1/cases/{case}/phase"), &body).await, StatusCode::OK).await;
    }
    case
}

/// Fetches a URL in the page, with the page's session cookie, and returns the body with each
/// byte as one character, so that PDF bytes arrive unchanged.
async fn fetch_in_page(client: &Client, url: &str) -> Result<String, fantoccini::error::CmdError> {
    let script = r#"
        const [url, done] = arguments;
        fetch(url, {credentials: 'same-origin'})
            .then(response => response.arrayBuffer())
            .then(buffer => {
                const bytes = new Uint8Array(buffer);
                let text = '';
                for (let i = 0; i < bytes.length; i += 1) { text += String.fromCharCode(bytes[i]); }
                done(text);
            })
            .catch(error => done('fetch failed: ' + error));
    "#;
    let value = client.execute_async(script, vec![json!(url)]).await?;
    Ok(value.as_str().unwrap_or_default().to_string())
}

async fn evidence_and_report(client: &Client, app: &TestApp, case: i64, upload: &std::path::Path) -> Result<(), fantoccini::error::CmdError> {
    client.goto(&format!("{}/login", app.base)).await?;
    fill(client, "login-username", "admin").await?;
    fill(client, "login-password", ADMIN_PASSWORD).await?;
    click(client, "login-submit").await?;
    wait_for("the case list", Duration::from_secs(15), || async {
        client.find(Locator::Id("nav-dashboard")).await.ok()
    })
    .await;

    // The imported trail file is listed as evidence, and an alert text is uploaded by hand.
    client.goto(&format!("{}/cases/{case}", app.base)).await?;
    let table = wait_for("the evidence table", Duration::from_secs(15), || async {
        let text = text_of(client, "evidence-table").await;
        text.contains("trail.json").then_some(text)
    })
    .await;
    assert!(table.contains("application/json"), "{table}");
    client
        .find(Locator::Id("evidence-file"))
        .await?
        .send_keys(&upload.display().to_string())
        .await?;
    fill(client, "evidence-description", "Alert e-mail from the code host").await?;
    fill(client, "evidence-source", "Security mailbox").await?;
    click(client, "evidence-upload").await?;
    let table = wait_for("the uploaded evidence", Duration::from_secs(15), || async {
        let text = text_of(client, "evidence-table").await;
        text.contains("alert.txt").then_some(text)
    })
    .await;
    assert!(table.contains("Alert e-mail from the code host"), "{table}");

    // The alert supports the CreateUser finding; the second piece of evidence is the alert.
    let row = r#"tr[data-evidence="2"]"#;
    client
        .find(Locator::Css(&format!("{row} .evidence-link-target")))
        .await?
        .select_by_index(1)
        .await?;
    client.find(Locator::Css(&format!("{row} .evidence-link button"))).await?.click().await?;
    wait_for("the link to the finding", Duration::from_secs(15), || async {
        text_of(client, "evidence-table").await.contains("Linked to Finding").then_some(())
    })
    .await;

    // A broken trail file fails the import; the analyst keeps the readable part.
    let broken = upload.with_file_name("broken.jsonl");
    let mut lines = crate::trail_fixtures::lines_file(&standard_events());
    lines.extend_from_slice(b"{\"eventID\": \"cut off\n");
    std::fs::write(&broken, lines).unwrap();
    client.find(Locator::Id("import-files")).await?.send_keys(&broken.display().to_string()).await?;
    click(client, "import-submit").await?;
    wait_for("the choice after the failed import", Duration::from_secs(20), || async {
        client.find(Locator::Id("import-keep-readable")).await.ok()
    })
    .await;
    click(client, "import-keep-readable").await?;
    let skipped = wait_for("the import of the readable part", Duration::from_secs(20), || async {
        let text = text_of(client, "import-skipped").await;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(skipped.contains("broken.jsonl line 5"), "{skipped}");

    // The report page shows the computed times and takes the lessons learned.
    click(client, "case-report-link").await?;
    let title = wait_for("the report", Duration::from_secs(15), || async {
        let text = text_of(client, "report-title").await;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(title.contains(&format!("RK-{case}")), "{title}");
    let times = text_of(client, "report-times").await;
    assert!(times.contains("Time to detect"), "{times}");
    assert!(!times.contains("not yet measurable"), "every phase was passed: {times}");
    fill(client, "lessons-root_cause", "Access key committed to a public repository").await?;
    click(client, "lessons-cmdb").await?;
    click(client, "lessons-save").await?;
    wait_for("the CMDB confirmation", Duration::from_secs(15), || async {
        text_of(client, "cmdb-confirmation").await.contains("confirmed by").then_some(())
    })
    .await;

    // The PDF behind the download link names the case and carries the same computed times.
    let href = client.find(Locator::Id("report-pdf")).await?.attr("href").await?.unwrap_or_default();
    let pdf = fetch_in_page(client, &href).await?;
    assert!(pdf.starts_with("%PDF-1."), "{}", &pdf[..pdf.len().min(200)]);
    assert!(pdf.contains(&format!("Post-incident report RK-{case}")));
    let detect = client
        .find(Locator::Css("#report-times tr:first-child .response-time"))
        .await?
        .text()
        .await?;
    assert!(pdf.contains(&format!("Time to detect: {detect}")), "PDF lacks 'Time to detect: {detect}'");
    assert!(pdf.contains("Time to recover: "));
    assert!(pdf.contains("Access key committed to a public repository"));

    // The lead sends the report; the case has no stakeholder who follows it.
    fill(client, "send-report-note", "Final report").await?;
    click(client, "send-report").await?;
    let result = wait_for("the send result", Duration::from_secs(15), || async {
        let text = text_of(client, "send-report-result").await;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert_eq!(result, "Sent to 0 stakeholder(s).");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_keeps_evidence_and_exports_report() {
    let app = spawn_app(Backend::Sqlite).await;
    let site = app.state.settings.site_dir.join("index.html");
    assert!(
        site.is_file(),
        "{} missing; run the tests with `cargo xtask test`, which builds the browser app",
        site.display()
    );
    let case = case_through_all_phases(&app).await;
    let files = tempfile::tempdir().unwrap();
    let upload = files.path().join("alert.txt");
    std::fs::write(&upload, "Your AWS access key was found in example/app.").unwrap();

    let profile = tempfile::tempdir().unwrap();
    let driver = start_driver();
    let client = connect(&driver, profile.path()).await;
    // The session is closed before a failure propagates, so no browser outlives the test.
    let outcome = std::panic::AssertUnwindSafe(evidence_and_report(&client, &app, case, &upload))
        .catch_unwind()
        .await;
    let closed = client.close().await;
    drop(driver);
    match outcome {
        Ok(steps) => steps.expect("browser steps"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
    closed.expect("WebDriver session closes");

    let audit = app.get_json(&format!("/api/v1/cases/{case}/audit")).await;
    let exported = audit.as_array().unwrap().iter().any(|row| row["action"] == "export" && row["details"]["format"] == "pdf");
    assert!(exported, "the PDF export is in the audit log");
}
