//! Rekey: incident case management for leaked-credential response.
//!
//! `build` assembles the application from settings; the `rekey` binary and the tests both
//! start it through `App::serve`.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};

pub mod api;
pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod derived;
pub mod error;
pub mod evidence;
pub mod import;
pub mod mail;
pub mod throttle;
pub mod tokens;
pub mod totp;
pub mod rules;
pub mod redact;
pub mod report;
pub mod reminders;
mod web;

use config::Settings;
use db::Db;

/// State shared by every request handler.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Notified when a change queues email, so the worker sends it at once.
    pub mail_wakeup: Arc<Notify>,
    /// Bounds concurrent password hashing, so a burst of logins cannot take every core.
    pub hash_limiter: Arc<Semaphore>,
    pub login_throttle: Arc<throttle::LoginThrottle>,
    pub evidence: evidence::EvidenceStore,
    pub running_imports: Arc<import::RunningImports>,
}

/// A built application, bound to its listening socket but not yet serving.
pub struct App {
    pub state: AppState,
    pub listener: TcpListener,
}

impl App {
    /// Address the server listens on; with port 0 in the settings, the port the OS chose.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves requests and runs the mail worker until `shutdown` completes.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let worker = if self.state.settings.mail_configured() {
            Some(tokio::spawn(mail::run_worker(
                self.state.db.clone(),
                self.state.settings.clone(),
                self.state.mail_wakeup.clone(),
            )))
        } else {
            tracing::warn!("mail is not configured (smtp_host is empty); notifications stay in the outbox");
            None
        };
        let reminders = tokio::spawn(reminders::run(
            self.state.db.clone(),
            self.state.settings.clone(),
            self.state.mail_wakeup.clone(),
        ));
        let router = web::router(self.state);
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let result = axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await;
        if let Some(worker) = worker {
            worker.abort();
        }
        reminders.abort();
        result?;
        Ok(())
    }
}

/// Connects to the database, runs migrations, and binds the listener.
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let db = Db::connect(&settings.database_url()).await?;
    rules::seed_builtin_rules(&db).await.map_err(|e| anyhow::anyhow!("cannot store the built-in finding rules: {e}"))?;
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}; set listen to a free address", settings.listen))?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let evidence = evidence::EvidenceStore::from_settings(&settings)?;
    for dir in [evidence.staging_dir(&settings), settings.data_dir.join("uploads")] {
        let removed = evidence::remove_stale_entries(&dir, evidence::STALE_AFTER);
        if removed > 0 {
            tracing::info!(dir = %dir.display(), removed, "removed files that interrupted imports and uploads left");
        }
    }
    let state = AppState {
        evidence,
        running_imports: Arc::default(),
        db,
        settings: Arc::new(settings),
        mail_wakeup: Arc::new(Notify::new()),
        hash_limiter: Arc::new(Semaphore::new(cores)),
        login_throttle: Arc::new(throttle::LoginThrottle::default()),
    };
    Ok(App { state, listener })
}

/// Creates the first admin account when no user exists. Returns the generated password when
/// none was configured, so the caller can print it once.
pub async fn ensure_admin(db: &Db, settings: &Settings) -> anyhow::Result<Option<String>> {
    use sqlx::Row;
    let users: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")?;
    if users > 0 {
        return Ok(None);
    }
    let (password, generated) = match &settings.admin_password {
        Some(password) => (password.expose().to_string(), false),
        None => (auth::generate_password(), true),
    };
    let created = auth::create_user(db, "admin", "Administrator", None, rekey_types::UserRole::Admin, &password).await;
    match created {
        Ok(_) => Ok(generated.then_some(password)),
        // Another instance on the same database created it first.
        Err(error::Error::Conflict { .. }) => Ok(None),
        Err(error::Error::Invalid { message, .. }) => {
            anyhow::bail!("admin_password is invalid: {message}")
        }
        Err(other) => Err(anyhow::anyhow!("cannot create the admin account: {other}")),
    }
}
