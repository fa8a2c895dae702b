//! One case walked through all five phases in headless Chromium. The walk ticks playbook
//! tasks and records the leaked key. A first trail import shows the key creating a second
//! access key, which the walk confirms as a derived credential. Both keys get containment
//! actions, and a second import shows the derived key used after containment. The walk goes on
//! through impact records, affected resources with owners and recovery actions to the timeline.
//! Every time shows in a time zone east of UTC once the user picks it.

use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};
use futures_util::FutureExt;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::browser::{click, connect, fill, start_driver, text_of};
use crate::helpers::{expect_status, spawn_app, wait_for, Backend, TestApp, ADMIN_PASSWORD};
use crate::trail_fixtures::{event, key_creation, records_file, COMPROMISE_TIME, LEAKED_KEY, OTHER_KEY};

/// Access key that the leaked key creates in the first trail.
const DERIVED_KEY: &str = "AKIAIOSFODNN7DERIVB1";

/// Paths of the two trail files the walk uploads.
struct Trails {
    /// Calls of the leaked key before containment, one of which creates the derived key.
    before_containment: std::path::PathBuf,
    /// A call of the derived key after its containment.
    after_containment: std::path::PathBuf,
}

/// Writes the two trail files into `dir`.
fn write_trails(dir: &std::path::Path) -> Trails {
    let first = vec![
        event("e-before", "2024-03-01T09:59:59Z", "CreateUser", LEAKED_KEY),
        event("e-create-user", "2024-03-01T10:00:00Z", "CreateUser", LEAKED_KEY),
        key_creation("e-create-key", "2024-03-01T10:01:00Z", LEAKED_KEY, DERIVED_KEY),
        event("e-other-key", "2024-03-01T10:06:00Z", "CreateAccessKey", OTHER_KEY),
    ];
    let second = vec![event("e-derived-use", "2024-03-01T10:10:00Z", "DescribeInstances", DERIVED_KEY)];
    let trails = Trails {
        before_containment: dir.join("trail-before-containment.json"),
        after_containment: dir.join("trail-after-containment.json"),
    };
    std::fs::write(&trails.before_containment, records_file(&first)).unwrap();
    std::fs::write(&trails.after_containment, records_file(&second)).unwrap();
    trails
}

/// Uploads one trail file through the imports form and waits until the import is listed.
async fn import_trail(client: &Client, trail: &std::path::Path, imports_before: usize) -> Result<(), CmdError> {
    let upload = client.wait().for_element(Locator::Id("import-files")).await?;
    upload.send_keys(&trail.display().to_string()).await?;
    click(client, "import-submit").await?;
    wait_for("the import listed", STEP_TIMEOUT, || async {
        (count_css(client, "#imports tbody tr").await > imports_before).then_some(())
    })
    .await;
    Ok(())
}

const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Waits for an element matching `css` and clicks it, retrying while the page re-renders.
async fn click_css(client: &Client, css: &str) {
    wait_for(&format!("a clickable {css}"), STEP_TIMEOUT, || async {
        let element = client.find(Locator::Css(css)).await.ok()?;
        element.click().await.ok()
    })
    .await
}

async fn find_css(client: &Client, css: &str) -> Element {
    wait_for(&format!("element {css}"), STEP_TIMEOUT, || async {
        client.find(Locator::Css(css)).await.ok()
    })
    .await
}

