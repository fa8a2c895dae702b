//! Status-update cadence and reminders to the leads of a case.
//!
//! A case of a severity with a cadence needs a status update to its stakeholders at least that
//! often, counted from the latest update or, before the first one, from the case's creation.
//! Once an update is overdue, and when a legal clock reaches its reminder time, each lead gets
//! one email. The leads are the case's members with role `lead` who have an email address. When
//! no lead has one, the user who created the case gets the reminder.
//!
//! Every Rekey instance runs the reminder task. The queries claim each reminder with a unique
//! key or a conditional update in the same transaction that queues its email, so instances on
//! one PostgreSQL database send it once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rekey_types::{Phase, Severity, UpdateSchedule};
use sqlx::Row;
use tokio::sync::Notify;

use crate::api::cases::stored_value_error;
use crate::config::Settings;
use crate::db::{from_millis, now_millis, Db, Tx};
use crate::error::Result;
use crate::mail::{self, Recipient};

/// Computes when the next status update of a case is due at time `now` (milliseconds).
pub fn update_schedule(
    settings: &Settings,
    severity: Severity,
    phase: Phase,
    created_at: i64,
    last_update_at: Option<i64>,
    now: i64,
) -> UpdateSchedule {
    let cadence = settings.status_cadence(severity).filter(|_| phase != Phase::Closed);
    let Some(cadence) = cadence else {
        return UpdateSchedule {
            cadence_seconds: None,
            last_update_at: last_update_at.map(from_millis),
            due_at: None,
            overdue: false,
        };
    };
    let cadence_millis = i64::try_from(cadence.as_millis()).unwrap_or(i64::MAX);
    let due_at = last_update_at.unwrap_or(created_at).saturating_add(cadence_millis);
    UpdateSchedule {
        cadence_seconds: Some(i64::try_from(cadence.as_secs()).unwrap_or(i64::MAX)),
        last_update_at: last_update_at.map(from_millis),
        due_at: Some(from_millis(due_at)),
        overdue: now > due_at,
    }
}

/// The columns `schedule_from_row` reads, for a query on `cases c`.
pub const SCHEDULE_COLUMNS: &str = "c.id, c.number, c.severity, c.phase, c.created_at, \
    (SELECT MAX(s.created_at) FROM status_updates s WHERE s.case_id = c.id) AS last_update_at";

/// Reads the schedule of the case in a row selected with `SCHEDULE_COLUMNS`.
pub fn schedule_from_row(settings: &Settings, row: &sqlx::any::AnyRow, now: i64) -> Result<UpdateSchedule> {
    let severity: String = row.try_get("severity")?;
    let phase: String = row.try_get("phase")?;
    Ok(update_schedule(
        settings,
        Severity::parse(&severity).ok_or_else(|| stored_value_error("severity", &severity))?,
        Phase::parse(&phase).ok_or_else(|| stored_value_error("phase", &phase))?,
        row.try_get("created_at")?,
        row.try_get("last_update_at")?,
        now,
    ))
}

/// Email addresses of the leads of case `case_id`, or of its creator when no lead has one.
/// Empty when the creator has none either.
async fn lead_addresses(tx: &mut Tx, case_id: i64) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT u.email FROM case_members m JOIN users u ON u.id = m.user_id \
         WHERE m.case_id = $1 AND m.role = 'lead' AND u.disabled = 0 ORDER BY m.user_id",
    )
    .bind(case_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut addresses = Vec::new();
    for row in &rows {
        let email: Option<String> = row.try_get("email")?;
        addresses.extend(email.filter(|address| !address.trim().is_empty()));
    }
    if !addresses.is_empty() {
        return Ok(addresses);
    }
    let row = sqlx::query("SELECT u.email FROM cases c JOIN users u ON u.id = c.created_by WHERE c.id = $1")
        .bind(case_id)
        .fetch_one(&mut **tx)
        .await?;
    let email: Option<String> = row.try_get("email")?;
    Ok(email.filter(|address| !address.trim().is_empty()).into_iter().collect())
}

/// Queues a reminder to each lead of case `case_id` and returns how many were queued; 0 when
/// no lead and not the creator has an email address.
async fn remind_leads(
    tx: &mut Tx,
    settings: &Settings,
    case_id: i64,
    headline: &str,
    paragraphs: &[String],
) -> Result<usize> {
    let addresses = lead_addresses(tx, case_id).await?;
    if addresses.is_empty() {
        return Ok(0);
    }
    let case = mail::load_case_facts(tx, settings, case_id).await?;
    let email = mail::render_lead_reminder(&case, headline, paragraphs);
    for address in &addresses {
        let recipient = Recipient {
            stakeholder_id: None,
            address: address.clone(),
        };
        mail::queue_email(tx, Some(case_id), &recipient, &email, None).await?;
    }
    Ok(addresses.len())
}

