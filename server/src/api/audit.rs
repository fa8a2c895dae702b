//! Reading and verifying the audit log.

use axum::extract::{Query, State};
use axum::routing::get;
use rekey_types::{AuditEntry, IntegrityReport};
use serde::Deserialize;
use sqlx::Row;

use crate::api::cases::LeadCase;
use crate::api::Routes;
use crate::audit;
use crate::auth::Admin;
use crate::db::time_column;
use crate::error::{Error, Json, Result};
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/audit", get(list_entries))
        .route("/audit/verify", get(verify))
        .route("/cases/{number}/audit", get(list_case_entries))
}

const MAX_ENTRIES: i64 = 1_000;

#[derive(Debug, Deserialize)]
struct AuditQuery {
    /// Entries with an id below this one, for paging back from the newest.
    before: Option<i64>,
    limit: Option<i64>,
}

async fn load_entries(state: &AppState, case_id: Option<i64>, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
    let limit = query.limit.unwrap_or(200);
    if !(1..=MAX_ENTRIES).contains(&limit) {
        return Err(Error::invalid("limit", format!("limit must be between 1 and {MAX_ENTRIES}")));
    }
    let rows = sqlx::query(
        "SELECT a.id, a.occurred_at, a.actor_name, a.client_address, a.action, a.entity_type, a.entity_id, \
         a.details, c.number FROM audit_log a LEFT JOIN cases c ON c.id = a.case_id \
         WHERE ($1 = 0 OR a.case_id = $2) AND a.id < $3 ORDER BY a.id DESC LIMIT $4",
    )
    .bind(i64::from(case_id.is_some()))
    .bind(case_id.unwrap_or(0))
    .bind(query.before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&state.db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let details: String = row.try_get("details")?;
            Ok(AuditEntry {
                id: row.try_get("id")?,
                occurred_at: time_column(row, "occurred_at")?,
                actor: row.try_get("actor_name")?,
                client_address: row.try_get("client_address")?,
                action: row.try_get("action")?,
                entity_type: row.try_get("entity_type")?,
                entity_id: row.try_get("entity_id")?,
                case_number: row.try_get("number")?,
                details: serde_json::from_str(&details).unwrap_or(serde_json::Value::String(details)),
            })
        })
        .collect()
}

async fn list_entries(
    State(state): State<AppState>,
    _admin: Admin,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>> {
    Ok(Json(load_entries(&state, None, &query).await?))
}

async fn list_case_entries(
    State(state): State<AppState>,
    LeadCase(case): LeadCase,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>> {
    Ok(Json(load_entries(&state, Some(case.id), &query).await?))
}

/// Walks the audit chain and re-hashes every evidence file.
async fn verify(State(state): State<AppState>, _admin: Admin) -> Result<Json<IntegrityReport>> {
    Ok(Json(integrity_report(&state.db, &state.evidence).await?))
}

pub async fn integrity_report(db: &crate::db::Db, store: &crate::evidence::EvidenceStore) -> Result<IntegrityReport> {
    let audit = audit::verify(db).await?;
    let (evidence_checked, first_evidence_break) = crate::api::evidence::verify_all(db, store).await?;
    Ok(IntegrityReport {
        audit,
        evidence_checked,
        first_evidence_break,
    })
}