async fn fill_css(client: &Client, css: &str, text: &str) {
    let input = find_css(client, css).await;
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

async fn select_css(client: &Client, css: &str, value: &str) {
    find_css(client, css)
        .await
        .select_by_value(value)
        .await
        .unwrap();
}

async fn count_css(client: &Client, css: &str) -> usize {
    client
        .find_all(Locator::Css(css))
        .await
        .map(|found| found.len())
        .unwrap_or(0)
}

/// Waits until the page source contains `text`.
async fn wait_for_text(client: &Client, text: &str) {
    wait_for(&format!("'{text}' on the page"), STEP_TIMEOUT, || async {
        let page = client.source().await.unwrap_or_default();
        page.contains(text).then_some(())
    })
    .await
}

/// Marks every open task of `phase` done, one click at a time.
async fn finish_tasks(client: &Client, phase: &str) {
    let open = format!(".task-phase[data-phase='{phase}'] li.task[data-status='todo']");
    loop {
        let before = count_css(client, &open).await;
        if before == 0 {
            return;
        }
        click_css(client, &format!("{open} .task-done")).await;
        wait_for(
            &format!("a {phase} task marked done"),
            STEP_TIMEOUT,
            || async { (count_css(client, &open).await < before).then_some(()) },
        )
        .await;
    }
}

async fn advance_phase(client: &Client, to: &str) {
    click(client, "phase-advance").await.unwrap();
    wait_for(&format!("phase {to}"), STEP_TIMEOUT, || async {
        let button = client.find(Locator::Id("phase-advance")).await.ok();
        let next = match button {
            Some(button) => button.attr("data-next-phase").await.ok().flatten(),
            None => None,
        };
        let phase = text_of(client, "case-phase").await;
        (phase == to || next.as_deref() == Some(to)).then_some(())
    })
    .await;
}

async fn current_phase(client: &Client) -> String {
    text_of(client, "case-phase").await
}

/// Reads the built-in playbook and adds one through the playbooks page.
async fn playbooks_page(client: &Client) -> Result<(), CmdError> {
    click(client, "playbooks-link").await?;
    wait_for_text(client, "Credential leakage (default)").await;
    wait_for_text(client, "18 step(s)").await;
    let new = ".playbook-editor:not([data-playbook])";
    fill_css(
        client,
        &format!("{new} .playbook-name-input"),
        "Phished password",
    )
    .await;
    let steps = "identification | Find the phished account\ncontainment | Reset the password";
    fill_css(client, &format!("{new} .playbook-steps"), steps).await;
    click_css(client, &format!("{new} .playbook-save")).await;
    wait_for("the new playbook listed", STEP_TIMEOUT, || async {
        (count_css(client, ".playbook-editor[data-playbook]").await == 2).then_some(())
    })
    .await;
    click_css(client, ".product-name").await;
    Ok(())
}

/// Confirms the access key that the first import proposed and returns its credential id. The
/// user `backdoor`, proposed by the same import, stays proposed.
async fn confirm_derived_key(client: &Client) -> Result<String, CmdError> {
    let rows = "#proposed-credentials tr[data-proposed]";
    wait_for("two proposed credentials", STEP_TIMEOUT, || async {
        (count_css(client, rows).await == 2).then_some(())
    })
    .await;
    let mut derived = None;
    for row in client.find_all(Locator::Css(rows)).await? {
        let text = row.text().await?;
        if text.contains(DERIVED_KEY) {
            assert!(text.contains("credential #1"), "created by the leaked key: {text}");
            derived = row.attr("data-proposed").await?;
        } else {
            assert!(text.contains("backdoor"), "{text}");
        }
    }
    let id = derived.unwrap_or_else(|| panic!("{DERIVED_KEY} not proposed"));
    click_css(client, &format!("#proposed-credentials tr[data-proposed='{id}'] .confirm-credential")).await;
    let status = wait_for("the confirmation", STEP_TIMEOUT, || async {
        let text = text_of(client, "proposed-status").await;
        text.contains("Confirmed").then_some(text)
    })
    .await;
    assert!(status.contains(DERIVED_KEY), "{status}");
    let card = format!(".containment-credential[data-credential='{id}'][data-status='confirmed']");
    wait_for("the derived key confirmed under containment", STEP_TIMEOUT, || async {
        (count_css(client, &card).await == 1).then_some(())
    })
    .await;
    Ok(id)
}

/// Opens the case and works through identification; returns the derived key's credential id.
async fn identification(client: &Client, app: &TestApp, trail: &std::path::Path) -> Result<String, CmdError> {
    client.goto(&format!("{}/login", app.base)).await?;
    fill(client, "login-username", "admin").await?;
    fill(client, "login-password", ADMIN_PASSWORD).await?;
    click(client, "login-submit").await?;
    // The app opens the case list once the login succeeds; a link clicked before that would be
    // overridden by that navigation.
    client.wait().at_most(STEP_TIMEOUT).for_element(Locator::Id("new-case")).await?;
    playbooks_page(client).await?;

    click(client, "new-case").await?;
    fill(
        client,
        "case-title",
        "Deploy key pushed to a public repository",
    )
    .await?;
    fill(client, "case-compromise-time", COMPROMISE_TIME).await?;
    click(client, "case-create").await?;

    fill(client, "credential-access-key-id", LEAKED_KEY).await?;
    click(client, "credential-add").await?;
    wait_for_text(client, "containment-credential").await;
    import_trail(client, trail, 0).await?;
    let derived = confirm_derived_key(client).await?;

    click(client, "impact-none").await?;
    wait_for_text(client, "data-kind=\"no_end_user_impact\"").await;
    select_css(client, "#impact-kind", "service_interruption").await;
    select_css(client, "#impact-severity", "medium").await;
    fill(
        client,
        "impact-description",
        "Deploy pipeline stopped while the key was disabled",
    )
    .await?;
    click(client, "impact-add").await?;
    wait_for_text(client, "data-kind=\"service_interruption\"").await;

    fill(client, "timezone-input", "Asia/Kolkata").await?;
    click(client, "timezone-save").await?;
    wait_for("the timeline in Asia/Kolkata", STEP_TIMEOUT, || async {
        let zone = text_of(client, "timeline-zone").await;
        let times = text_of(client, "timeline").await;
        (zone == "Asia/Kolkata" && times.contains("+05:30")).then_some(())
    })
    .await;
    // The zone applies to every time on the page, not only the timeline.
    let finding_time = find_css(client, "tr.finding[data-event-id='e-create-user'] time").await.text().await?;
    assert_eq!(finding_time, "2024-03-01 15:30:00 +05:30");
    let import_time = find_css(client, "#imports tbody tr time").await.text().await?;
    assert!(import_time.ends_with("+05:30"), "{import_time}");

    // One step does not apply here and is skipped with its reason.
    let deployments = ".task-phase[data-phase='identification'] li.task:nth-child(6)";
    click_css(client, &format!("{deployments} .task-skip")).await;
    fill_css(
        client,
        &format!("{deployments} .task-skip-reason"),
        "no application was down",
    )
    .await;
    click_css(client, &format!("{deployments} .task-skip-confirm")).await;
    wait_for_text(client, "Reason: no application was down").await;
    finish_tasks(client, "identification").await;
    advance_phase(client, "Containment").await;
    assert_eq!(current_phase(client).await, "Containment");
    Ok(derived)
}

async fn containment(client: &Client, trail: &std::path::Path, derived: &str) -> Result<(), CmdError> {
    // A fresh database numbers the leaked key 1.
    let key_card = ".containment-credential[data-credential='1']";
    fill_css(
        client,
        &format!("{key_card} .action-performed-at"),
        "2024-03-01T10:02:00Z",
    )
    .await;
    fill_css(
        client,
        &format!("{key_card} .action-authorised-by"),
        "Incident lead",
    )
    .await;
    fill_css(
        client,
        &format!("{key_card} .action-notes"),
        "access key set inactive",
    )
    .await;
    click_css(client, &format!("{key_card} .action-submit")).await;
    wait_for_text(client, "access key set inactive").await;

    let action_time = find_css(client, &format!("{key_card} .containment-actions time")).await.text().await?;
    assert_eq!(action_time, "2024-03-01 15:32:00 +05:30");

    let derived_card = format!(".containment-credential[data-credential='{derived}']");
    fill_css(
        client,
        &format!("{derived_card} .action-performed-at"),
        "2024-03-01T10:03:00Z",
    )
    .await;
    fill_css(
        client,
        &format!("{derived_card} .action-authorised-by"),
        "Incident lead",
    )
    .await;
    click_css(client, &format!("{derived_card} .action-submit")).await;
    wait_for("both credentials disabled", STEP_TIMEOUT, || async {
        (count_css(client, ".containment-credential[data-status='disabled']").await == 2)
            .then_some(())
    })
    .await;

    // The derived key is used seven minutes after its containment.
    import_trail(client, trail, 1).await?;
    let alert = wait_for("the use-after-containment alert", STEP_TIMEOUT, || async {
        let text = text_of(client, "containment-alert").await;
        text.contains(DERIVED_KEY).then_some(text)
    })
    .await;
    assert!(
        alert.contains("Credential used after containment"),
        "{alert}"
    );
    assert!(alert.contains("1 trail event(s)"), "{alert}");
    assert!(alert.contains("first at 2024-03-01 15:40:00 +05:30"), "{alert}");
    assert!(!alert.contains(LEAKED_KEY), "the leaked key passed its window: {alert}");
    let verification = find_css(client, &format!("{derived_card} .verification")).await.text().await?;
    assert!(verification.contains("Used after containment"), "{verification}");

    // The verification window failed, so the lead moves on with a recorded reason.
    finish_tasks_except_last(client, "containment").await;
    click(client, "phase-advance").await?;
    fill(
        client,
        "phase-force-reason",
        "key used after containment; contain it again while eradicating",
    )
    .await?;
    click(client, "phase-force").await?;
    wait_for("phase Eradication", STEP_TIMEOUT, || async {
        (current_phase(client).await == "Eradication").then_some(())
    })
    .await;
    Ok(())
}

/// Marks all open tasks of `phase` done except the last one, which stays open.
async fn finish_tasks_except_last(client: &Client, phase: &str) {
    let open = format!(".task-phase[data-phase='{phase}'] li.task[data-status='todo']");
    while count_css(client, &open).await > 1 {
        let before = count_css(client, &open).await;
        click_css(client, &format!("{open} .task-done")).await;
        wait_for("a task marked done", STEP_TIMEOUT, || async {
            (count_css(client, &open).await < before).then_some(())
        })
        .await;
    }
}

/// Changes a post-incident task through the API behind the browser's back, then saves the
/// browser's stale copy: the 409 message shows, and its reload button fetches the new version.
async fn stale_task_offers_reload(client: &Client, app: &TestApp) {
    app.login_admin().await;
    let tasks = app.get_json("/api/v1/cases/1/tasks").await;
    let task = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|task| task["phase"] == "post_incident")
        .unwrap()
        .clone();
    let path = format!("/api/v1/cases/1/tasks/{}", task["id"]);
    let body = json!({"version": task["version"], "assignee": "admin"});
    let response = app
        .request(Method::PATCH, &path)
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::OK).await;

    let item = format!("li.task[data-task='{}']", task["id"]);
    click_css(client, &format!("{item} .task-done")).await;
    let message = wait_for("the stale-version message", STEP_TIMEOUT, || async {
        let error = client
            .find(Locator::Css(&format!("{item} .task-error")))
            .await
            .ok()?;
        let text = error.text().await.ok()?;
        text.contains("changed by someone else").then_some(text)
    })
    .await;
    assert!(message.contains("reload"), "{message}");
    click_css(client, &format!("{item} .task-reload")).await;
    wait_for("the reloaded task", STEP_TIMEOUT, || async {
        let assignee = client
            .find(Locator::Css(&format!("{item} .task-assignee")))
            .await
            .ok()?;
        let text = assignee.text().await.ok()?;
        text.contains("Administrator").then_some(())
    })
    .await;
}

