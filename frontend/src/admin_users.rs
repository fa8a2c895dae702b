//! `/admin/users`: user accounts, for administrators. They create users, change account roles,
//! disable and enable accounts, and set new passwords.

use leptos::prelude::*;
use rekey_types::{validate_email, CreatedUser, NewUser, UserAccount, UserRole, UserUpdate};

use crate::account::check_new_password;
use crate::api::{self, ApiError, ApiResult};
use crate::forms::{optional_text, FormError, FormErrorMessage, SelectField, TextField};
use crate::time::LocalTime;
use crate::widgets::{focus_element, show_loaded};
use crate::{set_title, use_session};

#[component]
pub fn UsersPage() -> impl IntoView {
    set_title("Users");
    let session = use_session();
    let users = LocalResource::new(api::users);
    // The server rejects everyone else with 403. This note explains why before that error shows.
    let not_admin = move || session.role().is_some_and(|role| role != UserRole::Admin);

    view! {
        <h1>"Users"</h1>
        <Show when=not_admin>
            <p id="users-denied" class="notice">"Only administrators manage user accounts."</p>
        </Show>
        <Show when=move || !not_admin()>
            <UserForm users=users />
            <h2 id="users-heading">"Accounts"</h2>
            <p class="hint">
                "Changing a role, disabling an account or setting a new password ends all of that \
                 user's sessions."
            </p>
            {show_loaded(users, |list| view! { <UserTable users=list /> })}
        </Show>
    }
}

/// Form values of a new user, as typed.
struct UserFormValues {
    username: String,
    display_name: String,
    email: String,
    role: String,
    password: String,
}

fn new_user_request(form: UserFormValues) -> Result<NewUser, ApiError> {
    let username = form.username.trim();
    if username.is_empty() {
        return Err(ApiError::invalid(
            "username",
            "The username is missing; enter the name the person signs in with.",
        ));
    }
    let email = optional_text(&form.email);
    if let Some(email) = &email {
        validate_email(email).map_err(|message| ApiError::invalid("email", message))?;
    }
    let role = UserRole::parse(&form.role)
        .ok_or_else(|| ApiError::invalid("role", "Choose the account role."))?;
    // Without a password in the request, the server generates one.
    let password = (!form.password.is_empty()).then_some(form.password);
    if let Some(password) = &password {
        check_new_password("password", password)?;
    }
    Ok(NewUser {
        username: username.to_string(),
        display_name: optional_text(&form.display_name),
        email,
        role,
        password,
    })
}

fn role_options() -> Vec<(&'static str, &'static str)> {
    UserRole::ALL
        .iter()
        .map(|role| (role.as_str(), role.label()))
        .collect()
}

