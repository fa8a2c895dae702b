//! Delivery side of the outbox: the worker that claims due emails, sends them over SMTP and
//! records each attempt, retries with exponential backoff, and "retry now".

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rekey_types::DeliveryStatus;
use sqlx::Row;
use tokio::sync::Notify;

use crate::config::{Settings, SmtpSecurity};
use crate::db::{now_millis, Db, Tx};
use crate::error::Result;

/// A queued email claimed by this worker.
struct OutboxEmail {
    id: i64,
    case_number: Option<i64>,
    recipient: String,
    subject: String,
    body: String,
    html_body: Option<String>,
    attempts: i64,
}

/// How long a claimed row stays reserved for one worker before another may take it over.
const LEASE_MILLIS: i64 = 120_000;

/// Reserves up to `limit` due emails for this worker.
async fn claim_due(db: &Db, limit: i64) -> Result<Vec<OutboxEmail>> {
    let now = now_millis();
    let lock = match db.backend {
        crate::db::Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        crate::db::Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET lease_until = $1 WHERE id IN (\
           SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $2 \
           AND (lease_until IS NULL OR lease_until < $2) ORDER BY id LIMIT $3 {lock}) \
         RETURNING id, case_id, recipient, subject, body, html_body, attempts"
    );
    let rows = sqlx::query(&sql)
        .bind(now + LEASE_MILLIS)
        .bind(now)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    let mut emails = Vec::with_capacity(rows.len());
    for row in rows {
        let case_id: Option<i64> = row.try_get("case_id")?;
        let case_number = match case_id {
            Some(id) => sqlx::query("SELECT number FROM cases WHERE id = $1")
                .bind(id)
                .fetch_optional(&db.pool)
                .await?
                .map(|r| r.try_get::<i64, _>("number"))
                .transpose()?,
            None => None,
        };
        emails.push(OutboxEmail {
            id: row.try_get("id")?,
            case_number,
            recipient: row.try_get("recipient")?,
            subject: row.try_get("subject")?,
            body: row.try_get("body")?,
            html_body: row.try_get("html_body")?,
            attempts: row.try_get("attempts")?,
        });
    }
    emails.sort_by_key(|email| email.id);
    Ok(emails)
}

/// Builds the SMTP transport from the settings.
pub fn smtp_transport(settings: &Settings) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let host = settings.smtp_host.as_str();
    let mut builder = match settings.smtp_security {
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
    };
    builder = builder
        .port(settings.smtp_port)
        .timeout(Some(Duration::from_secs(30)));
    if !settings.smtp_username.is_empty() {
        let password = settings
            .smtp_password
            .as_ref()
            .map(|p| p.expose().to_string())
            .unwrap_or_default();
        builder = builder.credentials(Credentials::new(settings.smtp_username.clone(), password));
    }
    Ok(builder.build())
}

fn build_message(settings: &Settings, email: &OutboxEmail) -> anyhow::Result<Message> {
    let from: Mailbox = settings.mail_from.parse()?;
    let to: Mailbox = email.recipient.parse()?;
    let domain = url::Url::parse(&settings.public_url())
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "rekey.invalid".to_string());
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(format!("<outbox-{}@{domain}>", email.id)));
    if let Some(number) = email.case_number {
        // Every email of a case replies to the same root id, which no email carries itself, so
        // mail clients put all of a case's emails in one thread.
        let root = format!("<case-{number}@{domain}>");
        builder = builder.in_reply_to(root.clone()).references(root);
    }
    let message = match &email.html_body {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(email.body.clone(), html.clone()))?,
        None => builder.header(ContentType::TEXT_PLAIN).body(email.body.clone())?,
    };
    Ok(message)
}

/// Delay before retry number `attempt` (1-based): base × 2^(attempt−1), at most the maximum.
pub fn retry_delay(settings: &Settings, attempt: u32) -> Duration {
    let factor = 2u64.saturating_pow(attempt.saturating_sub(1));
    let millis = settings.mail_retry_base_ms.saturating_mul(factor);
    Duration::from_millis(millis.min(settings.mail_retry_max_ms))
}