/// Sets the due time of the last task through its form.
async fn plan_last_task(client: &Client) {
    let item = ".task-phase[data-phase='post_incident'] li.task:last-child";
    click_css(client, &format!("{item} .task-plan")).await;
    fill_css(
        client,
        &format!("{item} .task-due-input"),
        "2024-03-08T09:00:00+01:00",
    )
    .await;
    click_css(client, &format!("{item} .task-plan-save")).await;
    wait_for("the due time", STEP_TIMEOUT, || async {
        let due = client
            .find(Locator::Css(&format!("{item} .task-due time")))
            .await
            .ok()?;
        let datetime = due.attr("datetime").await.ok()??;
        (datetime == "2024-03-08T08:00:00+00:00").then_some(due)
    })
    .await;
    let due = find_css(client, &format!("{item} .task-due time")).await.text().await.unwrap();
    assert_eq!(due, "2024-03-08 13:30:00 +05:30");
}

async fn eradication_and_recovery(client: &Client, app: &TestApp) -> Result<(), CmdError> {
    let resource = ".affected-resource[data-resource-id='backdoor']";
    fill_css(client, &format!("{resource} .owner-name"), "Identity team").await;
    fill_css(
        client,
        &format!("{resource} .owner-email"),
        "identity@example.com",
    )
    .await;
    click_css(client, &format!("{resource} .owner-notified-now")).await;
    wait_for("the owner notified", STEP_TIMEOUT, || async {
        let text = client
            .find(Locator::Css(&format!("{resource} .owner-notified")))
            .await
            .ok()?;
        text.text().await.ok()
    })
    .await;
    finish_tasks(client, "eradication").await;
    advance_phase(client, "Recovery").await;

    select_css(client, &format!("{resource} .recovery-kind"), "destroy").await;
    click_css(client, &format!("{resource} .recovery-add")).await;
    click_css(client, &format!("{resource} .recovery-done")).await;
    let done = format!("{resource} .recovery-action[data-status='done']");
    wait_for("the recovery action done", STEP_TIMEOUT, || async {
        (count_css(client, &done).await == 1).then_some(())
    })
    .await;
    click_css(client, &format!("{resource} .recovery-cmdb")).await;
    wait_for("the CMDB marked updated", STEP_TIMEOUT, || async {
        (count_css(client, &format!("{resource} .recovery-cmdb")).await == 0).then_some(())
    })
    .await;
    finish_tasks(client, "recovery").await;
    advance_phase(client, "Post-incident").await;

    stale_task_offers_reload(client, app).await;
    plan_last_task(client).await;
    finish_tasks(client, "post_incident").await;
    advance_phase(client, "Closed").await;
    Ok(())
}

