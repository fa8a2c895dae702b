//! Stakeholder invitations in real headless Chromium: a lead invites through the case page, and
//! an invited stakeholder accepts the link and reads only the sections shared with them.

use std::future::Future;
use std::time::Duration;

use fantoccini::{Client, Locator};
use futures_util::FutureExt;
use reqwest::StatusCode;
use serde_json::json;

use crate::browser::{click, connect, fill, start_driver, text_of};
use crate::helpers::{expect_status, spawn_app, wait_for, Backend, TestApp, ADMIN_PASSWORD};
use crate::trail_fixtures::{COMPROMISE_TIME, LEAKED_KEY};

/// Title that `TestApp::create_case` gives the case.
const CASE_TITLE: &str = "Access key pushed to a public repository";
const STAKEHOLDER_PASSWORD: &str = "dana's long password";

/// Element ids of the case sections and controls hidden from a stakeholder who was shared only
/// the notifications.
const HIDDEN_IDS: &[&str] = &[
    "credentials-section",
    "credentials",
    "imports-section",
    "findings-section",
    "findings",
    "stakeholders-section",
    "members-section",
    "invitations-section",
    "phase-advance",
    "credential-form",
    "import-form",
    "invite-form",
];

type Steps<T> = Result<T, fantoccini::error::CmdError>;

/// Starts an app on SQLite with the built browser app, logged in as admin, with case 1.
async fn app_with_case() -> TestApp {
    let app = spawn_app(Backend::Sqlite).await;
    let site = app.state.settings.site_dir.join("index.html");
    assert!(
        site.is_file(),
        "{} missing; run the tests with `cargo xtask test`, which builds the browser app",
        site.display()
    );
    app.login_admin().await;
    assert_eq!(app.create_case(COMPROMISE_TIME).await, 1);
    app.add_access_key(1, LEAKED_KEY).await;
    app
}

/// Runs browser steps in a fresh Chromium and closes the WebDriver session before returning,
/// also when a step panics, so that no browser outlives the test.
async fn in_browser<T, F, Fut>(steps: F) -> T
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Steps<T>>,
{
    let profile = tempfile::tempdir().unwrap();
    let driver = start_driver();
    let client = connect(&driver, profile.path()).await;
    let outcome = std::panic::AssertUnwindSafe(steps(client.clone()))
        .catch_unwind()
        .await;
    let closed = client.close().await;
    drop(driver);
    let result = match outcome {
        Ok(result) => result.expect("browser steps"),
        Err(panic) => std::panic::resume_unwind(panic),
    };
    closed.expect("WebDriver session closes");
    result
}

async fn is_present(client: &Client, id: &str) -> bool {
    client.find(Locator::Id(id)).await.is_ok()
}

/// What the stakeholder's browser showed.
struct StakeholderView {
    preview: String,
    path: String,
    title: String,
    notifications: String,
    /// Ids from `HIDDEN_IDS` that were present.
    hidden_present: Vec<&'static str>,
    /// `id: text` of each button inside `<main>`.
    buttons: Vec<String>,
    form_count: usize,
    section_nav: String,
    /// Text of the page when the used link is opened again.
    reused_link: String,
}

