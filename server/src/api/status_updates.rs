//! Status updates from the lead to the stakeholders, and the cadence they are due on.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use rekey_types::{NewStatusUpdate, OverdueUpdate, RedactionKind, StatusUpdate, UpdateSchedule};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::CaseRef;
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{now_millis, time_column};
use crate::error::{Error, Json, Result};
use crate::mail::{self, CaseEvent};
use crate::redact::redact;
use crate::reminders::{schedule_from_row, SCHEDULE_COLUMNS};
use crate::api::Routes;
use crate::AppState;

/// Maximum length of a status update, in characters.
const MAX_TEXT_CHARS: usize = 20_000;

pub fn router() -> Routes {
    Routes::new()
        .route("/cases/{number}/status-updates", get(list_status_updates).post(post_status_update))
        .route("/cases/{number}/status-schedule", get(get_schedule))
        .route("/status-updates/overdue", get(list_overdue))
}

fn parse_redactions(stored: &str) -> Vec<RedactionKind> {
    stored.split(',').filter_map(RedactionKind::parse).collect()
}

fn status_update_from_row(row: &AnyRow) -> Result<StatusUpdate> {
    let redactions: String = row.try_get("redactions")?;
    Ok(StatusUpdate {
        id: row.try_get("id")?,
        text: row.try_get("text")?,
        redactions: parse_redactions(&redactions),
        recipients: row.try_get("recipients")?,
        created_by: row.try_get("created_by")?,
        created_at: time_column(row, "created_at")?,
    })
}

const UPDATE_COLUMNS: &str = "s.id, s.text, s.redactions, s.recipients, u.display_name AS created_by, s.created_at";

/// Status updates of a case, newest first.
async fn list_status_updates(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<StatusUpdate>>> {
    let sql = format!(
        "SELECT {UPDATE_COLUMNS} FROM status_updates s JOIN users u ON u.id = s.created_by \
         WHERE s.case_id = $1 ORDER BY s.created_at DESC, s.id DESC"
    );
    let rows = sqlx::query(&sql).bind(case.id).fetch_all(&state.db.pool).await?;
    Ok(Json(rows.iter().map(status_update_from_row).collect::<Result<_>>()?))
}

/// Saves a status update with its secrets redacted and queues it for every stakeholder who
/// follows status updates, in one transaction.
async fn post_status_update(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path(number): Path<i64>,
    Json(input): Json<NewStatusUpdate>,
) -> Result<(StatusCode, Json<StatusUpdate>)> {
    let text = input.text.trim();
    if text.is_empty() {
        return Err(Error::invalid("text", "text is missing; write what the stakeholders need to know now"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::invalid("text", "text is longer than 20,000 characters; shorten it"));
    }
    let redacted = redact(text);
    let redactions: Vec<&str> = redacted.kinds.iter().map(|kind| kind.as_str()).collect();

    let mut tx = state.db.begin().await?;
    let event = CaseEvent::StatusUpdate {
        text: redacted.text.clone(),
        by: user.account.display_name.clone(),
    };
    let recipients = mail::enqueue_case_event(&mut tx, &state.settings, case.id, &event).await?;
    let id: i64 = sqlx::query(
        "INSERT INTO status_updates (case_id, text, redactions, recipients, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(case.id)
    .bind(&redacted.text)
    .bind(redactions.join(","))
    .bind(i64::try_from(recipients).unwrap_or(i64::MAX))
    .bind(user.account.id)
    .bind(now_millis())
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let event = audit::Event::new("create", "status_update")
        .entity(id)
        .case(case.id)
        .details(json!({"text": redacted.text, "redactions": redactions, "recipients": recipients}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();

    tracing::info!(case = number, user = user.account.id, recipients, redacted = !redacted.kinds.is_empty(), "status update posted");
    let sql = format!("SELECT {UPDATE_COLUMNS} FROM status_updates s JOIN users u ON u.id = s.created_by WHERE s.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_one(&state.db.pool).await?;
    Ok((StatusCode::CREATED, Json(status_update_from_row(&row)?)))
}

async fn get_schedule(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<UpdateSchedule>> {
    let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM cases c WHERE c.id = $1");
    let row = sqlx::query(&sql).bind(case.id).fetch_one(&state.db.pool).await?;
    Ok(Json(schedule_from_row(&state.settings, &row, now_millis())?))
}

/// Cases the caller may open whose status update is overdue, for the case list.
pub(crate) async fn list_overdue(State(state): State<AppState>, user: User) -> Result<Json<Vec<OverdueUpdate>>> {
    let now = now_millis();
    let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM cases c WHERE c.phase <> 'closed' ORDER BY c.number");
    let rows = sqlx::query(&sql).fetch_all(&state.db.pool).await?;
    let visible = crate::api::cases::visible_case_numbers(&state, &user).await?;
    let mut overdue = Vec::new();
    for row in &rows {
        let schedule = schedule_from_row(&state.settings, row, now)?;
        let (Some(due_at), true) = (schedule.due_at, schedule.overdue) else {
            continue;
        };
        let number: i64 = row.try_get("number")?;
        // The case list shows only cases the caller may open.
        if visible.contains(&number) {
            overdue.push(OverdueUpdate { case_number: number, due_at });
        }
    }
    Ok(Json(overdue))
}
