//! Affected resources of a case, created by hand or from the findings of trail imports, and
//! the recovery actions taken on each.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use rekey_types::{
    parse_zoned_time, validate_account_id, validate_email, AffectedResource, NewRecoveryAction,
    RecoveryAction, RecoveryActionUpdate, RecoveryKind, RecoveryStatus, ResourceInput,
};
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::{stored_value_error, CaseRef};
use crate::api::containment::checked_text;
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{from_millis, is_unique_violation, now_millis, optional_time_column, to_millis, Tx};
use crate::error::{Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route(
            "/cases/{number}/resources",
            get(list_resources).post(add_resource),
        )
        .route("/cases/{number}/resources/{id}", put(replace_resource))
        .route(
            "/cases/{number}/resources/{id}/recovery-actions",
            post(add_recovery_action),
        )
        .route(
            "/cases/{number}/recovery-actions/{id}",
            patch(update_recovery_action),
        )
}

/// Identity of a resource taken from a finding's call.
#[derive(Debug, PartialEq)]
struct FoundResource {
    resource_type: String,
    resource_id: String,
    name: String,
    account_id: Option<String>,
    region: Option<String>,
}

/// Derives a resource from the call's service and resource. An ARN
/// (`arn:partition:service:region:account:resource`) gives service, region and account;
/// a plain name gets the service of the call's endpoint, such as `iam` for
/// `iam.amazonaws.com`.
fn found_resource(event_source: &str, region: Option<String>, resource: &str) -> FoundResource {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" {
        let name = parts[5].rsplit(['/', ':']).next().unwrap_or(parts[5]);
        let non_empty = |value: &str| (!value.is_empty()).then(|| value.to_string());
        return FoundResource {
            resource_type: parts[2].to_string(),
            resource_id: resource.to_string(),
            name: name.to_string(),
            account_id: non_empty(parts[4]),
            region: non_empty(parts[3]).or(region),
        };
    }
    let service = event_source.split('.').next().unwrap_or(event_source);
    FoundResource {
        resource_type: service.to_string(),
        resource_id: resource.to_string(),
        name: resource.to_string(),
        account_id: None,
        region,
    }
}