fn format_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Queues reminders to the leads of each case whose status update is overdue, once per due
/// time; returns how many emails were queued.
pub async fn remind_overdue_updates(db: &Db, settings: &Settings) -> Result<usize> {
    let now = now_millis();
    let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM cases c WHERE c.phase <> 'closed'");
    let rows = sqlx::query(&sql).fetch_all(&db.pool).await?;
    let mut queued = 0;
    for row in &rows {
        let schedule = schedule_from_row(settings, row, now)?;
        let (Some(due_at), true) = (schedule.due_at, schedule.overdue) else {
            continue;
        };
        let case_id: i64 = row.try_get("id")?;
        let number: i64 = row.try_get("number")?;

        let mut tx = db.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO status_reminders (case_id, due_at, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (case_id, due_at) DO NOTHING",
        )
        .bind(case_id)
        .bind(due_at.timestamp_millis())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            continue;
        }
        let cadence_minutes = schedule.cadence_seconds.unwrap_or(0) / 60;
        let paragraphs = [format!(
            "A status update to the stakeholders was due at {}. At this case's severity one is due every \
             {cadence_minutes} minute(s). Write it on the case page; Rekey sends it to every stakeholder \
             who follows status updates.",
            format_time(due_at)
        )];
        let sent = remind_leads(&mut tx, settings, case_id, "status update overdue", &paragraphs).await?;
        tx.commit().await?;
        if sent > 0 {
            queued += sent;
            tracing::info!(case = number, due_at = %due_at, leads = sent, "status update overdue; leads reminded");
        } else {
            tracing::warn!(case = number, due_at = %due_at, "status update overdue; no lead has an email address");
        }
    }
    Ok(queued)
}

/// Queues reminders to the leads for each legal clock that reached its reminder time, once
/// per clock; returns how many emails were queued.
pub async fn remind_legal_clocks(db: &Db, settings: &Settings) -> Result<usize> {
    let now = now_millis();
    let due = sqlx::query(
        "SELECT l.id FROM legal_clocks l JOIN cases c ON c.id = l.case_id \
         WHERE l.reminded_at IS NULL AND l.met_at IS NULL AND l.remind_at <= $1 AND c.phase <> 'closed'",
    )
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    let mut queued = 0;
    for row in &due {
        let clock_id: i64 = row.try_get("id")?;
        let mut tx = db.begin().await?;
        let claimed = sqlx::query(
            "UPDATE legal_clocks SET reminded_at = $1 WHERE id = $2 AND reminded_at IS NULL \
             RETURNING case_id, name, deadline_at",
        )
        .bind(now)
        .bind(clock_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(clock) = claimed else {
            continue;
        };
        let case_id: i64 = clock.try_get("case_id")?;
        let name: String = clock.try_get("name")?;
        let deadline_at = from_millis(clock.try_get("deadline_at")?);
        let hours_left = (deadline_at.timestamp_millis() - now) as f64 / 3_600_000.0;
        let paragraphs = [format!(
            "The legal deadline \"{name}\" ends at {}, in {hours_left:.1} hour(s). Record on the case page \
             when the obligation is met.",
            format_time(deadline_at)
        )];
        let sent = remind_leads(&mut tx, settings, case_id, "legal deadline approaching", &paragraphs).await?;
        tx.commit().await?;
        if sent > 0 {
            queued += sent;
            tracing::info!(clock = clock_id, case_id, leads = sent, "legal deadline approaching; leads reminded");
        } else {
            tracing::warn!(clock = clock_id, case_id, "legal deadline approaching; no lead has an email address");
        }
    }
    Ok(queued)
}

/// Checks for due reminders until the process ends, and wakes the mail worker when it
/// queued any.
pub async fn run(db: Db, settings: Arc<Settings>, mail_wakeup: Arc<Notify>) {
    let poll = Duration::from_millis(settings.mail_retry_base_ms.clamp(100, 5_000));
    loop {
        let updates = remind_overdue_updates(&db, &settings).await;
        let clocks = remind_legal_clocks(&db, &settings).await;
        match (updates, clocks) {
            (Ok(0), Ok(0)) => {}
            (Ok(_), Ok(_)) => mail_wakeup.notify_one(),
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!(%error, "reminder check failed; retrying at the next poll")
            }
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn schedule_counts_from_latest_update() {
        let settings = Settings::default();
        let schedule = update_schedule(&settings, Severity::P2, Phase::Containment, 0, Some(HOUR), 2 * HOUR);
        assert_eq!(schedule.cadence_seconds, Some(7200));
        assert_eq!(schedule.due_at, Some(from_millis(3 * HOUR)));
        assert!(!schedule.overdue);
    }

    #[test]
    fn schedule_overdue_after_cadence() {
        let settings = Settings::default();
        let schedule = update_schedule(&settings, Severity::P1, Phase::Identification, 0, None, HOUR);
        assert_eq!(schedule.due_at, Some(from_millis(HOUR / 2)));
        assert!(schedule.overdue);
    }

    #[test]
    fn schedule_none_for_p4_and_closed() {
        let settings = Settings::default();
        let p4 = update_schedule(&settings, Severity::P4, Phase::Containment, 0, None, 100 * HOUR);
        let closed = update_schedule(&settings, Severity::P1, Phase::Closed, 0, None, 100 * HOUR);
        assert_eq!(p4.cadence_seconds, None);
        assert!(!p4.overdue);
        assert_eq!(closed.due_at, None);
        assert!(!closed.overdue);
    }
}