/// Marks an email sent.
///
/// NOTE: when the SMTP server accepted an email but this update fails (the database is down),
/// the lease expires and a worker sends the email again, with the same Message-ID.
async fn record_sent(db: &Db, id: i64, reply: &str) -> Result<()> {
    let now = now_millis();
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE outbox SET status = 'sent', sent_at = $1, last_attempt_at = $1, attempts = attempts + 1, \
         lease_until = NULL, last_error = NULL WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    log_attempt(&mut tx, id, now, DeliveryStatus::Sent, reply).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds one row to the delivery history of email `outbox_id`.
async fn log_attempt(tx: &mut Tx, outbox_id: i64, at: i64, outcome: DeliveryStatus, detail: &str) -> Result<()> {
    sqlx::query("INSERT INTO delivery_attempts (outbox_id, attempted_at, outcome, detail) VALUES ($1, $2, $3, $4)")
        .bind(outbox_id)
        .bind(at)
        .bind(outcome.as_str())
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn record_failure(db: &Db, settings: &Settings, email: &OutboxEmail, error: &str) -> Result<()> {
    let attempts = email.attempts + 1;
    let attempt_number = u32::try_from(attempts).unwrap_or(u32::MAX);
    let give_up = attempt_number >= settings.mail_max_attempts;
    let status = if give_up { "failed" } else { "queued" };
    let delay = i64::try_from(retry_delay(settings, attempt_number).as_millis()).unwrap_or(i64::MAX);
    let now = now_millis();
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE outbox SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4, \
         last_attempt_at = $5, lease_until = NULL WHERE id = $6",
    )
    .bind(status)
    .bind(attempts)
    .bind(now.saturating_add(delay))
    .bind(error)
    .bind(now)
    .bind(email.id)
    .execute(&mut *tx)
    .await?;
    log_attempt(&mut tx, email.id, now, DeliveryStatus::Failed, error).await?;
    tx.commit().await?;
    if give_up {
        tracing::error!(outbox = email.id, attempts, error, "email failed; no more retries");
    } else {
        tracing::warn!(outbox = email.id, attempts, error, retry_in_ms = delay, "email failed; will retry");
    }
    Ok(())
}

/// Formats an SMTP reply as its code followed by its text, such as `250 OK`.
pub fn smtp_reply(response: &lettre::transport::smtp::response::Response) -> String {
    let text: Vec<&str> = response.message().collect();
    format!("{} {}", response.code(), text.join(" "))
}

/// Outcome of a "retry now" request for one outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOutcome {
    /// The email is due now, and the worker tries it on its next pass.
    Queued,
    /// The email was delivered before, so nothing changes.
    AlreadySent,
    /// No email with this id belongs to the case.
    NotFound,
}

/// Makes email `id` of case `case_id` due at once, also after it failed for good.
///
/// A failed email keeps its attempt count, so when the extra attempt fails too it goes
/// straight back to `failed` instead of starting a new round of retries.
pub async fn retry_now(db: &Db, case_id: i64, id: i64) -> Result<RetryOutcome> {
    let updated = sqlx::query(
        "UPDATE outbox SET status = 'queued', next_attempt_at = $1 \
         WHERE id = $2 AND case_id = $3 AND status <> 'sent'",
    )
    .bind(now_millis())
    .bind(id)
    .bind(case_id)
    .execute(&db.pool)
    .await?;
    if updated.rows_affected() == 1 {
        return Ok(RetryOutcome::Queued);
    }

    let exists = sqlx::query("SELECT id FROM outbox WHERE id = $1 AND case_id = $2")
        .bind(id)
        .bind(case_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(match exists {
        Some(_) => RetryOutcome::AlreadySent,
        None => RetryOutcome::NotFound,
    })
}

/// Sends every due email once; returns how many were attempted.
pub async fn send_due(db: &Db, settings: &Settings, transport: &AsyncSmtpTransport<Tokio1Executor>) -> Result<usize> {
    let emails = claim_due(db, 20).await?;
    for email in &emails {
        let outcome = match build_message(settings, email) {
            Ok(message) => transport.send(message).await.map(|response| smtp_reply(&response)).map_err(|e| e.to_string()),
            Err(e) => Err(format!("invalid message: {e}")),
        };
        match outcome {
            Ok(reply) => {
                record_sent(db, email.id, &reply).await?;
                tracing::info!(outbox = email.id, case = email.case_number, "email sent");
            }
            Err(error) => record_failure(db, settings, email, &error).await?,
        }
    }
    Ok(emails.len())
}

/// Runs the outbox worker until the process ends. `wakeup` is notified when a change queues
/// mail, so new emails go out at once instead of at the next poll.
pub async fn run_worker(db: Db, settings: Arc<Settings>, wakeup: Arc<Notify>) {
    let transport = match smtp_transport(&settings) {
        Ok(transport) => transport,
        Err(error) => {
            tracing::error!(%error, "mail worker not started: invalid SMTP settings");
            return;
        }
    };
    tracing::info!(host = %settings.smtp_host, port = settings.smtp_port, "mail worker started");
    let poll = Duration::from_millis(settings.mail_retry_base_ms.clamp(100, 5_000));
    loop {
        match send_due(&db, &settings, &transport).await {
            Ok(count) if count > 0 => continue,
            Ok(_) => {}
            Err(error) => tracing::error!(error = %error, "mail worker could not read the outbox"),
        }
        tokio::select! {
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_up_to_max() {
        let settings = Settings {
            mail_retry_base_ms: 100,
            mail_retry_max_ms: 350,
            ..Settings::default()
        };
        assert_eq!(retry_delay(&settings, 1), Duration::from_millis(100));
        assert_eq!(retry_delay(&settings, 2), Duration::from_millis(200));
        assert_eq!(retry_delay(&settings, 3), Duration::from_millis(350));
    }
}