async fn accept_and_read(client: Client, app: &TestApp, link_path: &str) -> Steps<StakeholderView> {
    client.goto(&format!("{}{link_path}", app.base)).await?;
    let preview = wait_for("the invitation preview", Duration::from_secs(15), || async {
        let text = text_of(&client, "invitation-preview").await;
        text.contains("RK-1").then_some(text)
    })
    .await;

    fill(&client, "accept-username", "dana").await?;
    fill(&client, "accept-password", STAKEHOLDER_PASSWORD).await?;
    fill(&client, "accept-password-confirm", STAKEHOLDER_PASSWORD).await?;
    click(&client, "accept-submit").await?;

    let title = wait_for("the case title", Duration::from_secs(15), || async {
        let text = text_of(&client, "case-title-text").await;
        (!text.is_empty()).then_some(text)
    })
    .await;
    // The invitation email is a notification of the case, so the table has a row for Dana.
    let notifications = wait_for("the notifications table", Duration::from_secs(15), || async {
        let text = text_of(&client, "notifications").await;
        text.contains("dana@example.com").then_some(text)
    })
    .await;

    let mut hidden_present = Vec::new();
    for id in HIDDEN_IDS {
        if is_present(&client, id).await {
            hidden_present.push(*id);
        }
    }
    let mut buttons = Vec::new();
    for button in client.find_all(Locator::Css("main button")).await? {
        let id = button.attr("id").await?.unwrap_or_default();
        buttons.push(format!("{id}: {}", button.text().await?));
    }
    let form_count = client.find_all(Locator::Css("main form")).await?.len();
    let section_nav = match client.find(Locator::Css("nav.section-nav")).await {
        Ok(nav) => nav.text().await?,
        Err(_) => String::new(),
    };
    let path = client.current_url().await?.path().to_string();

    client.goto(&format!("{}{link_path}", app.base)).await?;
    let reused_link = wait_for("the message for a used link", Duration::from_secs(15), || async {
        let text = text_of(&client, "invitation-invalid").await;
        (!text.is_empty()).then_some(text)
    })
    .await;
    Ok(StakeholderView {
        preview,
        path,
        title,
        notifications,
        hidden_present,
        buttons,
        form_count,
        section_nav,
        reused_link,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stakeholder_accepts_and_reads_shared_section() {
    let app = app_with_case().await;
    let body = json!({
        "name": "Dana Counsel",
        "email": "dana@example.com",
        "sections": ["notifications"],
    });
    let invitation = expect_status(app.post("/api/v1/cases/1/invitations", &body).await, StatusCode::CREATED).await;
    let link = invitation["link"].as_str().unwrap();
    let link_path = &link[link.find("/invitations/").expect("link contains /invitations/")..];

    let view = in_browser(|client| accept_and_read(client, &app, link_path)).await;

    assert!(view.preview.contains("dana@example.com"), "{}", view.preview);
    assert!(view.preview.contains("Administrator"), "inviter missing: {}", view.preview);
    assert_eq!(view.path, "/cases/1");
    assert_eq!(view.title, CASE_TITLE);
    assert!(view.notifications.contains("Invitation"), "{}", view.notifications);
    assert!(view.hidden_present.is_empty(), "stakeholder sees {:?}", view.hidden_present);
    assert!(view.buttons.is_empty(), "stakeholder sees buttons {:?}", view.buttons);
    assert_eq!(view.form_count, 0, "stakeholder sees a form");
    assert!(view.section_nav.contains("Notifications"), "{}", view.section_nav);
    assert!(!view.section_nav.contains("Findings"), "{}", view.section_nav);
    assert!(view.reused_link.contains("used already"), "{}", view.reused_link);

    // The server rejects and records each request for a section that is not shared, so no
    // denial means the page requested none.
    let entries = app.get_json("/api/v1/audit").await;
    let denials: Vec<_> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["action"] == "access_denied" && entry["actor"] == "dana")
        .collect();
    assert!(denials.is_empty(), "{denials:?}");
}

/// What the lead's browser showed after inviting.
struct LeadView {
    link: String,
    table: String,
}

async fn invite_in_browser(client: Client, app: &TestApp) -> Steps<LeadView> {
    client.goto(&format!("{}/login", app.base)).await?;
    fill(&client, "login-username", "admin").await?;
    fill(&client, "login-password", ADMIN_PASSWORD).await?;
    click(&client, "login-submit").await?;
    client.wait().for_element(Locator::Id("new-case")).await?;
    client.goto(&format!("{}/cases/1", app.base)).await?;

    fill(&client, "invite-name", "Sam Press").await?;
    fill(&client, "invite-email", "sam@example.com").await?;
    click(&client, "invite-section-findings").await?;
    fill(&client, "invite-hours", "24").await?;
    click(&client, "invite-submit").await?;
    let link = wait_for("the invitation link", Duration::from_secs(15), || async {
        let text = text_of(&client, "invite-link").await;
        text.contains("/invitations/").then_some(text)
    })
    .await;
    let table = wait_for("the invitations table", Duration::from_secs(15), || async {
        let text = text_of(&client, "invitations").await;
        text.contains("sam@example.com").then_some(text)
    })
    .await;
    Ok(LeadView { link, table })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lead_invites_from_case_page() {
    let app = app_with_case().await;

    let view = in_browser(|client| invite_in_browser(client, &app)).await;

    assert!(view.link.starts_with("http://rekey.test/invitations/"), "{}", view.link);
    assert!(view.table.contains("Sam Press"), "{}", view.table);
    assert!(view.table.contains("Findings"), "{}", view.table);
    assert!(view.table.contains("Not yet"), "{}", view.table);

    let invitations = app.get_json("/api/v1/cases/1/invitations").await;
    assert_eq!(invitations[0]["email"], "sam@example.com");
    assert_eq!(invitations[0]["sections"], json!(["findings"]));
}
