//! The account page in real headless Chromium: turning on two-factor authentication with the
//! key the page shows and a code computed from it.

use std::time::Duration;

use fantoccini::{Client, Locator};
use futures_util::FutureExt;

use crate::browser::{click, connect, fill, start_driver, text_of};
use crate::helpers::{spawn_app, wait_for, Backend, TestApp, ADMIN_PASSWORD};

fn current_code(secret: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    rekey::totp::code_at(secret, rekey::totp::current_step(now)).unwrap()
}

async fn set_up_totp(client: &Client, app: &TestApp) -> Result<(), fantoccini::error::CmdError> {
    client.goto(&format!("{}/login", app.base)).await?;
    fill(client, "login-username", "admin").await?;
    fill(client, "login-password", ADMIN_PASSWORD).await?;
    click(client, "login-submit").await?;
    // Wait for the case list that the app opens after the login, which would override an
    // earlier navigation.
    client.wait().for_element(Locator::Id("new-case")).await?;
    click(client, "nav-account").await?;
    click(client, "totp-start").await?;
    let secret = wait_for("the key to add to the app", Duration::from_secs(15), || async {
        let text = text_of(client, "totp-secret").await;
        (!text.is_empty()).then_some(text)
    })
    .await;
    let uri = client.find(Locator::Id("totp-uri")).await?.attr("href").await?.unwrap_or_default();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");

    fill(client, "totp-code", "000000").await?;
    click(client, "totp-enable").await?;
    let refused = wait_for("the wrong code rejected", Duration::from_secs(15), || async {
        let text = text_of(client, "totp-error").await;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(refused.contains("does not match"), "{refused}");

    client.find(Locator::Id("totp-code")).await?.clear().await?;
    fill(client, "totp-code", &current_code(&secret)).await?;
    click(client, "totp-enable").await?;
    wait_for("two-factor authentication on", Duration::from_secs(15), || async {
        text_of(client, "totp-state").await.contains("is on").then_some(())
    })
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_turns_on_two_factor_authentication() {
    let app = spawn_app(Backend::Sqlite).await;
    let site = app.state.settings.site_dir.join("index.html");
    assert!(site.is_file(), "{} missing; run the tests with `cargo xtask test`", site.display());

    let profile = tempfile::tempdir().unwrap();
    let driver = start_driver();
    let client = connect(&driver, profile.path()).await;
    // The session is closed before a failure propagates, so no browser outlives the test.
    let outcome = std::panic::AssertUnwindSafe(set_up_totp(&client, &app)).catch_unwind().await;
    let closed = client.close().await;
    drop(driver);
    match outcome {
        Ok(steps) => steps.expect("browser steps"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
    closed.expect("WebDriver session closes");

    let body = serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD});
    let login = app.post("/api/v1/session", &body).await;
    let error = crate::helpers::expect_status(login, reqwest::StatusCode::UNAUTHORIZED).await;
    assert_eq!(error["error"]["code"], "totp_required", "a password alone no longer signs in");
}