async fn check_timeline(client: &Client) -> Result<(), CmdError> {
    fill(client, "timeline-occurred-at", "2024-03-01T11:01:00+01:00").await?;
    fill(client, "timeline-title", "Scanner alert received").await?;
    click(client, "timeline-add").await?;
    wait_for_text(client, "Scanner alert received").await;

    let times = client
        .find_all(Locator::Css("#timeline .timeline-time"))
        .await?;
    let mut instants = Vec::new();
    let mut shown = Vec::new();
    for time in &times {
        instants.push(time.attr("datetime").await?.unwrap_or_default());
        shown.push(time.text().await?);
    }
    let mut sorted = instants.clone();
    sorted.sort();
    assert_eq!(instants, sorted, "timeline in time order");
    assert!(
        shown.iter().all(|text| text.ends_with("+05:30")),
        "{shown:?}"
    );
    assert_eq!(
        shown[0], "2024-03-01 15:30:00 +05:30",
        "compromise time first, in Asia/Kolkata"
    );

    let sources = client
        .find_all(Locator::Css("#timeline .timeline-entry"))
        .await?;
    let mut names = Vec::new();
    for entry in &sources {
        names.push(entry.attr("data-source").await?.unwrap_or_default());
    }
    for expected in [
        "compromise_time",
        "trail_event",
        "manual",
        "containment_action",
        "phase_change",
        "task",
        "impact",
        "owner_notified",
        "recovery_action",
        "trail_import",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} missing from {names:?}"
        );
    }
    Ok(())
}

