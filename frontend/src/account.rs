//! `/account`: the signed-in user's password, login sessions and API tokens.

use leptos::prelude::*;
use rekey_types::{
    ApiToken, CreatedApiToken, NewApiToken, PasswordChange, SessionInfo, TokenScope,
};

use crate::api::{self, ApiError, ApiResult};
use crate::forms::{FieldError, FormError, FormErrorMessage, TextField};
use crate::time::{format_local, LocalTime};
use crate::widgets::{focus_element, show_loaded};
use crate::{set_title, use_session};

/// Minimum password length, in characters. The server enforces it; the form checks it too so
/// it can report a short password before sending.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Lifetime of a new API token when the form is left as it is, in days. The server accepts 1
/// to `MAX_TOKEN_DAYS`.
const DEFAULT_TOKEN_DAYS: u32 = 90;
const MAX_TOKEN_DAYS: u32 = 365;

/// Maximum token name length the server accepts, in characters.
const MAX_TOKEN_NAME_CHARS: usize = 100;

/// Returns an error for `field` when `password` is shorter than the server's minimum.
pub fn check_new_password(field: &str, password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(
            field,
            format!("The password is too short; use at least {MIN_PASSWORD_CHARS} characters."),
        ));
    }
    Ok(())
}

#[component]
pub fn AccountPage() -> impl IntoView {
    set_title("Account");
    let session = use_session();
    let sessions = LocalResource::new(api::sessions);
    let tokens = LocalResource::new(api::tokens);

    let signed_in_as = move || {
        session.user.with(|user| {
            user.as_ref().map(|user| {
                format!(
                    "Signed in as {} ({}), account role {}.",
                    user.display_name,
                    user.username,
                    user.role.label()
                )
            })
        })
    };

    view! {
        <h1>"Account"</h1>
        <p id="account-summary">{signed_in_as}</p>
        <nav class="section-nav" aria-label="Sections of this page">
            <a href="#password-section" rel="external">"Password"</a>
            <a href="#totp-section" rel="external">"Two-factor authentication"</a>
            <a href="#sessions-section" rel="external">"Sessions"</a>
            <a href="#tokens-section" rel="external">"API tokens"</a>
        </nav>
        <PasswordSection sessions=sessions />
        <TotpSection />
        <SessionsSection sessions=sessions />
        <TokensSection tokens=tokens />
    }
}

fn password_change_request(
    current: String,
    new: String,
    confirmation: &str,
) -> Result<PasswordChange, ApiError> {
    if current.is_empty() {
        return Err(ApiError::invalid(
            "current_password",
            "Enter your current password.",
        ));
    }
    check_new_password("new_password", &new)?;
    if new != confirmation {
        return Err(ApiError::invalid(
            "new_password_confirmation",
            "The two new passwords differ; type the same new password in both fields.",
        ));
    }
    Ok(PasswordChange {
        current_password: current,
        new_password: new,
    })
}

