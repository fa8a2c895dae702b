//! A fresh data directory for the import benchmark: the schema, the built-in rules, the admin
//! account, and case 1 with the leaked key.

use std::path::Path;

use chrono::DateTime;
use rekey::config::Settings;
use rekey::db::{now_millis, to_millis, Db};

use crate::LEAKED_KEY;

/// Creates `rekey.db` in `data_dir`, which must not hold one yet.
pub fn setup(data_dir: &Path, since: &str) -> anyhow::Result<()> {
    let database = data_dir.join("rekey.db");
    anyhow::ensure!(!database.exists(), "{} already exists; give an empty data directory", database.display());
    std::fs::create_dir_all(data_dir)?;
    let compromise_time = DateTime::parse_from_rfc3339(since)?.to_utc();
    let url = format!("sqlite://{}?mode=rwc", database.display());

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let db = Db::connect(&url).await?;
        rekey::rules::seed_builtin_rules(&db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        rekey::ensure_admin(&db, &Settings::default()).await?;
        create_case(&db, to_millis(compromise_time)).await
    })
}

/// Inserts the rows that the case form and the credential form would, without the playbook
/// tasks and the audit log, which the import does not read.
async fn create_case(db: &Db, compromise_time: i64) -> anyhow::Result<()> {
    let now = now_millis();
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'case_number'")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO cases (id, number, title, summary, severity, detection_source, phase, compromise_time, \
         created_by, created_at, updated_at) VALUES (1, 1, 'Benchmark', '', 'P2', 'other', 'identification', $1, \
         1, $2, $2)",
    )
    .bind(compromise_time)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO case_members (case_id, user_id, role, added_by, added_at) VALUES (1, 1, 'lead', 1, $1)")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO credentials (case_id, kind, access_key_id, status, notes, created_by, created_at) \
         VALUES (1, 'access_key', $1, 'confirmed', '', 1, $2)",
    )
    .bind(LEAKED_KEY)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
