//! Impact records of a case, including the explicit "no end-user impact" result.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use rekey_types::{ImpactInput, ImpactKind, ImpactRecord, ImpactSeverity};
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::{stored_value_error, CaseRef};
use crate::api::containment::checked_text;
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{now_millis, time_column, Tx};
use crate::error::{Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route(
            "/cases/{number}/impacts",
            get(list_impacts).post(add_impact),
        )
        .route("/cases/{number}/impacts/{id}", put(replace_impact))
}

const IMPACT_SELECT: &str = "SELECT i.id, i.kind, i.description, i.users_affected, i.severity, \
    i.created_at, i.version, u.display_name AS created_by \
    FROM impact_records i JOIN users u ON u.id = i.created_by";

fn impact_from_row(row: &AnyRow) -> Result<ImpactRecord> {
    let kind: String = row.try_get("kind")?;
    let severity: Option<String> = row.try_get("severity")?;
    let severity = match severity {
        Some(value) => Some(
            ImpactSeverity::parse(&value)
                .ok_or_else(|| stored_value_error("impact_records.severity", &value))?,
        ),
        None => None,
    };
    Ok(ImpactRecord {
        id: row.try_get("id")?,
        kind: ImpactKind::parse(&kind)
            .ok_or_else(|| stored_value_error("impact_records.kind", &kind))?,
        description: row.try_get("description")?,
        users_affected: row.try_get("users_affected")?,
        severity,
        created_by: row.try_get("created_by")?,
        created_at: time_column(row, "created_at")?,
        version: row.try_get("version")?,
    })
}

pub(crate) async fn list_impacts(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<ImpactRecord>>> {
    let sql = format!("{IMPACT_SELECT} WHERE i.case_id = $1 ORDER BY i.created_at, i.id");
    let rows = sqlx::query(&sql)
        .bind(case.id)
        .fetch_all(&state.db.pool)
        .await?;
    let impacts = rows.iter().map(impact_from_row).collect::<Result<_>>()?;
    Ok(Json(impacts))
}

/// Checks an impact record and returns its trimmed description.
fn validate_impact(input: &ImpactInput) -> Result<String> {
    let description = checked_text("description", &input.description, 5_000)?;
    if input.users_affected.is_some_and(|count| count < 0) {
        return Err(Error::invalid(
            "users_affected",
            "users_affected is negative; give the number of affected users, 0 or more",
        ));
    }
    if input.kind == ImpactKind::NoEndUserImpact {
        if input.users_affected.is_some_and(|count| count > 0) {
            return Err(Error::invalid(
                "users_affected",
                "users_affected must be empty or 0 for a no_end_user_impact record",
            ));
        }
        if input.severity.is_some() {
            return Err(Error::invalid(
                "severity",
                "severity must be empty for a no_end_user_impact record",
            ));
        }
    } else if input.severity.is_none() {
        return Err(Error::invalid(
            "severity",
            format!(
                "severity is missing; give one of {}",
                ImpactSeverity::expected()
            ),
        ));
    }
    Ok(description)
}

/// Rejects "no end-user impact" next to an end-user impact record, in either order.
async fn check_contradiction(
    tx: &mut Tx,
    case: CaseRef,
    kind: ImpactKind,
    except_id: i64,
) -> Result<()> {
    let opposite = match kind {
        ImpactKind::NoEndUserImpact => ImpactKind::EndUserImpact,
        ImpactKind::EndUserImpact => ImpactKind::NoEndUserImpact,
        _ => return Ok(()),
    };
    let existing =
        sqlx::query("SELECT id FROM impact_records WHERE case_id = $1 AND kind = $2 AND id <> $3")
            .bind(case.id)
            .bind(opposite.as_str())
            .bind(except_id)
            .fetch_optional(&mut **tx)
            .await?;
    if existing.is_some() {
        return Err(Error::conflict(
            "kind",
            format!(
                "the case already has a {} record; change that record instead of adding a contradicting one",
                opposite.as_str()
            ),
        ));
    }
    Ok(())
}

/// Takes the case row's write lock, so that two concurrent impact changes of one case are
/// checked for contradictions one after the other.
async fn lock_case(tx: &mut Tx, case: CaseRef) -> Result<()> {
    sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
        .bind(now_millis())
        .bind(case.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn add_impact(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path(number): Path<i64>,
    Json(input): Json<ImpactInput>,
) -> Result<(StatusCode, Json<ImpactRecord>)> {
    let description = validate_impact(&input)?;
    let mut tx = state.db.begin().await?;
    lock_case(&mut tx, case).await?;
    check_contradiction(&mut tx, case, input.kind, 0).await?;
    let now = now_millis();
    let id: i64 = sqlx::query(
        "INSERT INTO impact_records (case_id, kind, description, users_affected, severity, version, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7) RETURNING id",
    )
    .bind(case.id)
    .bind(input.kind.as_str())
    .bind(&description)
    .bind(input.users_affected)
    .bind(input.severity.map(|s| s.as_str()))
    .bind(user.account.id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let event = audit::Event::new("create", "impact_record")
        .entity(id)
        .case(case.id)
        .details(impact_values(input.kind, &description, input.users_affected, input.severity));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(case = number, impact = id, user = user.account.id, kind = %input.kind, "impact recorded");
    Ok((StatusCode::CREATED, Json(fetch_impact(&state, id).await?)))
}

/// Fields of an impact record as the audit log records them.
fn impact_values(
    kind: ImpactKind,
    description: &str,
    users_affected: Option<i64>,
    severity: Option<ImpactSeverity>,
) -> Value {
    json!({
        "kind": kind,
        "description": description,
        "users_affected": users_affected,
        "severity": severity,
    })
}

async fn fetch_impact(state: &AppState, id: i64) -> Result<ImpactRecord> {
    let sql = format!("{IMPACT_SELECT} WHERE i.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_one(&state.db.pool).await?;
    impact_from_row(&row)
}

async fn replace_impact(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((number, id)): Path<(i64, i64)>,
    Json(input): Json<ImpactInput>,
) -> Result<Json<ImpactRecord>> {
    let description = validate_impact(&input)?;
    let Some(version) = input.version else {
        return Err(Error::invalid(
            "version",
            "version is missing; send the version of the impact record you edited",
        ));
    };
    let mut tx = state.db.begin().await?;
    lock_case(&mut tx, case).await?;
    let sql = format!("{IMPACT_SELECT} WHERE i.id = $1 AND i.case_id = $2");
    let stored = sqlx::query(&sql)
        .bind(id)
        .bind(case.id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("impact record"))?;
    let stored = impact_from_row(&stored)?;
    if stored.version != version {
        return Err(Error::StaleVersion {
            record: "impact record",
            current_version: stored.version,
        });
    }
    check_contradiction(&mut tx, case, input.kind, id).await?;
    sqlx::query(
        "UPDATE impact_records SET kind = $1, description = $2, users_affected = $3, severity = $4, \
         version = version + 1, updated_at = $5 WHERE id = $6",
    )
    .bind(input.kind.as_str())
    .bind(&description)
    .bind(input.users_affected)
    .bind(input.severity.map(|s| s.as_str()))
    .bind(now_millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let before = impact_values(stored.kind, &stored.description, stored.users_affected, stored.severity);
    let after = impact_values(input.kind, &description, input.users_affected, input.severity);
    let event = audit::Event::new("update", "impact_record")
        .entity(id)
        .case(case.id)
        .details(json!({"before": before, "after": after}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(
        case = number,
        impact = id,
        user = user.account.id,
        "impact record changed"
    );
    Ok(Json(fetch_impact(&state, id).await?))
}