async fn walk_case(client: &Client, app: &TestApp, trails: &Trails) -> Result<(), CmdError> {
    let derived = identification(client, app, &trails.before_containment).await?;
    containment(client, &trails.after_containment, &derived).await?;
    eradication_and_recovery(client, app).await?;
    click(client, "timeline-refresh").await?;
    check_timeline(client).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_walks_all_phases() {
    let app = spawn_app(Backend::Sqlite).await;
    let site = app.state.settings.site_dir.join("index.html");
    assert!(
        site.is_file(),
        "{} missing; run the tests with `cargo xtask test`",
        site.display()
    );
    std::fs::create_dir_all(&app.data_dir).unwrap();
    let trails = write_trails(&app.data_dir);

    let profile = tempfile::tempdir().unwrap();
    let driver = start_driver();
    let client = connect(&driver, profile.path()).await;
    let outcome = std::panic::AssertUnwindSafe(walk_case(&client, &app, &trails))
        .catch_unwind()
        .await;
    let closed = client.close().await;
    drop(driver);
    match outcome {
        Ok(steps) => steps.expect("browser steps"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
    closed.expect("WebDriver session closes");

    app.login_admin().await;
    let changes = app.get_json("/api/v1/cases/1/phase-changes").await;
    let changes = changes.as_array().unwrap();
    assert_eq!(changes.len(), 5);
    let forced: Vec<bool> = changes
        .iter()
        .map(|c| c["forced"].as_bool().unwrap())
        .collect();
    assert_eq!(forced, [false, true, false, false, false]);
    let case = app.get_json("/api/v1/cases/1").await;
    assert_eq!(case["phase"], "closed");
    let credentials = app.get_json("/api/v1/cases/1/credentials").await;
    let derived = credentials
        .as_array()
        .unwrap()
        .iter()
        .find(|credential| credential["access_key_id"] == DERIVED_KEY)
        .expect("the derived key is recorded");
    assert_eq!(derived["derived_from"], 1);
    assert_eq!(derived["proposed"], false);
    assert_eq!(derived["status"], "disabled");
}
