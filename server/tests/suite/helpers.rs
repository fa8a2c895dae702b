//! Starts Rekey in-process on a fresh database for each test and talks to it over HTTP.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rekey::config::{Secret, Settings};
use rekey::AppState;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use sqlx::{Connection, Executor};
use tokio::sync::oneshot;

pub const ADMIN_PASSWORD: &str = "admin password for tests";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test function once per backend, as `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )+};
}

/// A PostgreSQL database created for one test and dropped after it.
pub struct PostgresDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PostgresDatabase {
    pub async fn create() -> PostgresDatabase {
        let admin_url = std::env::var("REKEY_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let name = format!("rekey_test_{}", rand_suffix());
        let mut connection = sqlx::PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "cannot connect to PostgreSQL at {admin_url}: {e}; run the tests with `cargo xtask test`, \
                 which starts a server when none runs"
            )
        });
        connection
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let mut url = url::Url::parse(&admin_url).expect("valid REKEY_TEST_POSTGRES_URL");
        url.set_path(&name);
        PostgresDatabase {
            admin_url,
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime, which cannot block on a future, so the
        // database is dropped from a thread with its own runtime.
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&admin_url).await?;
                connection.execute(statement.as_str()).await?;
                Ok::<_, anyhow::Error>(())
            })
        });
        if let Ok(Err(error)) = dropper.join() {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), nanos)
}

/// A running Rekey and an HTTP client with its own cookie jar.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub data_dir: PathBuf,
    _temp: tempfile::TempDir,
    _postgres: Option<PostgresDatabase>,
    _shutdown: oneshot::Sender<()>,
}

/// Settings for a test app: loopback, port 0, quick mail retries.
pub fn test_settings(data_dir: PathBuf) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: "http://rekey.test".to_string(),
        data_dir,
        site_dir: std::env::var("REKEY_TEST_SITE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from("../target/site")),
        admin_password: Some(Secret::new(ADMIN_PASSWORD)),
        mail_retry_base_ms: 200,
        mail_retry_max_ms: 1_000,
        ..Settings::default()
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let temp = tempfile::tempdir().expect("temporary directory");
    let data_dir = temp.path().join("data");
    let mut settings = test_settings(data_dir.clone());
    let postgres = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let database = PostgresDatabase::create().await;
            settings.database_url = database.url.clone();
            Some(database)
        }
    };
    adjust(&mut settings);

    let app = rekey::build(settings).await.expect("app builds");
    rekey::ensure_admin(&app.state.db, &app.state.settings)
        .await
        .expect("admin account created");
    let base = format!("http://{}", app.local_addr().unwrap());
    let state = app.state.clone();
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.serve(async {
        let _ = stopped.await;
    }));

    TestApp {
        base,
        client: new_client(),
        state,
        data_dir,
        _temp: temp,
        _postgres: postgres,
        _shutdown: shutdown,
    }
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

impl TestApp {
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("X-Requested-With", "rekey")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path).json(body).send().await.unwrap()
    }

    /// GETs a path that must return 200 and returns its JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        expect_status(response, StatusCode::OK).await
    }

    pub async fn login_admin(&self) {
        let response = self
            .post("/api/v1/session", &serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .await;
        expect_status(response, StatusCode::OK).await;
    }

    /// Creates a case with a compromise time and returns its number.
    pub async fn create_case(&self, compromise_time: &str) -> i64 {
        let body = serde_json::json!({
            "title": "Access key pushed to a public repository",
            "severity": "P2",
            "detection_source": "third_party_notice",
            "compromise_time": compromise_time,
        });
        let response = self.post("/api/v1/cases", &body).await;
        let case = expect_status(response, StatusCode::CREATED).await;
        case["number"].as_i64().unwrap()
    }

    pub async fn add_access_key(&self, case: i64, key: &str) {
        let body = serde_json::json!({"kind": "access_key", "access_key_id": key});
        let response = self.post(&format!("/api/v1/cases/{case}/credentials"), &body).await;
        expect_status(response, StatusCode::CREATED).await;
    }

    /// Uploads files as one trail import.
    pub async fn upload(&self, case: i64, files: &[(&str, Vec<u8>)]) -> Response {
        let mut form = reqwest::multipart::Form::new();
        for (name, bytes) in files {
            let part = reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string());
            form = form.part("files", part);
        }
        self.request(Method::POST, &format!("/api/v1/cases/{case}/imports"))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

/// Checks the status, printing the body when it differs, and returns the JSON body.
pub async fn expect_status(response: Response, expected: StatusCode) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, expected, "unexpected status; body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// Polls `check` until it returns `Some`, failing after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A second signed-in user of a test app, with its own cookie jar.
pub struct Session {
    pub base: String,
    pub client: reqwest::Client,
}

impl Session {
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("X-Requested-With", "rekey")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path).json(body).send().await.unwrap()
    }
}

impl TestApp {
    /// Creates a user with `role` through the API (the admin must be signed in) and returns
    /// a session signed in as that user.
    pub async fn user_session(&self, username: &str, role: &str) -> Session {
        let password = format!("{username} password for tests");
        let body = serde_json::json!({"username": username, "role": role, "password": password});
        expect_status(self.post("/api/v1/users", &body).await, StatusCode::CREATED).await;
        self.session_for(username, &password).await
    }

    /// Signs in as an existing user in a fresh cookie jar.
    pub async fn session_for(&self, username: &str, password: &str) -> Session {
        let session = Session {
            base: self.base.clone(),
            client: new_client(),
        };
        let body = serde_json::json!({"username": username, "password": password});
        expect_status(session.post("/api/v1/session", &body).await, StatusCode::OK).await;
        session
    }
}