#[component]
fn UserForm(users: LocalResource<ApiResult<Vec<UserAccount>>>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let role = RwSignal::new(UserRole::Analyst.as_str().to_string());
    let password = RwSignal::new(String::new());
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);
    let created = RwSignal::new(None::<CreatedUser>);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        created.set(None);
        let request = new_user_request(UserFormValues {
            username: username.get_untracked(),
            display_name: display_name.get_untracked(),
            email: email.get_untracked(),
            role: role.get_untracked(),
            password: password.get_untracked(),
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
            let result = api::create_user(&request).await;
            pending.set(false);
            match result {
                Ok(user) => {
                    error.set(None);
                    for field in [username, display_name, email, password] {
                        field.set(String::new());
                    }
                    created.set(Some(user));
                    users.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    view! {
        <form id="user-form" class="inline-form" on:submit=submit novalidate>
            <h2 class="form-heading">"Create a user"</h2>
            <div class="field-grid">
                <TextField
                    id="user-username"
                    label="Username"
                    field="username"
                    value=username
                    error=error
                    required=true
                    autocomplete="off"
                />
                <TextField
                    id="user-display-name"
                    label="Full name"
                    field="display_name"
                    value=display_name
                    error=error
                    hint="Shown in the app; the username when empty."
                />
                <TextField
                    id="user-email"
                    label="Email"
                    field="email"
                    value=email
                    error=error
                    input_type="email"
                    autocomplete="off"
                />
                <SelectField
                    id="user-role"
                    label="Account role"
                    field="role"
                    options=role_options()
                    value=role
                    error=error
                />
                <TextField
                    id="user-password"
                    label="Initial password"
                    field="password"
                    value=password
                    error=error
                    input_type="password"
                    autocomplete="new-password"
                    hint="At least 12 characters. Leave empty and Rekey generates one, shown once."
                />
            </div>
            <FormErrorMessage id="user-error" error=error />
            {move || created.get().map(|created| view! { <CreatedUserMessage created=created /> })}
            <button id="user-create" type="submit" aria-disabled=move || pending.get().then_some("true")>
                {move || if pending.get() { "Creating…" } else { "Create user" }}
            </button>
        </form>
    }
}

/// Confirmation of a new user, with the generated password when the server made one.
#[component]
fn CreatedUserMessage(created: CreatedUser) -> impl IntoView {
    let summary = format!(
        "Created user {} ({}).",
        created.user.username,
        created.user.role.label()
    );
    if created.generated_password.is_some() {
        // Focus moves to the password, so keyboard and screen reader users find it first.
        Effect::new(move || focus_element("user-generated-password"));
    }
    match created.generated_password {
        None => view! { <p id="user-created" class="success" role="status">{summary}</p> }.into_any(),
        Some(password) => view! {
            <div id="user-generated-password" class="secret-box" tabindex="-1" role="region" aria-labelledby="user-generated-password-heading">
                <h3 id="user-generated-password-heading">{summary} " Copy the password now"</h3>
                <p>
                    <strong>"It cannot be shown again."</strong>
                    " Give it to the user over a trusted channel. If it is lost, set a new \
                     password under Manage."
                </p>
                <code id="user-generated-password-value" class="secret-value">{password}</code>
            </div>
        }
        .into_any(),
    }
}

#[component]
fn UserTable(users: Vec<UserAccount>) -> impl IntoView {
    let rows = users
        .into_iter()
        .map(|user| view! { <UserRow user=user /> })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table id="users">
                <thead>
                    <tr>
                        <th scope="col">"Username"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Email"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// Shows one account. A change updates the row in place from the server's response, so
/// keyboard focus stays on the control that made it.
#[component]
fn UserRow(user: UserAccount) -> impl IntoView {
    let id = user.id;
    let account = RwSignal::new(user.clone());
    let role = RwSignal::new(user.role.as_str().to_string());
    let new_password = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let message = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);

    // Sends one change and reports it with `done`, which gets the updated account.
    let apply = move |update: UserUpdate, done: fn(&UserAccount) -> String| {
        if pending.get_untracked() {
            return;
        }
        message.set(None);
        error.set(None);
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::update_user(id, &update).await;
            pending.set(false);
            match result {
                Ok(updated) => {
                    message.set(Some(done(&updated)));
                    role.set(updated.role.as_str().to_string());
                    account.set(updated);
                }
                Err(failure) => error.set(Some(failure.detail.message)),
            }
        });
    };

    let change_role = move |_| {
        let Some(new_role) = UserRole::parse(&role.get_untracked()) else {
            return;
        };
        if account.with_untracked(|account| account.role == new_role) {
            error.set(Some(
                "The account already has this role; choose another one.".to_string(),
            ));
            return;
        }
        let update = UserUpdate {
            role: Some(new_role),
            ..UserUpdate::default()
        };
        apply(update, |account| {
            format!(
                "Role changed to {}. Their sessions have ended.",
                account.role.label()
            )
        });
    };

    let toggle_disabled = move |_| {
        let disable = !account.with_untracked(|account| account.disabled);
        if disable {
            let question = format!(
                "Disable the account {}? They are signed out and cannot sign in until it is \
                 enabled again.",
                account.with_untracked(|account| account.username.clone())
            );
            if !window().confirm_with_message(&question).unwrap_or(false) {
                return;
            }
        }
        let update = UserUpdate {
            disabled: Some(disable),
            ..UserUpdate::default()
        };
        apply(update, |account| {
            if account.disabled {
                "Account disabled. Their sessions have ended.".to_string()
            } else {
                "Account enabled.".to_string()
            }
        });
    };

    let reset_password = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let password = new_password.get_untracked();
        if let Err(invalid) = check_new_password("reset_password", &password) {
            message.set(None);
            error.set(Some(invalid.detail.message));
            return;
        }
        new_password.set(String::new());
        let update = UserUpdate {
            reset_password: Some(password),
            ..UserUpdate::default()
        };
        apply(update, |_| {
            "New password set. Their sessions have ended; give them the password over a trusted \
             channel."
                .to_string()
        });
    };

    let username = user.username.clone();
    let role_select_id = format!("user-role-{id}");
    let password_input_id = format!("user-reset-password-{id}");
    let busy = move || pending.get().then_some("true");
    let role_options = role_options()
        .into_iter()
        .map(|(wire, text)| view! { <option value=wire>{text}</option> })
        .collect_view();

    view! {
        <tr data-user=id data-disabled=move || account.with(|a| a.disabled.to_string())>
            <td><code>{move || account.with(|a| a.username.clone())}</code></td>
            <td>{move || account.with(|a| a.display_name.clone())}</td>
            <td>{move || account.with(|a| a.email.clone().unwrap_or_default())}</td>
            <td id=format!("user-role-value-{id}")>{move || account.with(|a| a.role.label())}</td>
            <td
                id=format!("user-status-{id}")
                class=move || if account.with(|a| a.disabled) { "status-failed" } else { "status-ok" }
            >
                {move || if account.with(|a| a.disabled) { "Disabled" } else { "Active" }}
            </td>
            <td><LocalTime time=user.created_at /></td>
            <td class="row-actions">
                <details id=format!("user-manage-{id}")>
                    <summary>"Manage" <span class="visually-hidden">" " {username.clone()}</span></summary>
                    <div class="manage-panel">
                        <div class="inline-control">
                            <label for=role_select_id.clone()>"Account role"</label>
                            <select id=role_select_id bind:value=role>{role_options}</select>
                            <button
                                id=format!("user-role-save-{id}")
                                type="button"
                                class="secondary small"
                                aria-disabled=busy
                                on:click=change_role
                            >
                                "Change role"
                            </button>
                        </div>
                        <div class="inline-control">
                            <button
                                id=format!("user-toggle-{id}")
                                type="button"
                                class="secondary small"
                                aria-disabled=busy
                                on:click=toggle_disabled
                            >
                                {move || if account.with(|a| a.disabled) { "Enable account" } else { "Disable account" }}
                            </button>
                        </div>
                        <form class="inline-control" on:submit=reset_password novalidate>
                            <label for=password_input_id.clone()>"New password"</label>
                            <input
                                id=password_input_id
                                type="password"
                                autocomplete="new-password"
                                bind:value=new_password
                            />
                            <button id=format!("user-reset-{id}") type="submit" class="secondary small" aria-disabled=busy>
                                "Set password"
                            </button>
                        </form>
                        <div id=format!("user-error-{id}") class="form-error" role="alert">{move || error.get()}</div>
                        <p id=format!("user-message-{id}") class="success" role="status">{move || message.get()}</p>
                    </div>
                </details>
            </td>
        </tr>
    }
}
