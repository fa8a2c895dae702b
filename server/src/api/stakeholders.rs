//! Stakeholders of a case and the notifications sent to them.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use rekey_types::{
    validate_email, Audience, DeliveryAttempt, DeliveryStatus, FindingSeverity, NewStakeholder, Notification, Stakeholder,
    StakeholderRole, SubscriptionsUpdate,
};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::{stored_value_error, CaseRef};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{is_unique_violation, now_millis, optional_time_column, time_column};
use crate::error::{Error, Json, Result};
use crate::api::Routes;
use crate::mail::{self, RetryOutcome};
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/cases/{number}/stakeholders", get(list_stakeholders).post(add_stakeholder))
        .route("/cases/{number}/stakeholders/{id}/notifications", get(list_stakeholder_notifications))
        .route("/cases/{number}/stakeholders/{id}/subscriptions", put(update_subscriptions))
        .route("/cases/{number}/notifications", get(list_notifications))
        .route("/cases/{number}/notifications/{id}/retry", post(retry_notification))
}

const STAKEHOLDER_COLUMNS: &str = "id, name, email, role, audience, subscriptions, finding_min_severity, created_at";

fn stakeholder_from_row(row: &AnyRow) -> Result<Stakeholder> {
    let role: String = row.try_get("role")?;
    let audience: String = row.try_get("audience")?;
    let subscriptions: String = row.try_get("subscriptions")?;
    let threshold: String = row.try_get("finding_min_severity")?;
    Ok(Stakeholder {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        role: StakeholderRole::parse(&role).ok_or_else(|| stored_value_error("role", &role))?,
        audience: Audience::parse(&audience).ok_or_else(|| stored_value_error("audience", &audience))?,
        subscriptions: mail::parse_subscriptions(&subscriptions),
        finding_min_severity: FindingSeverity::parse(&threshold)
            .ok_or_else(|| stored_value_error("finding_min_severity", &threshold))?,
        created_at: time_column(row, "created_at")?,
    })
}

async fn list_stakeholders(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<Stakeholder>>> {
    let sql = format!("SELECT {STAKEHOLDER_COLUMNS} FROM stakeholders WHERE case_id = $1 ORDER BY id");
    let rows = sqlx::query(&sql)
        .bind(case.id)
        .fetch_all(&state.db.pool)
        .await?;
    Ok(Json(rows.iter().map(stakeholder_from_row).collect::<Result<_>>()?))
}

async fn add_stakeholder(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Json(input): Json<NewStakeholder>,
) -> Result<(StatusCode, Json<Stakeholder>)> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "name is missing or longer than 200 characters"));
    }
    crate::api::cases::plain_text("name", name, false)?;
    let email = input.email.trim().to_lowercase();
    validate_email(&email).map_err(|message| Error::invalid("email", message))?;

    let mut tx = state.db.begin().await?;
    let sql = format!(
        "INSERT INTO stakeholders (case_id, name, email, role, audience, subscriptions, finding_min_severity, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {STAKEHOLDER_COLUMNS}"
    );
    let inserted = sqlx::query(&sql)
    .bind(case.id)
    .bind(name)
    .bind(&email)
    .bind(input.role.as_str())
    .bind(input.audience.as_str())
    .bind(mail::format_subscriptions(&input.subscriptions))
    .bind(input.finding_min_severity.as_str())
    .bind(now_millis())
    .fetch_one(&mut *tx)
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict("email", format!("{email} is already a stakeholder of this case")))
        }
        Err(e) => return Err(e.into()),
    };
    let stakeholder = stakeholder_from_row(&row)?;
    let event = audit::Event::new("stakeholder_added", "stakeholder")
        .entity(stakeholder.id)
        .case(case.id)
        .details(json!({
            "name": stakeholder.name,
            "email": stakeholder.email,
            "role": stakeholder.role,
            "subscriptions": stakeholder.subscriptions,
            "finding_min_severity": stakeholder.finding_min_severity,
        }));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    tracing::info!(case = case.number, user = user.account.id, "stakeholder added");
    Ok((StatusCode::CREATED, Json(stakeholder)))
}