/// Creates or links an affected resource for every finding whose call names a resource and
/// that is not linked yet. Runs before each listing, so imports need not know about
/// resources.
async fn link_findings(state: &AppState, case: CaseRef) -> Result<()> {
    let rows = sqlx::query(
        "SELECT f.id AS finding_id, e.event_source, e.region, e.resource \
         FROM findings f JOIN trail_events e ON e.id = f.trail_event_id \
         WHERE f.case_id = $1 AND e.resource IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM resource_findings r WHERE r.finding_id = f.id)",
    )
    .bind(case.id)
    .fetch_all(&state.db.pool)
    .await?;
    if rows.is_empty() {
        return Ok(());
    }

    let mut tx = state.db.begin().await?;
    let now = now_millis();
    for row in &rows {
        let finding_id: i64 = row.try_get("finding_id")?;
        let event_source: String = row.try_get("event_source")?;
        let resource: String = row.try_get("resource")?;
        let found = found_resource(&event_source, row.try_get("region")?, &resource);
        let created = sqlx::query(
            "INSERT INTO affected_resources (case_id, resource_type, resource_id, name, account_id, \
             region, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) \
             ON CONFLICT (case_id, resource_type, resource_id) DO NOTHING RETURNING id",
        )
        .bind(case.id)
        .bind(&found.resource_type)
        .bind(&found.resource_id)
        .bind(&found.name)
        .bind(&found.account_id)
        .bind(&found.region)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(created) = created {
            let id: i64 = created.try_get("id")?;
            let event = audit::Event::new("create", "affected_resource")
                .entity(id)
                .case(case.id)
                .details(json!({
                    "resource_type": found.resource_type,
                    "resource_id": found.resource_id,
                    "name": found.name,
                    "account_id": found.account_id,
                    "region": found.region,
                    "finding_id": finding_id,
                }));
            audit::append(&mut tx, &Actor::system("rekey"), event).await?;
        }
        sqlx::query(
            "INSERT INTO resource_findings (resource_id, finding_id) \
             SELECT id, $1 FROM affected_resources \
             WHERE case_id = $2 AND resource_type = $3 AND resource_id = $4 \
             ON CONFLICT (resource_id, finding_id) DO NOTHING",
        )
        .bind(finding_id)
        .bind(case.id)
        .bind(&found.resource_type)
        .bind(&found.resource_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    tracing::info!(
        case = case.number,
        findings = rows.len(),
        "findings linked to affected resources"
    );
    Ok(())
}

const RESOURCE_SELECT: &str = "SELECT r.id, r.resource_type, r.resource_id, r.name, r.account_id, \
    r.region, r.owner_name, r.owner_email, r.owner_notified_at, r.version, \
    u.display_name AS created_by \
    FROM affected_resources r LEFT JOIN users u ON u.id = r.created_by";

const RECOVERY_SELECT: &str = "SELECT a.id, a.resource_id, a.kind, a.status, a.done_at, \
    a.cmdb_updated, a.notes, a.version, u.display_name AS performed_by \
    FROM recovery_actions a LEFT JOIN users u ON u.id = a.performed_by";

fn recovery_from_row(row: &AnyRow) -> Result<RecoveryAction> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let cmdb_updated: i64 = row.try_get("cmdb_updated")?;
    Ok(RecoveryAction {
        id: row.try_get("id")?,
        resource_id: row.try_get("resource_id")?,
        kind: RecoveryKind::parse(&kind)
            .ok_or_else(|| stored_value_error("recovery_actions.kind", &kind))?,
        status: RecoveryStatus::parse(&status)
            .ok_or_else(|| stored_value_error("recovery_actions.status", &status))?,
        performed_by: row.try_get("performed_by")?,
        done_at: optional_time_column(row, "done_at")?,
        cmdb_updated: cmdb_updated != 0,
        notes: row.try_get("notes")?,
        version: row.try_get("version")?,
    })
}

async fn resource_from_row(state: &AppState, row: &AnyRow) -> Result<AffectedResource> {
    let id: i64 = row.try_get("id")?;
    let findings = sqlx::query(
        "SELECT finding_id FROM resource_findings WHERE resource_id = $1 ORDER BY finding_id",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    let sql = format!("{RECOVERY_SELECT} WHERE a.resource_id = $1 ORDER BY a.id");
    let actions = sqlx::query(&sql).bind(id).fetch_all(&state.db.pool).await?;
    Ok(AffectedResource {
        id,
        resource_type: row.try_get("resource_type")?,
        resource_id: row.try_get("resource_id")?,
        name: row.try_get("name")?,
        account_id: row.try_get("account_id")?,
        region: row.try_get("region")?,
        owner_name: row.try_get("owner_name")?,
        owner_email: row.try_get("owner_email")?,
        owner_notified_at: optional_time_column(row, "owner_notified_at")?,
        finding_ids: findings
            .iter()
            .map(|finding| finding.try_get("finding_id"))
            .collect::<sqlx::Result<_>>()?,
        created_by: row.try_get("created_by")?,
        recovery_actions: actions
            .iter()
            .map(recovery_from_row)
            .collect::<Result<_>>()?,
        version: row.try_get("version")?,
    })
}

async fn fetch_resource(state: &AppState, case: CaseRef, id: i64) -> Result<AffectedResource> {
    let sql = format!("{RESOURCE_SELECT} WHERE r.id = $1 AND r.case_id = $2");
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(case.id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(Error::NotFound("affected resource"))?;
    resource_from_row(state, &row).await
}

pub(crate) async fn list_resources(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<AffectedResource>>> {
    link_findings(&state, case).await?;
    let sql = format!("{RESOURCE_SELECT} WHERE r.case_id = $1 ORDER BY r.id");
    let rows = sqlx::query(&sql)
        .bind(case.id)
        .fetch_all(&state.db.pool)
        .await?;
    let mut resources = Vec::with_capacity(rows.len());
    for row in &rows {
        resources.push(resource_from_row(&state, row).await?);
    }
    Ok(Json(resources))
}

/// Checked fields of a resource.
struct ValidResource {
    resource_type: String,
    resource_id: String,
    name: String,
    account_id: Option<String>,
    region: Option<String>,
    owner_name: Option<String>,
    owner_email: Option<String>,
    owner_notified_at: Option<i64>,
}

impl ValidResource {
    /// Reads the stored fields of a resource row selected with `RESOURCE_SELECT`.
    fn from_row(row: &AnyRow) -> Result<ValidResource> {
        Ok(ValidResource {
            resource_type: row.try_get("resource_type")?,
            resource_id: row.try_get("resource_id")?,
            name: row.try_get("name")?,
            account_id: row.try_get("account_id")?,
            region: row.try_get("region")?,
            owner_name: row.try_get("owner_name")?,
            owner_email: row.try_get("owner_email")?,
            owner_notified_at: row.try_get("owner_notified_at")?,
        })
    }

    /// Returns the fields as the audit log records them.
    fn audit_values(&self) -> Value {
        json!({
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "name": self.name,
            "account_id": self.account_id,
            "region": self.region,
            "owner_name": self.owner_name,
            "owner_email": self.owner_email,
            "owner_notified_at": self.owner_notified_at.map(from_millis),
        })
    }
}

fn optional(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

fn validate_resource(input: &ResourceInput) -> Result<ValidResource> {
    let resource_type = checked_text("resource_type", &input.resource_type, 100)?;
    if resource_type.is_empty() {
        return Err(Error::invalid(
            "resource_type",
            "resource_type is missing; give the service and type, such as ec2:instance",
        ));
    }
    let resource_id = checked_text("resource_id", &input.resource_id, 2_048)?;
    if resource_id.is_empty() {
        return Err(Error::invalid(
            "resource_id",
            "resource_id is missing; give the resource's id or ARN",
        ));
    }
    let name = checked_text("name", &input.name, 500)?;
    let account_id = optional(checked_text(
        "account_id",
        input.account_id.as_deref().unwrap_or(""),
        64,
    )?);
    if let Some(account) = &account_id {
        validate_account_id(account).map_err(|message| Error::invalid("account_id", message))?;
    }
    let owner_email = optional(checked_text(
        "owner_email",
        input.owner_email.as_deref().unwrap_or(""),
        254,
    )?);
    if let Some(email) = &owner_email {
        validate_email(email).map_err(|message| Error::invalid("owner_email", message))?;
    }
    let owner_notified_at = match input.owner_notified_at.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(value) => Some(to_millis(parse_zoned_time(value).map_err(|message| {
            Error::invalid("owner_notified_at", format!("owner_notified_at: {message}"))
        })?)),
    };
    Ok(ValidResource {
        name: if name.is_empty() {
            resource_id.clone()
        } else {
            name
        },
        resource_type,
        resource_id,
        account_id,
        region: optional(checked_text(
            "region",
            input.region.as_deref().unwrap_or(""),
            64,
        )?),
        owner_name: optional(checked_text(
            "owner_name",
            input.owner_name.as_deref().unwrap_or(""),
            200,
        )?),
        owner_email,
        owner_notified_at,
    })
}

fn duplicate_resource(error: sqlx::Error) -> Error {
    if is_unique_violation(&error) {
        return Error::conflict(
            "resource_id",
            "this resource is already recorded on the case; edit that record instead",
        );
    }
    error.into()
}

async fn add_resource(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path(number): Path<i64>,
    Json(input): Json<ResourceInput>,
) -> Result<(StatusCode, Json<AffectedResource>)> {
    let valid = validate_resource(&input)?;
    let now = now_millis();
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO affected_resources (case_id, resource_type, resource_id, name, account_id, region, \
         owner_name, owner_email, owner_notified_at, version, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $11) RETURNING id",
    )
    .bind(case.id)
    .bind(&valid.resource_type)
    .bind(&valid.resource_id)
    .bind(&valid.name)
    .bind(&valid.account_id)
    .bind(&valid.region)
    .bind(&valid.owner_name)
    .bind(&valid.owner_email)
    .bind(valid.owner_notified_at)
    .bind(user.account.id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(duplicate_resource)?
    .try_get("id")?;
    let event = audit::Event::new("create", "affected_resource")
        .entity(id)
        .case(case.id)
        .details(valid.audit_values());
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(
        case = number,
        resource = id,
        user = user.account.id,
        "affected resource added"
    );
    Ok((
        StatusCode::CREATED,
        Json(fetch_resource(&state, case, id).await?),
    ))
}

async fn replace_resource(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((number, id)): Path<(i64, i64)>,
    Json(input): Json<ResourceInput>,
) -> Result<Json<AffectedResource>> {
    let valid = validate_resource(&input)?;
    let Some(version) = input.version else {
        return Err(Error::invalid(
            "version",
            "version is missing; send the version of the resource you edited",
        ));
    };
    let mut tx = state.db.begin().await?;
    // Writing first takes the row's write lock before the read, as for tasks.
    sqlx::query("UPDATE affected_resources SET version = version WHERE id = $1 AND case_id = $2")
        .bind(id)
        .bind(case.id)
        .execute(&mut *tx)
        .await?;
    let sql = format!("{RESOURCE_SELECT} WHERE r.id = $1 AND r.case_id = $2");
    let stored = sqlx::query(&sql)
        .bind(id)
        .bind(case.id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("affected resource"))?;
    let current_version: i64 = stored.try_get("version")?;
    if current_version != version {
        return Err(Error::StaleVersion {
            record: "affected resource",
            current_version,
        });
    }
    let before = ValidResource::from_row(&stored)?;
    sqlx::query(
        "UPDATE affected_resources SET resource_type = $1, resource_id = $2, name = $3, account_id = $4, \
         region = $5, owner_name = $6, owner_email = $7, owner_notified_at = $8, version = version + 1, \
         updated_at = $9 WHERE id = $10",
    )
    .bind(&valid.resource_type)
    .bind(&valid.resource_id)
    .bind(&valid.name)
    .bind(&valid.account_id)
    .bind(&valid.region)
    .bind(&valid.owner_name)
    .bind(&valid.owner_email)
    .bind(valid.owner_notified_at)
    .bind(now_millis())
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(duplicate_resource)?;
    let event = audit::Event::new("update", "affected_resource")
        .entity(id)
        .case(case.id)
        .details(json!({"before": before.audit_values(), "after": valid.audit_values()}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(
        case = number,
        resource = id,
        user = user.account.id,
        "affected resource changed"
    );
    Ok(Json(fetch_resource(&state, case, id).await?))
}

async fn add_recovery_action(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((number, resource_id)): Path<(i64, i64)>,
    Json(input): Json<NewRecoveryAction>,
) -> Result<(StatusCode, Json<RecoveryAction>)> {
    fetch_resource(&state, case, resource_id).await?;
    let notes = checked_text("notes", &input.notes, 5_000)?;
    let finished = matches!(input.status, RecoveryStatus::Done | RecoveryStatus::Failed);
    let now = now_millis();
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO recovery_actions (case_id, resource_id, kind, status, performed_by, done_at, \
         cmdb_updated, notes, version, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, 1, $8, $9, $9) RETURNING id",
    )
    .bind(case.id)
    .bind(resource_id)
    .bind(input.kind.as_str())
    .bind(input.status.as_str())
    .bind(finished.then_some(user.account.id))
    .bind(finished.then_some(now))
    .bind(&notes)
    .bind(user.account.id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let event = audit::Event::new("create", "recovery_action")
        .entity(id)
        .case(case.id)
        .details(json!({
            "resource_id": resource_id,
            "kind": input.kind,
            "status": input.status,
            "notes": notes,
        }));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(
        case = number,
        resource = resource_id,
        recovery = id,
        user = user.account.id,
        "recovery action added"
    );
    Ok((
        StatusCode::CREATED,
        Json(fetch_recovery(&state, case, id).await?),
    ))
}

async fn fetch_recovery(state: &AppState, case: CaseRef, id: i64) -> Result<RecoveryAction> {
    let sql = format!("{RECOVERY_SELECT} WHERE a.id = $1 AND a.case_id = $2");
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(case.id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(Error::NotFound("recovery action"))?;
    recovery_from_row(&row)
}

async fn update_recovery_action(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((number, id)): Path<(i64, i64)>,
    Json(input): Json<RecoveryActionUpdate>,
) -> Result<Json<RecoveryAction>> {
    let notes = match &input.notes {
        Some(notes) => Some(checked_text("notes", notes, 5_000)?),
        None => None,
    };
    let mut tx: Tx = state.db.begin().await?;
    sqlx::query("UPDATE recovery_actions SET version = version WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query(
        "SELECT status, performed_by, done_at, cmdb_updated, notes, version FROM recovery_actions \
         WHERE id = $1 AND case_id = $2",
    )
    .bind(id)
    .bind(case.id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(Error::NotFound("recovery action"))?;
    let version: i64 = row.try_get("version")?;
    if version != input.version {
        return Err(Error::StaleVersion {
            record: "recovery action",
            current_version: version,
        });
    }
    let stored_status: String = row.try_get("status")?;
    let stored_status = RecoveryStatus::parse(&stored_status)
        .ok_or_else(|| stored_value_error("recovery_actions.status", &stored_status))?;
    let status = input.status.unwrap_or(stored_status);
    let (mut performed_by, mut done_at): (Option<i64>, Option<i64>) =
        (row.try_get("performed_by")?, row.try_get("done_at")?);
    if status != stored_status {
        let finished = matches!(status, RecoveryStatus::Done | RecoveryStatus::Failed);
        performed_by = finished.then_some(user.account.id);
        done_at = finished.then(now_millis);
    }
    let stored_cmdb_updated: i64 = row.try_get("cmdb_updated")?;
    let cmdb_updated = input.cmdb_updated.map_or(stored_cmdb_updated, i64::from);
    let stored_notes: String = row.try_get("notes")?;
    let notes = notes.unwrap_or_else(|| stored_notes.clone());
    let before = json!({
        "status": stored_status,
        "done_at": row.try_get::<Option<i64>, _>("done_at")?.map(from_millis),
        "cmdb_updated": stored_cmdb_updated != 0,
        "notes": stored_notes,
    });
    sqlx::query(
        "UPDATE recovery_actions SET status = $1, performed_by = $2, done_at = $3, cmdb_updated = $4, \
         notes = $5, version = version + 1, updated_at = $6 WHERE id = $7",
    )
    .bind(status.as_str())
    .bind(performed_by)
    .bind(done_at)
    .bind(cmdb_updated)
    .bind(&notes)
    .bind(now_millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let after = json!({
        "status": status,
        "done_at": done_at.map(from_millis),
        "cmdb_updated": cmdb_updated != 0,
        "notes": notes,
    });
    let event = audit::Event::new("update", "recovery_action")
        .entity(id)
        .case(case.id)
        .details(json!({"before": before, "after": after}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(case = number, recovery = id, user = user.account.id, status = %status, "recovery action changed");
    Ok(Json(fetch_recovery(&state, case, id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_from_arn() {
        let found = found_resource(
            "s3.amazonaws.com",
            Some("us-east-1".to_string()),
            "arn:aws:iam::111122223333:role/ci-deploy",
        );
        assert_eq!(found.resource_type, "iam");
        assert_eq!(found.name, "ci-deploy");
        assert_eq!(found.account_id.as_deref(), Some("111122223333"));
        assert_eq!(
            found.region.as_deref(),
            Some("us-east-1"),
            "an ARN without region keeps the call's"
        );
    }

    #[test]
    fn resource_from_plain_name() {
        let found = found_resource("iam.amazonaws.com", None, "backdoor");
        assert_eq!(found.resource_type, "iam");
        assert_eq!(found.resource_id, "backdoor");
        assert_eq!(found.name, "backdoor");
        assert_eq!(found.account_id, None);
    }
}
