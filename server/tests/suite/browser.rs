//! The browser app in real headless Chromium, driven over WebDriver by ChromeDriver.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::json;

use crate::helpers::{spawn_app, wait_for, Backend, TestApp, ADMIN_PASSWORD};
use crate::trail_fixtures::{records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY};

/// A ChromeDriver process, killed on drop so that no browser outlives the test.
pub(crate) struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn program(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default))
}

pub(crate) fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(program("REKEY_TEST_CHROMEDRIVER", "chromedriver"))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts; `cargo xtask test` installs it");
    let driver = Driver { child, port };
    let address = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..100 {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return driver;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("chromedriver did not listen on port {port} within 10 s");
}

pub(crate) async fn connect(driver: &Driver, profile: &std::path::Path) -> Client {
    let chromium = program("REKEY_TEST_CHROMIUM", "/usr/bin/chromium");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_string(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("WebDriver session starts")
}

pub(crate) async fn fill(client: &Client, id: &str, text: &str) -> Result<(), fantoccini::error::CmdError> {
    let input = client.wait().for_element(Locator::Id(id)).await?;
    input.clear().await?;
    input.send_keys(text).await
}

pub(crate) async fn click(client: &Client, id: &str) -> Result<(), fantoccini::error::CmdError> {
    client.wait().for_element(Locator::Id(id)).await?.click().await
}

/// Text of the element with `id`, or an empty string while it does not exist.
pub(crate) async fn text_of(client: &Client, id: &str) -> String {
    match client.find(Locator::Id(id)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Logs in, creates a case, adds a credential, uploads a trail file and reads the findings.
async fn work_one_case(client: &Client, app: &TestApp, trail: &std::path::Path) -> Result<(), fantoccini::error::CmdError> {
    client.goto(&format!("{}/login", app.base)).await?;
    fill(client, "login-username", "admin").await?;
    fill(client, "login-password", ADMIN_PASSWORD).await?;
    click(client, "login-submit").await?;

    click(client, "new-case").await?;
    fill(client, "case-title", "Deploy key found on a paste site").await?;
    fill(client, "case-compromise-time", COMPROMISE_TIME).await?;
    click(client, "case-create").await?;

    fill(client, "credential-access-key-id", LEAKED_KEY).await?;
    click(client, "credential-add").await?;
    wait_for("the credential in the list", Duration::from_secs(15), || async {
        let page = client.source().await.unwrap_or_default();
        (page.matches(LEAKED_KEY).count() >= 1 && page.contains("uspected")).then_some(())
    })
    .await;

    let upload = client.wait().for_element(Locator::Id("import-files")).await?;
    upload.send_keys(&trail.display().to_string()).await?;
    click(client, "import-submit").await?;
    let findings = wait_for("the findings table", Duration::from_secs(20), || async {
        let text = text_of(client, "findings").await;
        text.contains("CreateUser").then_some(text)
    })
    .await;
    assert!(findings.contains("iam.amazonaws.com"), "{findings}");
    assert!(findings.contains("203.0.113.7"), "{findings}");
    assert!(!findings.contains("DescribeInstances"), "read-only call listed as finding: {findings}");
    assert!(!findings.contains("e-before"), "{findings}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_works_one_case() {
    let app = spawn_app(Backend::Sqlite).await;
    let site = app.state.settings.site_dir.join("index.html");
    assert!(
        site.is_file(),
        "{} missing; run the tests with `cargo xtask test`, which builds the browser app",
        site.display()
    );
    let trail = app.data_dir.join("browser-trail.json");
    std::fs::create_dir_all(&app.data_dir).unwrap();
    std::fs::write(&trail, records_file(&standard_events())).unwrap();

    let profile = tempfile::tempdir().unwrap();
    let driver = start_driver();
    let client = connect(&driver, profile.path()).await;
    // A failed step panics or returns an error; either way the session is closed before the
    // test fails, so that no browser outlives it.
    let outcome = std::panic::AssertUnwindSafe(work_one_case(&client, &app, &trail))
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
    let findings = app.get_json("/api/v1/cases/1/findings").await;
    assert_eq!(findings.as_array().unwrap().len(), 1);
}

/// Signs in with a password and then the one-time code that the login page requests.
async fn sign_in_with_code(client: &Client, app: &TestApp, code: &str) -> Result<(), fantoccini::error::CmdError> {
    client.goto(&format!("{}/login", app.base)).await?;
    fill(client, "login-username", "admin").await?;
    fill(client, "login-password", ADMIN_PASSWORD).await?;
    click(client, "login-submit").await?;
    fill(client, "login-code", code).await?;
    click(client, "login-submit").await?;
    wait_for("the case list after signing in", Duration::from_secs(15), || async {
        client.find(Locator::Id("new-case")).await.ok().map(|_| ())
    })
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_asks_for_code() {
    let app = spawn_app(Backend::Sqlite).await;
    app.login_admin().await;
    let setup = app.post("/api/v1/account/totp/setup", &json!({})).await;
    let setup: serde_json::Value = setup.json().await.unwrap();
    let secret = setup["secret"].as_str().unwrap().to_string();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let step = rekey::totp::current_step(now);
    let enable = app
        .post("/api/v1/account/totp/enable", &json!({"code": rekey::totp::code_at(&secret, step).unwrap()}))
        .await;
    assert_eq!(enable.status(), reqwest::StatusCode::NO_CONTENT);
    let next_code = rekey::totp::code_at(&secret, step + 1).unwrap();

    let profile = tempfile::tempdir().unwrap();
    let driver = start_driver();
    let client = connect(&driver, profile.path()).await;
    let outcome = std::panic::AssertUnwindSafe(sign_in_with_code(&client, &app, &next_code))
        .catch_unwind()
        .await;
    let closed = client.close().await;
    drop(driver);
    match outcome {
        Ok(steps) => steps.expect("browser steps"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
    closed.expect("WebDriver session closes");
}