#[component]
fn PasswordSection(sessions: LocalResource<ApiResult<Vec<SessionInfo>>>) -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let confirmation = RwSignal::new(String::new());
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);
    let changed = RwSignal::new(None::<String>);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        changed.set(None);
        let request = password_change_request(
            current.get_untracked(),
            new.get_untracked(),
            &confirmation.get_untracked(),
        );
        let request = match request {
            Ok(request) => request,
            Err(invalid) => {
                error.set(Some(invalid));
                return;
            }
        };
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::change_password(&request).await;
            pending.set(false);
            // The typed passwords are cleared either way, so they do not stay in the page.
            for field in [current, new, confirmation] {
                field.set(String::new());
            }
            match result {
                Ok(()) => {
                    error.set(None);
                    changed.set(Some(
                        "Password changed. Your other sessions have ended; this one stays signed in."
                            .to_string(),
                    ));
                    sessions.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    view! {
        <section id="password-section" aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <form id="password-form" class="stacked" on:submit=submit novalidate>
                <TextField
                    id="password-current"
                    label="Current password"
                    field="current_password"
                    value=current
                    error=error
                    required=true
                    input_type="password"
                    autocomplete="current-password"
                />
                <TextField
                    id="password-new"
                    label="New password"
                    field="new_password"
                    value=new
                    error=error
                    required=true
                    input_type="password"
                    autocomplete="new-password"
                    hint="At least 12 characters. Changing it ends your other sessions."
                />
                <TextField
                    id="password-confirm"
                    label="New password again"
                    field="new_password_confirmation"
                    value=confirmation
                    error=error
                    required=true
                    input_type="password"
                    autocomplete="new-password"
                />
                <FormErrorMessage id="password-error" error=error />
                <p id="password-changed" class="success" role="status">{move || changed.get()}</p>
                <button id="password-change" type="submit" aria-disabled=move || pending.get().then_some("true")>
                    {move || if pending.get() { "Changing…" } else { "Change password" }}
                </button>
            </form>
        </section>
    }
}

#[component]
fn SessionsSection(sessions: LocalResource<ApiResult<Vec<SessionInfo>>>) -> impl IntoView {
    let end_error = RwSignal::new(None::<String>);
    let ended = RwSignal::new(None::<String>);

    view! {
        <section id="sessions-section" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading" tabindex="-1">"Sessions"</h2>
            <p class="hint">
                "Browsers signed in to your account. End a session you do not recognise, then \
                 change your password."
            </p>
            <div id="session-error" class="form-error" role="alert">{move || end_error.get()}</div>
            <p id="session-ended" class="success" role="status">{move || ended.get()}</p>
            {show_loaded(sessions, move |list| {
                view! { <SessionTable sessions=sessions list=list end_error=end_error ended=ended /> }
            })}
        </section>
    }
}

#[component]
fn SessionTable(
    sessions: LocalResource<ApiResult<Vec<SessionInfo>>>,
    list: Vec<SessionInfo>,
    end_error: RwSignal<Option<String>>,
    ended: RwSignal<Option<String>>,
) -> impl IntoView {
    let pending = RwSignal::new(None::<i64>);

    let end = move |id: i64| {
        if pending.get_untracked().is_some() {
            return;
        }
        end_error.set(None);
        ended.set(None);
        pending.set(Some(id));
        leptos::task::spawn_local(async move {
            let result = api::end_session(id).await;
            pending.set(None);
            match result {
                Ok(()) => {
                    ended.set(Some("Session ended.".to_string()));
                    sessions.refetch();
                    focus_element("sessions-heading");
                }
                Err(failure) => end_error.set(Some(failure.detail.message)),
            }
        });
    };

    let rows = list
        .into_iter()
        .map(|session| {
            let id = session.id;
            let signed_in = format_local(session.created_at);
            let action = if session.current {
                view! { <strong id="session-current" class="current-marker">"This session"</strong> }
                    .into_any()
            } else {
                view! {
                    <button
                        id=format!("session-end-{id}")
                        type="button"
                        class="secondary small"
                        aria-label=format!("End the session signed in at {signed_in}")
                        aria-disabled=move || (pending.get() == Some(id)).then_some("true")
                        on:click=move |_| end(id)
                    >
                        "End"
                    </button>
                }
                .into_any()
            };
            view! {
                <tr data-session=id class:current=session.current>
                    <td><LocalTime time=session.created_at /></td>
                    <td><LocalTime time=session.last_seen_at /></td>
                    <td><LocalTime time=session.expires_at /></td>
                    <td>{session.client_address.unwrap_or_default()}</td>
                    <td class="user-agent">{session.user_agent.unwrap_or_default()}</td>
                    <td>{action}</td>
                </tr>
            }
        })
        .collect_view();

    view! {
        <div class="table-wrap">
            <table id="sessions">
                <thead>
                    <tr>
                        <th scope="col">"Signed in"</th>
                        <th scope="col">"Last request"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"Address"</th>
                        <th scope="col">"Browser"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// Form values of a new API token, as typed.
struct TokenForm {
    name: String,
    read: bool,
    write: bool,
    import: bool,
    expires_in_days: String,
}

fn new_token_request(form: TokenForm) -> Result<NewApiToken, ApiError> {
    let name = form.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid(
            "name",
            "The name is missing; say what uses the token, such as 'alerting'.",
        ));
    }
    if name.chars().count() > MAX_TOKEN_NAME_CHARS {
        return Err(ApiError::invalid(
            "name",
            format!("The name is too long; use at most {MAX_TOKEN_NAME_CHARS} characters."),
        ));
    }
    let scopes: Vec<TokenScope> = [
        (form.read, TokenScope::Read),
        (form.write, TokenScope::Write),
        (form.import, TokenScope::Import),
    ]
    .into_iter()
    .filter_map(|(checked, scope)| checked.then_some(scope))
    .collect();
    if scopes.is_empty() {
        return Err(ApiError::invalid(
            "scopes",
            "Choose at least one scope: read, write or import trails.",
        ));
    }
    let days = form
        .expires_in_days
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|days| (1..=MAX_TOKEN_DAYS).contains(days))
        .ok_or_else(|| {
            ApiError::invalid(
                "expires_in_days",
                format!(
                    "'{}' is not a valid lifetime; enter a whole number of days from 1 to \
                     {MAX_TOKEN_DAYS}.",
                    form.expires_in_days.trim()
                ),
            )
        })?;
    Ok(NewApiToken {
        name: name.to_string(),
        scopes,
        expires_in_days: Some(days),
    })
}

