//! `POST /api/v1/admin/test-email`: sends one email with the configured SMTP settings and
//! reports the SMTP server's reply, so an administrator can check them.

use axum::extract::State;
use axum::routing::post;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::AsyncTransport;
use rekey_types::{validate_email, TestEmailRequest, TestEmailResult};

use crate::auth::Admin;
use crate::error::{Error, Json, Result};
use crate::mail::smtp_transport;
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new().route("/admin/test-email", post(send_test_email))
}

async fn send_test_email(
    State(state): State<AppState>,
    Admin(user): Admin,
    Json(input): Json<TestEmailRequest>,
) -> Result<Json<TestEmailResult>> {
    let settings = &state.settings;
    if !settings.mail_configured() {
        return Err(Error::conflict(
            "smtp_host",
            "mail is not configured: set smtp_host (and smtp_port, smtp_security) and restart Rekey",
        ));
    }
    let to = input.to.trim();
    validate_email(to).map_err(|message| Error::invalid("to", message))?;
    let to: Mailbox = to
        .parse()
        .map_err(|_| Error::invalid("to", format!("'{to}' is not an email address; use the form name@example.com")))?;
    let from: Mailbox = settings
        .mail_from
        .parse()
        .map_err(|e| anyhow::anyhow!("mail_from is invalid: {e}"))?;
    let message = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject("Rekey test email")
        .header(ContentType::TEXT_PLAIN)
        .body(format!(
            "This is a test email from Rekey at {}. The SMTP settings work.\n",
            settings.public_url()
        ))
        .map_err(|e| anyhow::anyhow!("cannot build the test email: {e}"))?;

    let transport = smtp_transport(settings).map_err(|e| anyhow::anyhow!("invalid SMTP settings: {e}"))?;
    let result = match transport.send(message).await {
        Ok(response) => TestEmailResult {
            accepted: response.is_positive(),
            code: response.code().to_string().parse().ok(),
            reply: response.message().collect::<Vec<&str>>().join(" "),
        },
        Err(error) => {
            tracing::warn!(user = user.account.id, %error, "test email failed");
            TestEmailResult {
                accepted: false,
                code: error.status().and_then(|code| code.to_string().parse().ok()),
                reply: error.to_string(),
            }
        }
    };
    tracing::info!(user = user.account.id, accepted = result.accepted, code = result.code, "test email sent");
    Ok(Json(result))
}
