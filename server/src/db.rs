//! Database connection for both backends.
//!
//! Queries go through sqlx's `Any` driver, so one SQL text serves SQLite and PostgreSQL. That
//! driver decodes only integers, floats and text, so the schema stores times as BIGINT
//! milliseconds since the Unix epoch (UTC) and flags as 0 or 1. Each backend has its own
//! migrations folder because their DDL differs (identity columns).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Connection pool plus the backend it talks to.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

impl Db {
    /// Connects to `url`, creating a SQLite file when missing, and runs pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        Db::open(url, true).await
    }

    /// Connects to an existing database; a missing SQLite file is an error rather than a new,
    /// empty database. For commands that only make sense on a database `rekey serve` made.
    pub async fn connect_existing(url: &str) -> anyhow::Result<Db> {
        Db::open(url, false).await
    }

    async fn open(url: &str, create: bool) -> anyhow::Result<Db> {
        let printable = crate::config::redact_url_password(url);
        let context = |error: sqlx::Error| {
            anyhow::anyhow!(
                "cannot open the database at database_url {printable}: {error}; check that the server runs \
                 and the URL, user and database name are right"
            )
        };
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        if backend == Backend::Sqlite {
            let path = sqlite_path(url)?;
            if !create && !path.is_file() {
                anyhow::bail!(
                    "no database at {}; run this command where `rekey serve` runs, or give --data-dir or --database-url",
                    path.display()
                );
            }
            create_sqlite_parent_dir(&path)?;
        }

        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Writers wait for each other instead of failing with SQLITE_BUSY, and
                        // foreign keys are enforced as on PostgreSQL.
                        conn.execute("PRAGMA busy_timeout = 30000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(context)?;

        if backend == Backend::Sqlite {
            // WAL lets readers go on while an import writes; the mode is kept in the file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .fetch_all(&pool)
                .await?;
        }

        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        Ok(Db { pool, backend })
    }

    pub async fn begin(&self) -> sqlx::Result<Tx> {
        self.pool.begin().await
    }
}

fn sqlite_path(url: &str) -> anyhow::Result<std::path::PathBuf> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("database_url {url} is not a SQLite URL: {e}"))?;
    Ok(options.get_filename().to_path_buf())
}

fn create_sqlite_parent_dir(path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| {
                anyhow::anyhow!("cannot create database directory {}: {e}", parent.display())
            })?;
        }
    }
    Ok(())
}

/// Milliseconds since the Unix epoch, the stored form of every time.
pub fn to_millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

pub fn from_millis(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub fn now_millis() -> i64 {
    to_millis(Utc::now())
}

/// Reads a column that contains a time.
pub fn time_column(row: &AnyRow, column: &str) -> sqlx::Result<DateTime<Utc>> {
    use sqlx::Row;
    Ok(from_millis(row.try_get::<i64, _>(column)?))
}

/// Reads a nullable column that contains a time.
pub fn optional_time_column(row: &AnyRow, column: &str) -> sqlx::Result<Option<DateTime<Utc>>> {
    use sqlx::Row;
    Ok(row.try_get::<Option<i64>, _>(column)?.map(from_millis))
}

/// Tells whether an error is a violated unique constraint.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db_error) => db_error.is_unique_violation(),
        _ => false,
    }
}
