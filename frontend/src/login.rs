//! `/login`: username and password form.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use rekey_types::LoginRequest;

use crate::api::{self, ApiError};
use crate::forms::{FormError, FormErrorMessage, TextField};
use crate::{set_title, use_session};

/// Returns the `next` query value when it is a path on this site, so a crafted login link
/// cannot send the user to another site after signing in.
fn safe_next(next: Option<String>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path
        }
        _ => "/".to_string(),
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    set_title("Sign in");
    let session = use_session();
    let navigate = use_navigate();
    let query = use_query_map();

    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    // Set once the server responds that this account needs a one-time code as well.
    let needs_code = RwSignal::new(false);
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let typed_code = code.get_untracked().trim().to_string();
        let request = LoginRequest {
            totp_code: (!typed_code.is_empty()).then_some(typed_code),
            username: username.get_untracked().trim().to_string(),
            password: password.get_untracked(),
        };
        if request.username.is_empty() {
            error.set(Some(ApiError::invalid("username", "Enter your username.")));
            return;
        }
        if request.password.is_empty() {
            error.set(Some(ApiError::invalid("password", "Enter your password.")));
            return;
        }
        let next = safe_next(query.with_untracked(|query| query.get("next")));
        let navigate = navigate.clone();
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::login(&request).await;
            pending.set(false);
            match result {
                Ok(user) => {
                    error.set(None);
                    password.set(String::new());
                    code.set(String::new());
                    session.user.set(Some(user));
                    navigate(&next, NavigateOptions::default());
                }
                Err(failure) if failure.detail.code == "totp_required" => {
                    // The password was right; keep it and ask for the code.
                    needs_code.set(true);
                    error.set(Some(failure));
                }
                Err(failure) => {
                    // The server's 401 message is deliberately generic: it does not tell which
                    // of username, password and code was wrong.
                    password.set(String::new());
                    code.set(String::new());
                    error.set(Some(failure));
                }
            }
        });
    };

    view! {
        <section class="login">
            <h1>"Sign in to Rekey"</h1>
            <form id="login-form" on:submit=submit novalidate>
                <TextField
                    id="login-username"
                    label="Username"
                    field="username"
                    value=username
                    error=error
                    required=true
                    autocomplete="username"
                />
                <TextField
                    id="login-password"
                    label="Password"
                    field="password"
                    value=password
                    error=error
                    required=true
                    input_type="password"
                    autocomplete="current-password"
                />
                <Show when=move || needs_code.get()>
                    <TextField
                        id="login-code"
                        label="Code from your authenticator app"
                        field="totp_code"
                        value=code
                        error=error
                        required=true
                        autocomplete="one-time-code"
                    />
                </Show>
                <FormErrorMessage id="login-error" error=error />
                <button id="login-submit" type="submit" aria-disabled=move || pending.get().then_some("true")>
                    {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </section>
    }
}
