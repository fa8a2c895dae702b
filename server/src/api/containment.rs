//! Containment of leaked credentials: the status lifecycle with its history, containment
//! actions, and the verification window checked against imported trail events.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use rekey_types::{
    contains_secret_key, parse_zoned_time, secret_rejected_message, ContainmentAction,
    ContainmentActionUpdate, ContainmentKind, ContainmentResult, CredentialContainment,
    CredentialKind, CredentialStatus, CredentialStatusChange, CredentialStatusUpdate,
    NewContainmentAction, Verification, VerificationState,
};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::{stored_value_error, CaseRef};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{from_millis, now_millis, time_column, to_millis, Tx};
use crate::error::{Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/cases/{number}/containment", get(list_containment))
        .route(
            "/cases/{number}/credentials/{id}/status",
            post(change_status),
        )
        .route(
            "/cases/{number}/credentials/{id}/containment-actions",
            post(add_action),
        )
        .route(
            "/cases/{number}/containment-actions/{id}",
            patch(update_action),
        )
}

/// Order of the lifecycle; a credential moves only forward through it.
const LIFECYCLE: &[CredentialStatus] = &[
    CredentialStatus::Suspected,
    CredentialStatus::Confirmed,
    CredentialStatus::Disabled,
    CredentialStatus::Verified,
    CredentialStatus::Rotated,
];

/// Tells whether a credential may go from `from` to `to`: forward in the lifecycle, to false
/// positive before it is disabled, and from false positive back to suspected.
fn transition_allowed(from: CredentialStatus, to: CredentialStatus) -> bool {
    let position = |status| LIFECYCLE.iter().position(|s| *s == status);
    match (from, to) {
        (CredentialStatus::FalsePositive, CredentialStatus::Suspected) => true,
        (
            CredentialStatus::Suspected | CredentialStatus::Confirmed,
            CredentialStatus::FalsePositive,
        ) => true,
        (CredentialStatus::FalsePositive, _) | (_, CredentialStatus::FalsePositive) => false,
        (from, to) => position(to) > position(from),
    }
}

