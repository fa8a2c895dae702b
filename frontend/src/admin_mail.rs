//! `/admin/mail`: an administrator sends a test email and reads the SMTP server's reply.

use leptos::prelude::*;
use rekey_types::{validate_email, TestEmailRequest, TestEmailResult};

use crate::api::{self, ApiError};
use crate::forms::{FormError, FormErrorMessage, TextField};
use crate::set_title;

#[component]
pub fn MailTestPage() -> impl IntoView {
    set_title("Mail settings");
    let to = RwSignal::new(String::new());
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);
    let result = RwSignal::new(None::<TestEmailResult>);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let address = to.get_untracked().trim().to_string();
        if let Err(message) = validate_email(&address) {
            error.set(Some(ApiError::invalid("to", message)));
            return;
        }
        pending.set(true);
        result.set(None);
        leptos::task::spawn_local(async move {
            let response = api::send_test_email(&TestEmailRequest { to: address }).await;
            pending.set(false);
            match response {
                Ok(reply) => {
                    error.set(None);
                    result.set(Some(reply));
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    let reply = move || {
        result.get().map(|reply| {
            let code = reply.code.map(|code| format!("{code} ")).unwrap_or_default();
            let (class, outcome) = if reply.accepted {
                ("success", "The SMTP server accepted the test email.")
            } else {
                ("form-error", "The test email was not accepted.")
            };
            view! {
                <div id="test-email-result" class=class role="status">
                    <p>{outcome}</p>
                    <p>"SMTP reply: " <code id="test-email-reply">{format!("{code}{}", reply.reply)}</code></p>
                </div>
            }
        })
    };

    view! {
        <h1>"Mail settings"</h1>
        <p>
            "Rekey sends stakeholder email with the SMTP settings of its configuration file or "
            <code>"REKEY_SMTP_*"</code> " environment variables. Send a test email to check them."
        </p>
        <form id="test-email-form" class="inline-form" on:submit=submit novalidate>
            <TextField id="test-email-to" label="Send a test email to" field="to" value=to error=error required=true
                input_type="email" placeholder="name@example.com" />
            <FormErrorMessage id="test-email-error" error=error />
            <button id="test-email-send" type="submit" aria-disabled=move || pending.get().then_some("true")>
                {move || if pending.get() { "Sending…" } else { "Send test email" }}
            </button>
        </form>
        {reply}
    }
}
