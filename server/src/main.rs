//! The `rekey` command: serve the application, manage users, import trails.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use rekey::api::cases::CaseRef;
use rekey::config::{LogFormat, Overrides, Settings};
use rekey::db::Db;
use rekey::import::{import_files, ImportProgress, Importer, TrailFile};
use rekey_types::{parse_case_reference, UserRole};
use sqlx::Row;

#[derive(Parser)]
#[command(name = "rekey", version, about = "Incident case management for leaked-credential response")]
struct Cli {
    /// TOML configuration file; without it, ./rekey.toml is read when present.
    #[arg(long, global = true, env = "REKEY_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the SQLite database and uploads.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// sqlite:… or postgres://… URL; overrides DATABASE_URL.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the web server (creates the database and the first admin on first start).
    Serve {
        /// Address and port to listen on, such as 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// URL people use to reach Rekey, for links in emails.
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Check the audit log's hash chain; exits with status 1 at the first break.
    Verify,
    /// Import CloudTrail files into a case, as the upload on the case page does.
    ImportTrail {
        /// Case number, such as 3 or RK-3.
        #[arg(long = "case")]
        case: String,
        /// Username recorded as the importer.
        #[arg(long, default_value = "admin")]
        user: String,
        /// Skip damaged events and import the rest, instead of importing nothing when a file
        /// cannot be read.
        #[arg(long)]
        keep_readable: bool,
        /// Trail files or directories (searched recursively): CloudTrail or CTS exports in any
        /// form, plain, gzip or zip.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from REKEY_NEW_PASSWORD or generated and printed.
    Add {
        #[arg(long)]
        username: String,
        /// Name shown in the app; defaults to the username.
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// admin, incident_lead, analyst, manager or stakeholder.
        #[arg(long, default_value = "analyst", value_parser = parse_role)]
        role: UserRole,
    },
}

fn parse_role(value: &str) -> Result<UserRole, String> {
    UserRole::parse(value).ok_or_else(|| format!("expected {}", UserRole::expected()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen_overrides = match &cli.command {
        Command::Serve { listen, public_url } => (*listen, public_url.clone()),
        _ => (None, None),
    };
    let overrides = Overrides {
        listen: listen_overrides.0,
        public_url: listen_overrides.1,
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
    };
    let settings = match Settings::load(cli.config.as_deref(), &overrides) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_format);

    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime starts");
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { .. } => serve(settings).await,
        Command::User {
            command: UserCommand::Add { username, name, email, role },
        } => add_user(settings, &username, name.as_deref(), email.as_deref(), role).await,
        Command::ImportTrail { case, user, keep_readable, files } => {
            import_trail(settings, &case, &user, keep_readable, files).await
        }
        Command::Verify => verify(settings).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = rekey::build(settings).await?;
    let generated = rekey::ensure_admin(&app.state.db, &app.state.settings).await?;
    let url = app.state.settings.public_url();
    tracing::info!(address = %app.local_addr()?, "Rekey listening");
    println!("Rekey is running. Log in at {url}/login");
    if app.state.settings.public_url.is_empty() && app.state.settings.listen.ip().is_unspecified() {
        println!(
            "Note: listening on all addresses, so links in emails would point to {url}; \
             set public_url (REKEY_PUBLIC_URL) to the address people use."
        );
    }
    if let Some(password) = generated {
        println!("First start: created user 'admin' with password {password}");
        println!("This password is shown only once; store it now.");
    }
    app.serve(shutdown_signal()).await
}

/// Completes on Ctrl-C or SIGTERM, the signal that service managers and `docker stop` send.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

async fn verify(settings: Settings) -> anyhow::Result<()> {
    let db = Db::connect_existing(&settings.database_url()).await?;
    let store = rekey::evidence::EvidenceStore::from_settings(&settings)?;
    let report = rekey::api::audit::integrity_report(&db, &store)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let audit = &report.audit;
    let mut intact = true;
    match &audit.first_break {
        None => println!("Audit log intact: {} rows checked.", audit.rows_checked),
        Some(broken) => {
            intact = false;
            println!(
                "Audit log broken at row {}: {} ({} rows before it are intact).",
                broken.row_id, broken.reason, audit.rows_checked
            );
        }
    }
    match &report.first_evidence_break {
        None => println!("Evidence intact: {} files checked.", report.evidence_checked),
        Some(broken) => {
            intact = false;
            println!(
                "Evidence {} does not match its hash: expected {}, found {}.",
                broken.evidence_id,
                broken.expected_sha256,
                broken.actual_sha256.as_deref().unwrap_or("no stored file")
            );
        }
    }
    if !intact {
        std::process::exit(1);
    }
    Ok(())
}

async fn add_user(
    settings: Settings,
    username: &str,
    name: Option<&str>,
    email: Option<&str>,
    role: UserRole,
) -> anyhow::Result<()> {
    if let Some(email) = email {
        rekey_types::validate_email(email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
    }
    let db = Db::connect_existing(&settings.database_url()).await?;
    let (password, generated) = match std::env::var("REKEY_NEW_PASSWORD") {
        Ok(password) => (password, false),
        Err(_) => (rekey::auth::generate_password(), true),
    };
    rekey::auth::create_user(&db, username, name.unwrap_or(username), email, role, &password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("Created {} '{username}'.", role.label().to_lowercase());
    if generated {
        println!("Password (shown only once): {password}");
    }
    Ok(())
}

async fn import_trail(settings: Settings, case: &str, username: &str, keep_readable: bool, paths: Vec<PathBuf>) -> anyhow::Result<()> {
    let number = parse_case_reference(case)
        .ok_or_else(|| anyhow::anyhow!("--case '{case}' is not a case number; use the form 3 or RK-3"))?;
    let db = Db::connect_existing(&settings.database_url()).await?;
    let case_row = sqlx::query("SELECT id FROM cases WHERE number = $1")
        .bind(number)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| anyhow::anyhow!("case {case} not found"))?;
    // The command line runs with the database's own access, so no case role applies.
    let case = CaseRef {
        id: case_row.try_get("id")?,
        number,
        role: None,
    };
    let user = sqlx::query("SELECT id, display_name FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| anyhow::anyhow!("--user '{username}' not found; give an existing username"))?;
    let user_id: i64 = user.try_get("id")?;
    let importer = Importer {
        user_id,
        display_name: user.try_get("display_name")?,
        actor: rekey::audit::Actor {
            id: Some(user_id),
            name: format!("{username} (command line)"),
            client_address: None,
        },
    };
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        if path.is_dir() {
            for file in rekey_trail::trail_files_in(&path)? {
                files.push(TrailFile {
                    name: file.display().to_string(),
                    path: file,
                });
            }
            continue;
        }
        if !path.is_file() {
            anyhow::bail!("{} is not a readable file or directory", path.display());
        }
        // Only the file name is recorded, so that local directory names stay on this machine.
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        files.push(TrailFile { name, path });
    }
    let progress = Arc::new(ImportProgress::default());
    let reporter = tokio::spawn(report_progress(progress.clone()));
    let store = rekey::evidence::EvidenceStore::from_settings(&settings)?;
    let result = import_files(&db, &settings, &store, case, &importer, files, progress.clone(), keep_readable).await;
    reporter.abort();
    if std::io::stderr().is_terminal() {
        // End the progress line, which the next output would otherwise overwrite.
        eprintln!();
    }
    let outcome = result.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Imported into RK-{number}: {} events read, {} matched, {} new, {} new findings.",
        outcome.events_read, outcome.events_matched, outcome.events_new, outcome.findings_new
    );
    if outcome.credentials_proposed > 0 {
        println!(
            "{} credential(s) that these calls created are proposed on the case; confirm them on the \
             case page to add their calls.",
            outcome.credentials_proposed
        );
    }
    Ok(())
}

/// Writes the progress of a running import to stderr: a line rewritten every half second on a
/// terminal, else a new line every 10 seconds. Runs until aborted.
async fn report_progress(progress: Arc<ImportProgress>) {
    let terminal = std::io::stderr().is_terminal();
    let period = if terminal { Duration::from_millis(500) } else { Duration::from_secs(10) };
    let started = Instant::now();
    let mut reading_time = None;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        ticks.tick().await;
        let bytes_read = progress.bytes_read.load(Ordering::Relaxed);
        let bytes_total = progress.bytes_total.load(Ordering::Relaxed);
        // The rate stops at the end of reading, because storing adds no events read.
        if reading_time.is_none() && bytes_read >= bytes_total {
            reading_time = Some(started.elapsed());
        }
        let line = progress_line(&progress, reading_time.unwrap_or_else(|| started.elapsed()), reading_time.is_some());
        if terminal {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
    }
}

/// Describes bytes read, events read and the average events per second over `elapsed`.
fn progress_line(progress: &ImportProgress, elapsed: Duration, storing: bool) -> String {
    const MB: f64 = 1_000_000.0;
    let bytes_read = progress.bytes_read.load(Ordering::Relaxed) as f64;
    let bytes_total = progress.bytes_total.load(Ordering::Relaxed) as f64;
    let events = progress.events_read.load(Ordering::Relaxed);
    let rate = events as f64 / elapsed.as_secs_f64().max(0.001);
    if storing {
        return format!(
            "Read {:.0} MB, {events} events, {rate:.0} events/s; storing the kept events",
            bytes_read / MB
        );
    }
    let percent = if bytes_total > 0.0 { 100.0 * bytes_read / bytes_total } else { 100.0 };
    format!(
        "Reading: {:.0} of {:.0} MB ({percent:.0} %), {events} events, {rate:.0} events/s",
        bytes_read / MB,
        bytes_total / MB
    )
}