#[component]
fn TokensSection(tokens: LocalResource<ApiResult<Vec<ApiToken>>>) -> impl IntoView {
    let created = RwSignal::new(None::<CreatedApiToken>);
    let revoke_error = RwSignal::new(None::<String>);
    let revoked = RwSignal::new(None::<String>);

    view! {
        <section id="tokens-section" aria-labelledby="tokens-heading">
            <h2 id="tokens-heading" tabindex="-1">"API tokens"</h2>
            <p class="hint">
                "Tokens let scripts and alerting systems use the API as you: send one as \
                 Authorization: Bearer followed by the token. A token cannot manage tokens, \
                 passwords or users."
            </p>
            {move || created.get().map(|created_token| view! { <TokenSecret created=created_token on_dismiss=created /> })}
            <TokenForm tokens=tokens created=created />
            <h3>"Your tokens"</h3>
            <div id="token-revoke-error" class="form-error" role="alert">{move || revoke_error.get()}</div>
            <p id="token-revoked" class="success" role="status">{move || revoked.get()}</p>
            {show_loaded(tokens, move |list| {
                view! { <TokenTable tokens=tokens list=list revoke_error=revoke_error revoked=revoked /> }
            })}
        </section>
    }
}

/// Shows the secret of a newly created token. The server returns it only in that response.
#[component]
fn TokenSecret(
    created: CreatedApiToken,
    on_dismiss: RwSignal<Option<CreatedApiToken>>,
) -> impl IntoView {
    // Focus moves here, so keyboard and screen reader users find the secret first.
    Effect::new(move || focus_element("token-secret"));
    view! {
        <div id="token-secret" class="secret-box" tabindex="-1" role="region" aria-labelledby="token-secret-heading">
            <h3 id="token-secret-heading">"Copy the token “" {created.token.name.clone()} "” now"</h3>
            <p>
                <strong>"It cannot be shown again."</strong>
                " Rekey keeps only a hash of it. Store it in your secret manager; if it is lost, \
                 revoke the token and create a new one."
            </p>
            <code id="token-secret-value" class="secret-value">{created.secret}</code>
            <button id="token-secret-dismiss" type="button" class="secondary" on:click=move |_| on_dismiss.set(None)>
                "I have stored it, hide it"
            </button>
        </div>
    }
}

