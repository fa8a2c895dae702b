//! `/invitations/:token`: the page of an invitation link. The invited stakeholder reads what the
//! invitation offers, chooses a username and password, and lands on the case.
//!
//! The page works without signing in. The token is the only secret. The server returns 404 for
//! a token that is unknown, expired or used, and the link works once.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;
use rekey_types::{parse_case_reference, AcceptInvitation, InvitationPreview};

use crate::account::check_new_password;
use crate::api::{self, ApiError};
use crate::forms::{FormError, FormErrorMessage, TextField};
use crate::time::LocalTime;
use crate::widgets::{LoadError, Loading};
use crate::{set_title, use_session};

/// Maximum username length the server accepts, in bytes.
const MAX_USERNAME_LEN: usize = 64;

/// Returns an error unless `username` has the form the server accepts: 1 to 64 ASCII letters,
/// digits, dots, underscores, hyphens and `@`.
fn check_username(username: &str) -> Result<(), ApiError> {
    if username.is_empty() {
        return Err(ApiError::invalid(
            "username",
            "The username is missing; choose the name you will sign in with.",
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    if username.len() > MAX_USERNAME_LEN || !username.chars().all(allowed) {
        return Err(ApiError::invalid(
            "username",
            format!(
                "'{username}' is not a valid username; use at most {MAX_USERNAME_LEN} letters, \
                 digits, dots, underscores, hyphens or @ signs, without spaces."
            ),
        ));
    }
    Ok(())
}

fn accept_request(
    username: &str,
    password: String,
    confirmation: &str,
) -> Result<AcceptInvitation, ApiError> {
    let username = username.trim();
    check_username(username)?;
    check_new_password("password", &password)?;
    if password != confirmation {
        return Err(ApiError::invalid(
            "password_confirmation",
            "The two passwords differ; type the same password in both fields.",
        ));
    }
    Ok(AcceptInvitation {
        username: username.to_string(),
        password,
    })
}

#[component]
pub fn InvitationPage() -> impl IntoView {
    set_title("Invitation");
    let params = use_params_map();
    let token = Memo::new(move |_| params.with(|params| params.get("token").unwrap_or_default()));
    // Rebuilt when the token changes, so no form shows another invitation's details.
    move || view! { <InvitationView token=token.get() /> }
}

#[component]
fn InvitationView(token: String) -> impl IntoView {
    let preview_token = token.clone();
    let preview = LocalResource::new(move || {
        let token = preview_token.clone();
        async move { api::invitation_preview(&token).await }
    });

    move || match preview.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(error)) if error.status == Some(404) => view! { <InvitationInvalid /> }.into_any(),
        Some(Err(error)) => view! {
            <h1>"Invitation"</h1>
            <LoadError error=error />
        }
        .into_any(),
        Some(Ok(invitation)) => {
            view! { <AcceptForm token=token.clone() invitation=invitation /> }.into_any()
        }
    }
}

/// Message for a link that is unknown, expired or used.
#[component]
fn InvitationInvalid() -> impl IntoView {
    set_title("Invitation not valid");
    view! {
        <section id="invitation-invalid" class="invitation">
            <h1>"This invitation link is not valid"</h1>
            <p class="notice error" role="alert">
                "The link has expired, has been used already, or was never issued. Each link \
                 works once. Ask the person who invited you to send a new invitation."
            </p>
            <p>"If you already accepted it, " <a href="/login">"sign in"</a> " with the username you chose."</p>
        </section>
    }
}

#[component]
fn AcceptForm(token: String, invitation: InvitationPreview) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let confirmation = RwSignal::new(String::new());
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);
    let case_path = match parse_case_reference(&invitation.case_reference) {
        Some(number) => format!("/cases/{number}"),
        None => "/".to_string(),
    };
    set_title(&format!("Invitation to {}", invitation.case_reference));

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let request = accept_request(
            &username.get_untracked(),
            password.get_untracked(),
            &confirmation.get_untracked(),
        );
        let request = match request {
            Ok(request) => request,
            Err(invalid) => {
                error.set(Some(invalid));
                return;
            }
        };
        let token = token.clone();
        let case_path = case_path.clone();
        let navigate = navigate.clone();
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::accept_invitation(&token, &request).await;
            pending.set(false);
            match result {
                Ok(user) => {
                    error.set(None);
                    password.set(String::new());
                    confirmation.set(String::new());
                    session.user.set(Some(user));
                    navigate(&case_path, NavigateOptions::default());
                }
                Err(failure) if failure.status == Some(404) => {
                    error.set(Some(ApiError::invalid(
                        "token",
                        "The invitation expired or was used while this page was open. Ask the \
                         person who invited you to send a new invitation.",
                    )));
                }
                // A rejected username or password keeps the link usable, so the form stays.
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    let signed_in_as = move || {
        session
            .user
            .with(|user| user.as_ref().map(|user| user.username.clone()))
    };

    view! {
        <section class="invitation">
            <h1>"Invitation to follow case " {invitation.case_reference.clone()}</h1>
            <dl id="invitation-preview" class="case-facts">
                <dt>"Case"</dt>
                <dd id="invitation-case">{invitation.case_reference.clone()}</dd>
                <dt>"Invited by"</dt>
                <dd id="invitation-invited-by">{invitation.invited_by.clone()}</dd>
                <dt>"For"</dt>
                <dd id="invitation-email">{invitation.name.clone()} " <" {invitation.email.clone()} ">"</dd>
                <dt>"Link expires"</dt>
                <dd id="invitation-expires"><LocalTime time=invitation.expires_at /></dd>
            </dl>
            <p>
                "Accepting creates a stakeholder account for you. It reads the overview of this \
                 case and the sections the lead shared, and cannot change anything. The link works \
                 once."
            </p>
            {move || {
                signed_in_as()
                    .map(|name| {
                        view! {
                            <p id="invitation-signed-in" class="notice">
                                "You are signed in as " <strong>{name}</strong> ". Accepting signs \
                                 this browser in to the new account instead."
                            </p>
                        }
                    })
            }}
            <form id="accept-form" class="stacked" on:submit=submit novalidate>
                <TextField
                    id="accept-username"
                    label="Username"
                    field="username"
                    value=username
                    error=error
                    required=true
                    autocomplete="username"
                    hint="Letters, digits, dots, underscores, hyphens or @, up to 64 characters."
                />
                <TextField
                    id="accept-password"
                    label="Password"
                    field="password"
                    value=password
                    error=error
                    required=true
                    input_type="password"
                    autocomplete="new-password"
                    hint="At least 12 characters. Common passwords are rejected."
                />
                <TextField
                    id="accept-password-confirm"
                    label="Password again"
                    field="password_confirmation"
                    value=confirmation
                    error=error
                    required=true
                    input_type="password"
                    autocomplete="new-password"
                />
                <FormErrorMessage id="accept-error" error=error />
                <button id="accept-submit" type="submit" aria-disabled=move || pending.get().then_some("true")>
                    {move || if pending.get() { "Creating account…" } else { "Accept and create account" }}
                </button>
            </form>
        </section>
    }
}
