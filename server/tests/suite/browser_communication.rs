//! Stakeholder communication in real headless Chromium: stakeholders with roles, a status
//! update, the delivery log, and a test email from the mail settings page.

use std::time::Duration;

use fantoccini::{Client, Locator};
use futures_util::FutureExt;

use crate::browser::{click, connect, fill, start_driver, text_of};
use crate::helpers::{wait_for, Backend, TestApp, ADMIN_PASSWORD};
use crate::mail::{app_with_mail, free_port, SmtpServer};

async fn add_stakeholder(client: &Client, name: &str, email: &str, role: &str, audience: &str) -> Result<(), fantoccini::error::CmdError> {
    fill(client, "stakeholder-name", name).await?;
    fill(client, "stakeholder-email", email).await?;
    client.find(Locator::Id("stakeholder-role")).await?.select_by_value(role).await?;
    client.find(Locator::Id("stakeholder-audience")).await?.select_by_value(audience).await?;
    click(client, "stakeholder-add").await?;
    wait_for("the stakeholder in the table", Duration::from_secs(15), || async {
        text_of(client, "stakeholders").await.contains(email).then_some(())
    })
    .await;
    Ok(())
}

async fn report_to_stakeholders(client: &Client, app: &TestApp) -> Result<(), fantoccini::error::CmdError> {
    client.goto(&format!("{}/login", app.base)).await?;
    fill(client, "login-username", "admin").await?;
    fill(client, "login-password", ADMIN_PASSWORD).await?;
    click(client, "login-submit").await?;
    click(client, "new-case").await?;
    fill(client, "case-title", "Token in a public gist").await?;
    click(client, "case-create").await?;

    add_stakeholder(client, "Dana Counsel", "dana@example.com", "legal", "internal").await?;
    add_stakeholder(client, "Data Protection Authority", "dpa@example.org", "regulator", "external").await?;
    let stakeholders = text_of(client, "stakeholders").await;
    assert!(stakeholders.contains("Legal"), "{stakeholders}");
    assert!(stakeholders.contains("Regulator"), "{stakeholders}");
    assert!(stakeholders.contains("External"), "{stakeholders}");

    fill(client, "status-update-text", "Token revoked at 10:40 UTC; the old token=abc123secret is dead.").await?;
    click(client, "status-update-send").await?;
    let sent = wait_for("the sent confirmation", Duration::from_secs(15), || async {
        let text = text_of(client, "status-update-sent").await;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert_eq!(sent, "Sent to 2 stakeholder(s).");
    let notice = text_of(client, "status-update-redacted").await;
    assert!(notice.contains("[REDACTED]"), "{notice}");
    let updates = text_of(client, "status-updates").await;
    assert!(updates.contains("Token revoked at 10:40 UTC"), "{updates}");
    assert!(!updates.contains("abc123secret"), "{updates}");

    // The delivery log lists both emails; after a reload it shows them sent.
    let log = wait_for("both emails in the delivery log", Duration::from_secs(15), || async {
        let text = text_of(client, "notifications").await;
        (text.contains("dana@example.com") && text.contains("dpa@example.org")).then_some(text)
    })
    .await;
    assert!(log.contains("status update"), "{log}");
    wait_for("both emails shown as sent", Duration::from_secs(30), || async {
        client.refresh().await.ok()?;
        // The sections load after the case itself, so the table appears a moment later.
        let text = wait_for("the delivery log after a reload", Duration::from_secs(10), || async {
            let text = text_of(client, "notifications").await;
            text.contains("dpa@example.org").then_some(text)
        })
        .await;
        (text.matches("Sent").count() >= 2 && !text.contains("Queued")).then_some(())
    })
    .await;
    // The delivery log of one stakeholder: the first one added, Dana, has id 1.
    client.find(Locator::Id("notifications-stakeholder")).await?.select_by_value("1").await?;
    let dana_log = wait_for("Dana's delivery log", Duration::from_secs(15), || async {
        let text = text_of(client, "notifications").await;
        (!text.contains("dpa@example.org")).then_some(text)
    })
    .await;
    assert!(dana_log.contains("dana@example.com"), "{dana_log}");

    let communications = text_of(client, "communications").await;
    assert!(communications.contains("dpa@example.org"), "{communications}");

    // The lead stops status updates to Dana and limits her findings emails to high severity.
    client.find(Locator::Css(r#"tr[data-stakeholder="1"] summary"#)).await?.click().await?;
    click(client, "stakeholder-1-subscription-status_updates").await?;
    let threshold = client.find(Locator::Id("stakeholder-1-subscription-finding-min-severity")).await?;
    threshold.select_by_value("high").await?;
    client.find(Locator::Css(r#"tr[data-stakeholder="1"] button[type="submit"]"#)).await?.click().await?;
    let labels = wait_for("Dana's subscriptions saved", Duration::from_secs(15), || async {
        let row = client.find(Locator::Css(r#"tr[data-stakeholder="1"] .subscription-labels"#)).await.ok()?;
        let text = row.text().await.ok()?;
        (!text.is_empty() && !text.contains("Status updates")).then_some(text)
    })
    .await;
    assert!(labels.contains("New eradication findings (high or higher)"), "{labels}");

    // The administrator checks the SMTP settings with a test email.
    click(client, "mail-settings").await?;
    fill(client, "test-email-to", "admin@example.com").await?;
    click(client, "test-email-send").await?;
    let reply = wait_for("the SMTP reply", Duration::from_secs(15), || async {
        let text = text_of(client, "test-email-reply").await;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(reply.starts_with("250"), "{reply}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_reports_to_stakeholders() {
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &temp.path().join("maildir"));
    let app = app_with_mail(Backend::Sqlite, port).await;
    let site = app.state.settings.site_dir.join("index.html");
    assert!(
        site.is_file(),
        "{} missing; run the tests with `cargo xtask test`, which builds the browser app",
        site.display()
    );

    let profile = tempfile::tempdir().unwrap();
    let driver = start_driver();
    let client = connect(&driver, profile.path()).await;
    // The session is closed before a failure propagates, so no browser outlives the test.
    let outcome = std::panic::AssertUnwindSafe(report_to_stakeholders(&client, &app))
        .catch_unwind()
        .await;
    let closed = client.close().await;
    drop(driver);
    match outcome {
        Ok(steps) => steps.expect("browser steps"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
    closed.expect("WebDriver session closes");
    assert_eq!(smtp.messages().len(), 3, "two status updates and one test email");
}
