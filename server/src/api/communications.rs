//! The communications log of a case: every email Rekey queued for a stakeholder and every
//! message the team recorded by hand, such as a call to counsel or a filing with a regulator.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use rekey_types::{parse_zoned_time, Channel, CommunicationEntry, DeliveryStatus, NewCommunication};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::{stored_value_error, CaseRef};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{now_millis, time_column, to_millis};
use crate::error::{Error, Json, Result};
use crate::redact::redact_into;
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new().route("/cases/{number}/communications", get(list_communications).post(record_communication))
}

fn email_entry(row: &AnyRow, sender: &str) -> Result<CommunicationEntry> {
    let id: i64 = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    Ok(CommunicationEntry {
        key: format!("email-{id}"),
        channel: Channel::Email,
        sender: sender.to_string(),
        recipient: row.try_get("recipient")?,
        subject: row.try_get("subject")?,
        content: row.try_get("body")?,
        at: time_column(row, "at")?,
        delivery: Some(DeliveryStatus::parse(&status).ok_or_else(|| stored_value_error("status", &status))?),
        recorded_by: None,
        redactions: Vec::new(),
    })
}

fn manual_entry(row: &AnyRow) -> Result<CommunicationEntry> {
    let id: i64 = row.try_get("id")?;
    let channel: String = row.try_get("channel")?;
    Ok(CommunicationEntry {
        key: format!("manual-{id}"),
        channel: Channel::parse(&channel).ok_or_else(|| stored_value_error("channel", &channel))?,
        sender: row.try_get("sender")?,
        recipient: row.try_get("recipient")?,
        subject: row.try_get("subject")?,
        content: row.try_get("content")?,
        at: time_column(row, "occurred_at")?,
        delivery: None,
        recorded_by: Some(row.try_get("recorded_by")?),
        redactions: Vec::new(),
    })
}

const MANUAL_COLUMNS: &str = "m.id, m.channel, m.sender, m.recipient, m.subject, m.content, m.occurred_at, \
    u.display_name AS recorded_by";

/// Lists every message to the stakeholders of the case in time order, oldest first. An email counts
/// at the time it was sent, or at the time it was queued while it is not sent. Reminders to the
/// lead are not messages to stakeholders and are left out.
pub(crate) async fn list_communications(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<CommunicationEntry>>> {
    let sender = state.settings.mail_from.clone();
    let emails = sqlx::query(
        "SELECT id, recipient, subject, body, status, COALESCE(sent_at, created_at) AS at FROM outbox \
         WHERE case_id = $1 AND (stakeholder_id IS NOT NULL OR event_kind IS NOT NULL)",
    )
    .bind(case.id)
    .fetch_all(&state.db.pool)
    .await?;
    let sql = format!(
        "SELECT {MANUAL_COLUMNS} FROM communications m JOIN users u ON u.id = m.recorded_by WHERE m.case_id = $1"
    );
    let manual = sqlx::query(&sql).bind(case.id).fetch_all(&state.db.pool).await?;

    let mut entries = Vec::with_capacity(emails.len() + manual.len());
    for row in &emails {
        entries.push(email_entry(row, &sender)?);
    }
    for row in &manual {
        entries.push(manual_entry(row)?);
    }
    entries.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
    Ok(Json(entries))
}

/// Checks a required text field and returns it trimmed.
fn required_text(field: &str, value: &str, max_chars: usize, hint: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, format!("{field} is missing; {hint}")));
    }
    if value.chars().count() > max_chars {
        return Err(Error::invalid(field, format!("{field} is longer than {max_chars} characters; shorten it")));
    }
    Ok(value.to_string())
}

/// Records a message sent outside Rekey, with secrets redacted from every text.
async fn record_communication(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path(number): Path<i64>,
    Json(input): Json<NewCommunication>,
) -> Result<(StatusCode, Json<CommunicationEntry>)> {
    let recipient = required_text("recipient", &input.recipient, 200, "name the person or body the message went to")?;
    let subject = required_text("subject", &input.subject, 200, "say in a few words what the message was about")?;
    if input.content.chars().count() > 20_000 {
        return Err(Error::invalid("content", "content is longer than 20,000 characters; shorten it"));
    }
    let sender = match input.sender.as_deref().map(str::trim) {
        None | Some("") => user.account.display_name.clone(),
        Some(sender) => required_text("sender", sender, 200, "name who sent the message")?,
    };
    let occurred_at = match input.occurred_at.as_deref().map(str::trim) {
        None | Some("") => now_millis(),
        Some(value) => to_millis(parse_zoned_time(value).map_err(|message| Error::invalid("occurred_at", message))?),
    };

    let mut redactions = Vec::new();
    let subject = redact_into(&subject, &mut redactions);
    let content = redact_into(input.content.trim(), &mut redactions);
    let recipient = redact_into(&recipient, &mut redactions);
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO communications (case_id, channel, sender, recipient, subject, content, occurred_at, \
         recorded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(case.id)
    .bind(input.channel.as_str())
    .bind(&sender)
    .bind(&recipient)
    .bind(&subject)
    .bind(&content)
    .bind(occurred_at)
    .bind(user.account.id)
    .bind(now_millis())
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let event = audit::Event::new("create", "communication")
        .entity(id)
        .case(case.id)
        .details(json!({
            "channel": input.channel,
            "sender": sender,
            "recipient": recipient,
            "subject": subject,
            "content": content,
            "occurred_at": crate::db::from_millis(occurred_at),
        }));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    tracing::info!(case = number, user = user.account.id, communication = id, "communication recorded");

    let sql = format!("SELECT {MANUAL_COLUMNS} FROM communications m JOIN users u ON u.id = m.recorded_by WHERE m.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_one(&state.db.pool).await?;
    let mut entry = manual_entry(&row)?;
    entry.redactions = redactions;
    Ok((StatusCode::CREATED, Json(entry)))
}