#[component]
fn TokenForm(
    tokens: LocalResource<ApiResult<Vec<ApiToken>>>,
    created: RwSignal<Option<CreatedApiToken>>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let read = RwSignal::new(true);
    let write = RwSignal::new(false);
    let import = RwSignal::new(false);
    let expires_in_days = RwSignal::new(DEFAULT_TOKEN_DAYS.to_string());
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let request = new_token_request(TokenForm {
            name: name.get_untracked(),
            read: read.get_untracked(),
            write: write.get_untracked(),
            import: import.get_untracked(),
            expires_in_days: expires_in_days.get_untracked(),
        });
        let request = match request {
            Ok(request) => request,
            Err(invalid) => {
                error.set(Some(invalid));
                return;
            }
        };
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::create_token(&request).await;
            pending.set(false);
            match result {
                Ok(token) => {
                    error.set(None);
                    name.set(String::new());
                    created.set(Some(token));
                    tokens.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    let scope_box = move |scope: TokenScope, checked: RwSignal<bool>, hint: &'static str| {
        let id = format!("token-scope-{}", scope.as_str());
        let hint_id = format!("{id}-hint");
        view! {
            <div class="checkbox">
                <input
                    id=id.clone()
                    type="checkbox"
                    name="scopes"
                    value=scope.as_str()
                    aria-describedby=hint_id.clone()
                    prop:checked=move || checked.get()
                    on:change=move |event| checked.set(event_target_checked(&event))
                />
                <label for=id>{scope.label()}</label>
                <p class="hint" id=hint_id>{hint}</p>
            </div>
        }
    };
    let scopes_invalid = move || {
        error.with(|error| {
            error
                .as_ref()
                .is_some_and(|error| error.detail.field.as_deref() == Some("scopes"))
                .then_some("token-scopes-error")
        })
    };

    view! {
        <form id="token-form" class="inline-form" on:submit=submit novalidate>
            <h3>"Create a token"</h3>
            <div class="field-grid">
                <TextField
                    id="token-name"
                    label="Name"
                    field="name"
                    value=name
                    error=error
                    required=true
                    hint="What uses it, such as 'alerting'."
                />
                <TextField
                    id="token-expires"
                    label="Expires after (days)"
                    field="expires_in_days"
                    value=expires_in_days
                    error=error
                    required=true
                    input_type="number"
                    hint="1 to 365 days."
                />
            </div>
            <fieldset id="token-scopes" class="field" aria-describedby=scopes_invalid>
                <legend>"Scopes"</legend>
                {scope_box(TokenScope::Read, read, "GET requests: read cases and their records.")}
                {scope_box(TokenScope::Write, write, "Every change, such as opening cases and adding credentials.")}
                {scope_box(TokenScope::Import, import, "Only trail uploads.")}
                <FieldError id="token-scopes" field="scopes" error=error />
            </fieldset>
            <FormErrorMessage id="token-error" error=error />
            <button id="token-create" type="submit" aria-disabled=move || pending.get().then_some("true")>
                {move || if pending.get() { "Creating…" } else { "Create token" }}
            </button>
        </form>
    }
}

/// Returns the status label and CSS class of a token.
fn token_state(token: &ApiToken, now_millis: f64) -> (&'static str, &'static str) {
    if token.revoked {
        ("Revoked", "status-failed")
    } else if (token.expires_at.timestamp_millis() as f64) <= now_millis {
        ("Expired", "status-waiting")
    } else {
        ("Active", "status-ok")
    }
}

#[component]
fn TokenTable(
    tokens: LocalResource<ApiResult<Vec<ApiToken>>>,
    list: Vec<ApiToken>,
    revoke_error: RwSignal<Option<String>>,
    revoked: RwSignal<Option<String>>,
) -> impl IntoView {
    let pending = RwSignal::new(None::<i64>);
    let empty = list.is_empty();
    let now_millis = js_sys::Date::now();

    let revoke = move |id: i64, name: String| {
        if pending.get_untracked().is_some() {
            return;
        }
        let question = format!(
            "Revoke the token “{name}”? Scripts that use it are rejected from now on, and a \
             revoked token cannot be restored."
        );
        if !window().confirm_with_message(&question).unwrap_or(false) {
            return;
        }
        revoke_error.set(None);
        revoked.set(None);
        pending.set(Some(id));
        leptos::task::spawn_local(async move {
            let result = api::revoke_token(id).await;
            pending.set(None);
            match result {
                Ok(()) => {
                    revoked.set(Some(format!("Revoked the token “{name}”.")));
                    tokens.refetch();
                    focus_element("tokens-heading");
                }
                Err(failure) => revoke_error.set(Some(failure.detail.message)),
            }
        });
    };

    let rows = list
        .into_iter()
        .map(|token| {
            let id = token.id;
            let (state, state_class) = token_state(&token, now_millis);
            let scopes = token
                .scopes
                .iter()
                .map(|scope| scope.label())
                .collect::<Vec<_>>()
                .join(", ");
            let action = (state == "Active").then(|| {
                let name = token.name.clone();
                view! {
                    <button
                        id=format!("token-revoke-{id}")
                        type="button"
                        class="secondary small"
                        aria-label=format!("Revoke the token {}", token.name)
                        aria-disabled=move || (pending.get() == Some(id)).then_some("true")
                        on:click=move |_| revoke(id, name.clone())
                    >
                        "Revoke"
                    </button>
                }
            });
            view! {
                <tr data-token=id data-state=state.to_ascii_lowercase()>
                    <td>{token.name.clone()}</td>
                    <td>{scopes}</td>
                    <td><LocalTime time=token.created_at /></td>
                    <td><LocalTime time=token.expires_at /></td>
                    <td>
                        {match token.last_used_at {
                            Some(time) => view! { <LocalTime time=time /> }.into_any(),
                            None => view! { <span class="muted">"Never"</span> }.into_any(),
                        }}
                    </td>
                    <td class=state_class>{state}</td>
                    <td>{action}</td>
                </tr>
            }
        })
        .collect_view();

    view! {
        <div class="table-wrap">
            <table id="tokens">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Scopes"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {empty.then(|| view! { <p id="tokens-empty" class="muted">"No API tokens yet."</p> })}
    }
}

/// Turns two-factor authentication with an authenticator app on or off.
#[component]
fn TotpSection() -> impl IntoView {
    let session = use_session();
    let enabled = move || session.user.with(|user| user.as_ref().is_some_and(|user| user.totp_enabled));
    let setup = RwSignal::new(None::<rekey_types::TotpSetup>);
    let code = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);

    let set_enabled = move |value: bool| {
        session.user.update(|user| {
            if let Some(user) = user {
                user.totp_enabled = value;
            }
        });
    };
    let start = move |_| {
        leptos::task::spawn_local(async move {
            match api::totp_setup().await {
                Ok(started) => {
                    error.set(None);
                    setup.set(Some(started));
                }
                Err(failure) => error.set(Some(failure.detail.message)),
            }
        });
    };
    let confirm = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let body = rekey_types::TotpConfirm { code: code.get_untracked().trim().to_string() };
        leptos::task::spawn_local(async move {
            match api::totp_enable(&body).await {
                Ok(()) => {
                    error.set(None);
                    setup.set(None);
                    code.set(String::new());
                    set_enabled(true);
                }
                Err(failure) => error.set(Some(failure.detail.message)),
            }
        });
    };
    let turn_off = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let body = rekey_types::TotpDisable { current_password: password.get_untracked() };
        leptos::task::spawn_local(async move {
            match api::totp_disable(&body).await {
                Ok(()) => {
                    error.set(None);
                    password.set(String::new());
                    set_enabled(false);
                }
                Err(failure) => error.set(Some(failure.detail.message)),
            }
        });
    };

    let body = move || {
        if enabled() {
            return view! {
                <p id="totp-state">"Two-factor authentication is on: logins need the code from your app."</p>
                <form id="totp-disable-form" class="inline-form" on:submit=turn_off novalidate>
                    <div class="field">
                        <label for="totp-disable-password">"Current password"</label>
                        <input id="totp-disable-password" type="password" autocomplete="current-password"
                            prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
                    </div>
                    <button id="totp-disable" type="submit" class="secondary">"Turn off"</button>
                </form>
            }
            .into_any();
        }
        match setup.get() {
            None => view! {
                <p id="totp-state">"Two-factor authentication is off."</p>
                <button id="totp-start" type="button" on:click=start>"Set up an authenticator app"</button>
            }
            .into_any(),
            Some(started) => view! {
                <p>"Add this account to your authenticator app with the key below, or open the link on the device that runs the app."</p>
                <p>"Key: " <code id="totp-secret">{started.secret.clone()}</code></p>
                <p><a id="totp-uri" href=started.uri.clone() rel="external">"Open in the authenticator app"</a></p>
                <form id="totp-enable-form" class="inline-form" on:submit=confirm novalidate>
                    <div class="field">
                        <label for="totp-code">"Current 6-digit code"</label>
                        <input id="totp-code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="6"
                            prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev)) />
                    </div>
                    <button id="totp-enable" type="submit">"Turn on"</button>
                </form>
            }
            .into_any(),
        }
    };

    view! {
        <section id="totp-section" aria-labelledby="totp-heading">
            <h2 id="totp-heading">"Two-factor authentication"</h2>
            {body}
            {move || error.get().map(|message| view! { <p id="totp-error" class="form-error" role="alert">{message}</p> })}
        </section>
    }
}
