//! Stakeholder email through a transactional outbox.
//!
//! A change that notifies stakeholders writes its emails to the `outbox` table in the change's
//! own transaction. A background worker (`worker.rs`) sends due rows over SMTP and retries
//! failures with exponential backoff, so an SMTP outage delays mail but loses none.

use rekey_types::{EventKind, FindingSeverity, Phase, Severity};
use sqlx::Row;

use crate::api::cases::stored_value_error;
use crate::config::Settings;
use crate::db::{now_millis, Tx};
use crate::error::Result;

mod template;
mod worker;

pub use template::{escape_html, render_case_event, render_lead_reminder, CaseEvent, CaseFacts, NewFinding, RenderedEmail};
pub use worker::{retry_delay, retry_now, run_worker, send_due, smtp_reply, smtp_transport, RetryOutcome};

/// Replaces every secret in `text` with `[REDACTED]`; `crate::redact::redact` also reports the
/// kinds found.
pub fn redact(text: &str) -> String {
    crate::redact::redact(text).text
}

/// Loads what an email shows about case `case_id`.
pub async fn load_case_facts(tx: &mut Tx, settings: &Settings, case_id: i64) -> Result<CaseFacts> {
    let case = sqlx::query("SELECT number, title, severity, phase FROM cases WHERE id = $1")
        .bind(case_id)
        .fetch_one(&mut **tx)
        .await?;
    let number: i64 = case.try_get("number")?;
    let severity: String = case.try_get("severity")?;
    let phase: String = case.try_get("phase")?;
    Ok(CaseFacts {
        number,
        title: case.try_get("title")?,
        severity: Severity::parse(&severity).ok_or_else(|| stored_value_error("severity", &severity))?,
        phase: Phase::parse(&phase).ok_or_else(|| stored_value_error("phase", &phase))?,
        link: format!("{}/cases/{number}", settings.public_url()),
    })
}

/// Parses the stored subscriptions of a stakeholder, a comma-separated list of wire names.
pub fn parse_subscriptions(stored: &str) -> Vec<EventKind> {
    stored
        .split(',')
        .filter_map(|name| EventKind::parse(name.trim()))
        .collect()
}

/// Stored form of a list of subscriptions.
pub fn format_subscriptions(kinds: &[EventKind]) -> String {
    let names: Vec<&str> = EventKind::ALL
        .iter()
        .filter(|kind| kinds.contains(kind))
        .map(|kind| kind.as_str())
        .collect();
    names.join(",")
}

/// The containment-complete event implied by a phase change out of containment to a later phase.
fn containment_completion(event: &CaseEvent) -> Option<CaseEvent> {
    let CaseEvent::PhaseChanged { from, to, by } = event else {
        return None;
    };
    let position = |phase: &Phase| Phase::ALL.iter().position(|p| p == phase);
    if *from != Phase::Containment || position(to) <= position(from) {
        return None;
    }
    Some(CaseEvent::ContainmentComplete {
        to: *to,
        by: by.clone(),
    })
}

/// Queues one email about `event` to each stakeholder of the case subscribed to its kind,
/// inside the caller's transaction, and returns how many were queued.
///
/// A phase change out of containment goes to followers of containment complete as that event
/// instead, so a stakeholder who follows both gets one email. New findings go to each follower
/// of findings as one email that lists those at or above the follower's threshold, and to
/// none when no finding reaches it.
pub async fn enqueue_case_event(tx: &mut Tx, settings: &Settings, case_id: i64, event: &CaseEvent) -> Result<u64> {
    let case = load_case_facts(tx, settings, case_id).await?;
    let containment = containment_completion(event);

    let stakeholders = sqlx::query(
        "SELECT id, email, subscriptions, finding_min_severity FROM stakeholders WHERE case_id = $1 ORDER BY id",
    )
    .bind(case_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut queued = 0;
    for stakeholder in &stakeholders {
        let subscriptions = parse_subscriptions(&stakeholder.try_get::<String, _>("subscriptions")?);
        let threshold: String = stakeholder.try_get("finding_min_severity")?;
        let threshold =
            FindingSeverity::parse(&threshold).ok_or_else(|| stored_value_error("finding_min_severity", &threshold))?;
        let chosen = match &containment {
            Some(completion) if subscriptions.contains(&completion.kind()) => completion.clone(),
            _ if subscriptions.contains(&event.kind()) => match event.for_finding_threshold(threshold) {
                Some(event) => event,
                None => continue,
            },
            _ => continue,
        };
        let recipient = Recipient {
            stakeholder_id: Some(stakeholder.try_get("id")?),
            address: stakeholder.try_get("email")?,
        };
        let email = render_case_event(&case, &chosen);
        queue_email(tx, Some(case_id), &recipient, &email, Some(chosen.kind())).await?;
        queued += 1;
    }
    Ok(queued)
}

/// Addressee of a queued email.
pub struct Recipient {
    pub stakeholder_id: Option<i64>,
    pub address: String,
}

/// Queues a plain email that no template covers, such as an invitation, inside the caller's
/// transaction. The caller redacts the parts of `subject` and `body` that people typed, with
/// [`redact`]; the HTML part is the text, escaped.
pub async fn enqueue_email(tx: &mut Tx, case_id: Option<i64>, recipient: &str, subject: &str, body: &str) -> Result<i64> {
    let email = RenderedEmail {
        subject: subject.to_string(),
        text: body.to_string(),
        html: format!("<pre>{}</pre>", template::escape_html(body)),
        redactions: Vec::new(),
    };
    let recipient = Recipient {
        stakeholder_id: None,
        address: recipient.to_string(),
    };
    queue_email(tx, case_id, &recipient, &email, None).await
}

/// Inserts one email into the outbox, due at once.
pub async fn queue_email(
    tx: &mut Tx,
    case_id: Option<i64>,
    recipient: &Recipient,
    email: &RenderedEmail,
    kind: Option<EventKind>,
) -> Result<i64> {
    let id = sqlx::query(
        "INSERT INTO outbox (case_id, stakeholder_id, recipient, subject, body, html_body, event_kind, status, \
         attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $8) RETURNING id",
    )
    .bind(case_id)
    .bind(recipient.stakeholder_id)
    .bind(&recipient.address)
    .bind(&email.subject)
    .bind(&email.text)
    .bind(&email.html)
    .bind(kind.map(EventKind::as_str))
    .bind(now_millis())
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;
    Ok(id)
}