fn allowed_targets(from: CredentialStatus) -> String {
    let names: Vec<&str> = CredentialStatus::ALL
        .iter()
        .filter(|to| transition_allowed(from, **to))
        .map(|to| to.as_str())
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Identity columns and status of a credential of the case.
struct StoredCredential {
    id: i64,
    kind: CredentialKind,
    label: String,
    status: CredentialStatus,
    version: i64,
    created_by: String,
    created_at: i64,
}

/// Takes the write lock on a credential row before reading it, so that concurrent changes
/// wait for each other. A SQLite transaction that reads first may fail to upgrade to a writer.
async fn lock_credential(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("UPDATE credentials SET version = version WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn load_credential<'e, E>(executor: E, case: CaseRef, id: i64) -> Result<StoredCredential>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "SELECT k.id, k.kind, k.access_key_id, k.principal_name, k.status, k.version, \
         k.created_at, u.display_name AS created_by \
         FROM credentials k JOIN users u ON u.id = k.created_by WHERE k.id = $1 AND k.case_id = $2",
    )
    .bind(id)
    .bind(case.id)
    .fetch_optional(executor)
    .await?
    .ok_or(Error::NotFound("credential"))?;
    stored_credential_from_row(&row)
}

fn stored_credential_from_row(row: &AnyRow) -> Result<StoredCredential> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let access_key_id: Option<String> = row.try_get("access_key_id")?;
    let principal_name: Option<String> = row.try_get("principal_name")?;
    Ok(StoredCredential {
        id: row.try_get("id")?,
        kind: CredentialKind::parse(&kind)
            .ok_or_else(|| stored_value_error("credentials.kind", &kind))?,
        label: access_key_id.or(principal_name).unwrap_or_default(),
        status: CredentialStatus::parse(&status)
            .ok_or_else(|| stored_value_error("credentials.status", &status))?,
        version: row.try_get("version")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) async fn list_containment(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<CredentialContainment>>> {
    let rows = sqlx::query(
        "SELECT k.id, k.kind, k.access_key_id, k.principal_name, k.status, k.version, \
         k.created_at, u.display_name AS created_by \
         FROM credentials k JOIN users u ON u.id = k.created_by WHERE k.case_id = $1 ORDER BY k.id",
    )
    .bind(case.id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut result = Vec::with_capacity(rows.len());
    for row in rows {
        let credential = stored_credential_from_row(&row)?;
        result.push(containment_of(&state, credential).await?);
    }
    Ok(Json(result))
}

async fn containment_of(
    state: &AppState,
    credential: StoredCredential,
) -> Result<CredentialContainment> {
    let history = status_history(state, &credential).await?;
    let actions = actions_of(state, credential.id).await?;
    let verification = verification_of(state, credential.id, &actions).await?;
    Ok(CredentialContainment {
        credential_id: credential.id,
        label: credential.label,
        kind: credential.kind,
        status: credential.status,
        version: credential.version,
        action_kinds: ContainmentKind::for_credential(credential.kind).to_vec(),
        history,
        actions,
        verification,
    })
}

/// Lists the credential's status changes, starting with the status it was recorded with.
async fn status_history(
    state: &AppState,
    credential: &StoredCredential,
) -> Result<Vec<CredentialStatusChange>> {
    let rows = sqlx::query(
        "SELECT c.from_status, c.to_status, c.note, c.changed_at, u.display_name AS changed_by \
         FROM credential_status_changes c JOIN users u ON u.id = c.changed_by \
         WHERE c.credential_id = $1 ORDER BY c.changed_at, c.id",
    )
    .bind(credential.id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut changes = Vec::with_capacity(rows.len() + 1);
    for row in &rows {
        let from: String = row.try_get("from_status")?;
        let to: String = row.try_get("to_status")?;
        changes.push(CredentialStatusChange {
            from_status: Some(
                CredentialStatus::parse(&from)
                    .ok_or_else(|| stored_value_error("from_status", &from))?,
            ),
            to_status: CredentialStatus::parse(&to)
                .ok_or_else(|| stored_value_error("to_status", &to))?,
            note: row.try_get("note")?,
            changed_by: row.try_get("changed_by")?,
            changed_at: time_column(row, "changed_at")?,
        });
    }
    let initial = changes
        .first()
        .and_then(|change| change.from_status)
        .unwrap_or(credential.status);
    changes.insert(
        0,
        CredentialStatusChange {
            from_status: None,
            to_status: initial,
            note: "recorded".to_string(),
            changed_by: credential.created_by.clone(),
            changed_at: from_millis(credential.created_at),
        },
    );
    Ok(changes)
}

const ACTION_SELECT: &str =
    "SELECT a.id, a.credential_id, a.kind, a.performed_by, a.performed_at, \
    a.authorised_by, a.result, a.notes, a.reversible, a.version, u.display_name AS recorded_by \
    FROM containment_actions a JOIN users u ON u.id = a.created_by";

fn action_from_row(row: &AnyRow) -> Result<ContainmentAction> {
    let kind: String = row.try_get("kind")?;
    let result: String = row.try_get("result")?;
    let reversible: i64 = row.try_get("reversible")?;
    let kind = ContainmentKind::parse(&kind)
        .ok_or_else(|| stored_value_error("containment_actions.kind", &kind))?;
    Ok(ContainmentAction {
        id: row.try_get("id")?,
        credential_id: row.try_get("credential_id")?,
        kind,
        performed_by: row.try_get("performed_by")?,
        performed_at: time_column(row, "performed_at")?,
        authorised_by: row.try_get("authorised_by")?,
        result: ContainmentResult::parse(&result)
            .ok_or_else(|| stored_value_error("containment_actions.result", &result))?,
        notes: row.try_get("notes")?,
        reversible: reversible != 0,
        warning: kind.warning().map(str::to_string),
        recorded_by: row.try_get("recorded_by")?,
        version: row.try_get("version")?,
    })
}

async fn actions_of(state: &AppState, credential_id: i64) -> Result<Vec<ContainmentAction>> {
    let sql = format!("{ACTION_SELECT} WHERE a.credential_id = $1 ORDER BY a.performed_at, a.id");
    let rows = sqlx::query(&sql)
        .bind(credential_id)
        .fetch_all(&state.db.pool)
        .await?;
    rows.iter().map(action_from_row).collect()
}

/// Checks the verification window after the last containment action that did not fail.
///
/// NOTE: Rekey stores only the trail events of the case's credentials, not the time span each
/// import covered. `Passed` therefore means that no imported event used the credential after
/// containment. It does not prove that the imported trail reaches the end of the window.
async fn verification_of(
    state: &AppState,
    credential_id: i64,
    actions: &[ContainmentAction],
) -> Result<Verification> {
    let window_minutes = i64::from(state.settings.verification_window_minutes);
    let contained_at = actions
        .iter()
        .filter(|action| action.result != ContainmentResult::Failed)
        .map(|action| action.performed_at)
        .max();
    let Some(contained_at) = contained_at else {
        return Ok(Verification {
            state: VerificationState::NotContained,
            contained_at: None,
            window_minutes,
            window_ends_at: None,
            events_after: 0,
            succeeded_after: 0,
            first_use_after: None,
        });
    };
    let window_ends_at = contained_at + chrono::Duration::minutes(window_minutes);

    let row = sqlx::query(
        "SELECT COUNT(*) AS events_after, \
         COALESCE(SUM(CASE WHEN error_code IS NULL THEN 1 ELSE 0 END), 0) AS succeeded_after, \
         MIN(event_time) AS first_use_after \
         FROM trail_events WHERE credential_id = $1 AND event_time > $2",
    )
    .bind(credential_id)
    .bind(to_millis(contained_at))
    .fetch_one(&state.db.pool)
    .await?;
    let events_after: i64 = row.try_get("events_after")?;
    let succeeded_after: i64 = row.try_get("succeeded_after")?;
    let first_use_after: Option<i64> = row.try_get("first_use_after")?;

    let state = if events_after > 0 {
        VerificationState::UsedAfterContainment
    } else if chrono::Utc::now() < window_ends_at {
        VerificationState::Watching
    } else {
        VerificationState::Passed
    };
    Ok(Verification {
        state,
        contained_at: Some(contained_at),
        window_minutes,
        window_ends_at: Some(window_ends_at),
        events_after,
        succeeded_after,
        first_use_after: first_use_after.map(from_millis),
    })
}

/// Checks optional free text: length, and no secret-shaped words.
pub(crate) fn checked_text(field: &str, value: &str, max_chars: usize) -> Result<String> {
    let value = value.trim();
    if value.chars().count() > max_chars {
        return Err(Error::invalid(
            field,
            format!("{field} is longer than {max_chars} characters; shorten it"),
        ));
    }
    if contains_secret_key(value) {
        return Err(Error::invalid(
            field,
            format!("{field}: {}", secret_rejected_message()),
        ));
    }
    Ok(value.to_string())
}

/// Stores a status change with its history row and audit row, provided the credential is
/// still at the version it was loaded with.
async fn write_status(
    tx: &mut Tx,
    case: CaseRef,
    credential: &StoredCredential,
    to: CredentialStatus,
    note: &str,
    user: &User,
) -> Result<()> {
    let result = sqlx::query(
        "UPDATE credentials SET status = $1, version = version + 1 WHERE id = $2 AND version = $3",
    )
    .bind(to.as_str())
    .bind(credential.id)
    .bind(credential.version)
    .execute(&mut **tx)
    .await?;
    if result.rows_affected() == 0 {
        return Err(Error::StaleVersion {
            record: "credential",
            current_version: credential.version + 1,
        });
    }
    sqlx::query(
        "INSERT INTO credential_status_changes (case_id, credential_id, from_status, to_status, note, \
         changed_by, changed_at) SELECT case_id, id, $1, $2, $3, $4, $5 FROM credentials WHERE id = $6",
    )
    .bind(credential.status.as_str())
    .bind(to.as_str())
    .bind(note)
    .bind(user.account.id)
    .bind(now_millis())
    .bind(credential.id)
    .execute(&mut **tx)
    .await?;
    let event = audit::Event::new("update", "credential")
        .entity(credential.id)
        .case(case.id)
        .details(json!({"before": {"status": credential.status}, "after": {"status": to}, "note": note}));
    audit::append(tx, &Actor::user(user), event).await?;
    Ok(())
}

async fn change_status(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((number, id)): Path<(i64, i64)>,
    Json(input): Json<CredentialStatusUpdate>,
) -> Result<Json<CredentialContainment>> {
    let note = checked_text("note", &input.note, 2_000)?;
    let mut tx = state.db.begin().await?;
    lock_credential(&mut tx, id).await?;
    let credential = load_credential(&mut *tx, case, id).await?;
    if credential.version != input.version {
        return Err(Error::StaleVersion {
            record: "credential",
            current_version: credential.version,
        });
    }
    if !transition_allowed(credential.status, input.status) {
        return Err(Error::invalid(
            "status",
            format!(
                "status: a {} credential cannot become {}; allowed next: {}",
                credential.status.as_str(),
                input.status.as_str(),
                allowed_targets(credential.status)
            ),
        ));
    }
    if input.status == CredentialStatus::Verified {
        let actions = actions_of(&state, credential.id).await?;
        let verification = verification_of(&state, credential.id, &actions).await?;
        check_verifiable(&verification)?;
    }
    write_status(&mut tx, case, &credential, input.status, &note, &user).await?;
    tx.commit().await?;

    tracing::info!(case = number, credential = id, user = user.account.id, status = %input.status, "credential status changed");
    let credential = load_credential(&state.db.pool, case, id).await?;
    Ok(Json(containment_of(&state, credential).await?))
}

/// Rejects marking a credential verified before its verification window has passed clean.
fn check_verifiable(verification: &Verification) -> Result<()> {
    let message = match verification.state {
        VerificationState::Passed => return Ok(()),
        VerificationState::NotContained => {
            "status: the credential has no containment action yet; record one and wait for the verification window".to_string()
        }
        VerificationState::Watching => format!(
            "status: the verification window runs until {}; import the trail up to then and try again",
            verification.window_ends_at.map(|time| time.to_rfc3339()).unwrap_or_default()
        ),
        VerificationState::UsedAfterContainment => format!(
            "status: {} trail event(s) used the credential after containment; contain it again before marking it verified",
            verification.events_after
        ),
    };
    Err(Error::invalid("status", message))
}

/// Checked fields of a new containment action.
struct ValidAction {
    performed_by: String,
    performed_at: i64,
    authorised_by: String,
    notes: String,
}

fn validate_action(
    input: &NewContainmentAction,
    kind: CredentialKind,
    user: &User,
) -> Result<ValidAction> {
    if !ContainmentKind::for_credential(kind).contains(&input.kind) {
        let names: Vec<&str> = ContainmentKind::for_credential(kind)
            .iter()
            .map(|k| k.as_str())
            .collect();
        return Err(Error::invalid(
            "kind",
            format!(
                "kind: {} does not apply to {} credentials; use one of {}",
                input.kind.as_str(),
                kind.label().to_lowercase(),
                names.join(", ")
            ),
        ));
    }
    let authorised_by = checked_text("authorised_by", &input.authorised_by, 200)?;
    if authorised_by.is_empty() {
        return Err(Error::invalid(
            "authorised_by",
            "authorised_by is missing; name the person who approved the action",
        ));
    }
    let performed_by = match input.performed_by.as_deref().map(str::trim) {
        None | Some("") => user.account.display_name.clone(),
        Some(name) => checked_text("performed_by", name, 200)?,
    };
    let performed_at = match input.performed_at.as_deref().map(str::trim) {
        None | Some("") => now_millis(),
        Some(value) => to_millis(parse_zoned_time(value).map_err(|message| {
            Error::invalid("performed_at", format!("performed_at: {message}"))
        })?),
    };
    if performed_at > now_millis() + 5 * 60_000 {
        return Err(Error::invalid(
            "performed_at",
            "performed_at is in the future; record an action once it is done",
        ));
    }
    Ok(ValidAction {
        performed_by,
        performed_at,
        authorised_by,
        notes: checked_text("notes", &input.notes, 5_000)?,
    })
}

async fn add_action(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((number, credential_id)): Path<(i64, i64)>,
    Json(input): Json<NewContainmentAction>,
) -> Result<(StatusCode, Json<ContainmentAction>)> {
    let mut tx = state.db.begin().await?;
    lock_credential(&mut tx, credential_id).await?;
    let credential = load_credential(&mut *tx, case, credential_id).await?;
    let valid = validate_action(&input, credential.kind, &user)?;
    let now = now_millis();
    let id: i64 = sqlx::query(
        "INSERT INTO containment_actions (case_id, credential_id, kind, performed_by, performed_at, \
         authorised_by, result, notes, reversible, version, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $11) RETURNING id",
    )
    .bind(case.id)
    .bind(credential.id)
    .bind(input.kind.as_str())
    .bind(&valid.performed_by)
    .bind(valid.performed_at)
    .bind(&valid.authorised_by)
    .bind(input.result.as_str())
    .bind(&valid.notes)
    .bind(i64::from(input.reversible))
    .bind(user.account.id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let event = audit::Event::new("create", "containment_action")
        .entity(id)
        .case(case.id)
        .details(json!({
            "credential_id": credential.id,
            "kind": input.kind,
            "performed_by": valid.performed_by,
            "performed_at": from_millis(valid.performed_at),
            "authorised_by": valid.authorised_by,
            "result": input.result,
            "notes": valid.notes,
            "reversible": input.reversible,
        }));
    audit::append(&mut tx, &Actor::user(&user), event).await?;

    // A successful action disables a credential that was only suspected or confirmed.
    let disables = input.result == ContainmentResult::Succeeded
        && matches!(
            credential.status,
            CredentialStatus::Suspected | CredentialStatus::Confirmed
        );
    if disables {
        let note = format!("containment action: {}", input.kind.label());
        write_status(
            &mut tx,
            case,
            &credential,
            CredentialStatus::Disabled,
            &note,
            &user,
        )
        .await?;
    }
    tx.commit().await?;

    tracing::info!(case = number, credential = credential_id, action = id, user = user.account.id, kind = %input.kind, "containment action recorded");
    let sql = format!("{ACTION_SELECT} WHERE a.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_one(&state.db.pool).await?;
    Ok((StatusCode::CREATED, Json(action_from_row(&row)?)))
}

async fn update_action(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((number, id)): Path<(i64, i64)>,
    Json(input): Json<ContainmentActionUpdate>,
) -> Result<Json<ContainmentAction>> {
    let notes = match &input.notes {
        Some(notes) => Some(checked_text("notes", notes, 5_000)?),
        None => None,
    };
    let sql = format!("{ACTION_SELECT} WHERE a.id = $1 AND a.case_id = $2");
    let mut tx = state.db.begin().await?;
    // Writing first takes the row's write lock before the read, as for tasks.
    sqlx::query("UPDATE containment_actions SET version = version WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(case.id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("containment action"))?;
    let stored = action_from_row(&row)?;
    if stored.version != input.version {
        return Err(Error::StaleVersion {
            record: "containment action",
            current_version: stored.version,
        });
    }
    let result = input.result.unwrap_or(stored.result);
    let notes = notes.unwrap_or_else(|| stored.notes.clone());
    let reversible = input.reversible.unwrap_or(stored.reversible);
    sqlx::query(
        "UPDATE containment_actions SET result = $1, notes = $2, reversible = $3, \
         version = version + 1, updated_at = $4 WHERE id = $5",
    )
    .bind(result.as_str())
    .bind(&notes)
    .bind(i64::from(reversible))
    .bind(now_millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let event = audit::Event::new("update", "containment_action")
        .entity(id)
        .case(case.id)
        .details(json!({
            "before": {"result": stored.result, "notes": stored.notes, "reversible": stored.reversible},
            "after": {"result": result, "notes": notes, "reversible": reversible},
        }));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(
        case = number,
        action = id,
        user = user.account.id,
        "containment action updated"
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(case.id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(Json(action_from_row(&row)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use CredentialStatus::*;

    #[test]
    fn lifecycle_transitions() {
        let cases = [
            (Suspected, Confirmed, true),
            (Suspected, Disabled, true),
            (Disabled, Verified, true),
            (Verified, Rotated, true),
            (Confirmed, FalsePositive, true),
            (FalsePositive, Suspected, true),
            (Disabled, Confirmed, false),
            (Disabled, FalsePositive, false),
            (Rotated, Verified, false),
            (FalsePositive, Disabled, false),
            (Suspected, Suspected, false),
        ];
        for (from, to, allowed) in cases {
            assert_eq!(transition_allowed(from, to), allowed, "{from} -> {to}");
        }
    }
}