/// Replaces the event kinds a stakeholder receives email about and, when given, the lowest
/// severity of the findings among them.
async fn update_subscriptions(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((_, stakeholder_id)): Path<(i64, i64)>,
    Json(input): Json<SubscriptionsUpdate>,
) -> Result<Json<Stakeholder>> {
    let mut tx = state.db.begin().await?;
    // Writing first takes the row's write lock before the read, as for tasks.
    sqlx::query("UPDATE stakeholders SET subscriptions = subscriptions WHERE id = $1 AND case_id = $2")
        .bind(stakeholder_id)
        .bind(case.id)
        .execute(&mut *tx)
        .await?;
    let sql = format!("SELECT {STAKEHOLDER_COLUMNS} FROM stakeholders WHERE id = $1 AND case_id = $2");
    let row = sqlx::query(&sql)
        .bind(stakeholder_id)
        .bind(case.id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("stakeholder"))?;
    let before = stakeholder_from_row(&row)?;
    let threshold = input.finding_min_severity.unwrap_or(before.finding_min_severity);
    let sql = format!(
        "UPDATE stakeholders SET subscriptions = $1, finding_min_severity = $2 WHERE id = $3 RETURNING {STAKEHOLDER_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(mail::format_subscriptions(&input.subscriptions))
        .bind(threshold.as_str())
        .bind(stakeholder_id)
        .fetch_one(&mut *tx)
        .await?;
    let after = stakeholder_from_row(&row)?;
    let event = audit::Event::new("update", "stakeholder")
        .entity(stakeholder_id)
        .case(case.id)
        .details(json!({
            "before": {"subscriptions": before.subscriptions, "finding_min_severity": before.finding_min_severity},
            "after": {"subscriptions": after.subscriptions, "finding_min_severity": after.finding_min_severity},
        }));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    tracing::info!(case = case.number, user = user.account.id, stakeholder = stakeholder_id, "subscriptions changed");
    Ok(Json(after))
}

const NOTIFICATION_COLUMNS: &str = "id, stakeholder_id, recipient, subject, status, attempts, last_error, \
    created_at, sent_at, last_attempt_at, next_attempt_at";

fn notification_from_row(row: &AnyRow) -> Result<Notification> {
    let status: String = row.try_get("status")?;
    let status = DeliveryStatus::parse(&status).ok_or_else(|| stored_value_error("status", &status))?;
    let next_attempt_at = match status {
        DeliveryStatus::Queued => optional_time_column(row, "next_attempt_at")?,
        DeliveryStatus::Sent | DeliveryStatus::Failed => None,
    };
    Ok(Notification {
        id: row.try_get("id")?,
        stakeholder_id: row.try_get("stakeholder_id")?,
        recipient: row.try_get("recipient")?,
        subject: row.try_get("subject")?,
        status,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: time_column(row, "created_at")?,
        sent_at: optional_time_column(row, "sent_at")?,
        last_attempt_at: optional_time_column(row, "last_attempt_at")?,
        next_attempt_at,
        history: Vec::new(),
    })
}

/// Reads the rows as notifications, each with its delivery history from case `case_id`.
async fn notifications_with_history(state: &AppState, case_id: i64, rows: &[AnyRow]) -> Result<Vec<Notification>> {
    let attempts = sqlx::query(
        "SELECT a.outbox_id, a.attempted_at, a.outcome, a.detail FROM delivery_attempts a \
         JOIN outbox o ON o.id = a.outbox_id WHERE o.case_id = $1 ORDER BY a.id",
    )
    .bind(case_id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut history: HashMap<i64, Vec<DeliveryAttempt>> = HashMap::new();
    for row in &attempts {
        let outcome: String = row.try_get("outcome")?;
        history.entry(row.try_get("outbox_id")?).or_default().push(DeliveryAttempt {
            at: time_column(row, "attempted_at")?,
            outcome: DeliveryStatus::parse(&outcome).ok_or_else(|| stored_value_error("outcome", &outcome))?,
            detail: row.try_get("detail")?,
        });
    }

    let mut notifications = Vec::with_capacity(rows.len());
    for row in rows {
        let mut notification = notification_from_row(row)?;
        notification.history = history.remove(&notification.id).unwrap_or_default();
        notifications.push(notification);
    }
    Ok(notifications)
}

/// Delivery log of a case: every email queued for its stakeholders, newest first.
async fn list_notifications(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<Notification>>> {
    let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM outbox WHERE case_id = $1 ORDER BY id DESC");
    let rows = sqlx::query(&sql).bind(case.id).fetch_all(&state.db.pool).await?;
    Ok(Json(notifications_with_history(&state, case.id, &rows).await?))
}

/// Delivery log of one stakeholder of a case, newest first.
async fn list_stakeholder_notifications(
    State(state): State<AppState>,
    case: CaseRef,
    Path((_, stakeholder_id)): Path<(i64, i64)>,
) -> Result<Json<Vec<Notification>>> {
    sqlx::query("SELECT id FROM stakeholders WHERE id = $1 AND case_id = $2")
        .bind(stakeholder_id)
        .bind(case.id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(Error::NotFound("stakeholder"))?;
    let sql = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM outbox WHERE case_id = $1 AND stakeholder_id = $2 ORDER BY id DESC"
    );
    let rows = sqlx::query(&sql)
        .bind(case.id)
        .bind(stakeholder_id)
        .fetch_all(&state.db.pool)
        .await?;
    Ok(Json(notifications_with_history(&state, case.id, &rows).await?))
}

/// Makes a queued or failed email due at once and wakes the outbox worker.
async fn retry_notification(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((number, id)): Path<(i64, i64)>,
) -> Result<Json<Notification>> {
    match mail::retry_now(&state.db, case.id, id).await? {
        RetryOutcome::Queued => {}
        RetryOutcome::AlreadySent => {
            return Err(Error::conflict("id", format!("notification {id} was already sent; there is nothing to retry")))
        }
        RetryOutcome::NotFound => return Err(Error::NotFound("notification")),
    }
    state.mail_wakeup.notify_one();
    tracing::info!(case = number, user = user.account.id, outbox = id, "notification retry requested");

    let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM outbox WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_one(&state.db.pool).await?;
    let mut notifications = notifications_with_history(&state, case.id, &[row]).await?;
    Ok(Json(notifications.remove(0)))
}
