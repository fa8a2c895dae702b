//! Members of a case: who may open it and in which role. Leads of the case and administrators
//! may add, change and remove members.

use leptos::prelude::*;
use rekey_types::{Case, CaseMember, CaseRole, NewCaseMember};

use super::show_loaded;
use crate::api::{self, ApiError, ApiResult};
use crate::forms::{FormError, FormErrorMessage, SelectField, TextField};
use crate::time::LocalTime;
use crate::use_session;
use crate::widgets::focus_element;

/// Resources and permissions of the members section.
#[derive(Clone, Copy)]
pub struct MemberAccess {
    pub number: i64,
    pub members: LocalResource<ApiResult<Vec<CaseMember>>>,
    /// True when the signed-in user may change members: a lead of the case or an administrator.
    pub can_manage: Signal<bool>,
    /// The case, refetched after a change because the signed-in user's own role may have
    /// changed.
    pub case: LocalResource<ApiResult<Case>>,
}

fn new_member_request(username: &str, role: &str) -> Result<NewCaseMember, ApiError> {
    let username = username.trim();
    if username.is_empty() {
        return Err(ApiError::invalid(
            "username",
            "The username is missing; enter the Rekey username of the person to add.",
        ));
    }
    let role = CaseRole::parse(role)
        .ok_or_else(|| ApiError::invalid("role", "Choose the member's role in this case."))?;
    Ok(NewCaseMember {
        username: username.to_string(),
        role,
    })
}

#[component]
pub fn MembersSection(access: MemberAccess) -> impl IntoView {
    // Error and confirmation of the Remove buttons, shown above the table.
    let remove_error = RwSignal::new(None::<String>);
    let removed = RwSignal::new(None::<String>);

    view! {
        <section id="members-section" aria-labelledby="members-heading">
            <h2 id="members-heading" tabindex="-1">"Members"</h2>
            <p class="hint">
                "Only members see this case (managers also read cases that are not restricted). \
                 Leads manage members; analysts change the case; viewers only read it."
            </p>
            <div id="member-remove-error" class="form-error" role="alert">{move || remove_error.get()}</div>
            <p id="member-removed" class="success" role="status">{move || removed.get()}</p>
            {show_loaded(access.members, move |members| {
                view! { <MemberTable access=access members=members remove_error=remove_error removed=removed /> }
            })}
            <Show when=move || access.can_manage.get()>
                <MemberForm access=access />
            </Show>
        </section>
    }
}

#[component]
fn MemberTable(
    access: MemberAccess,
    members: Vec<CaseMember>,
    remove_error: RwSignal<Option<String>>,
    removed: RwSignal<Option<String>>,
) -> impl IntoView {
    let session = use_session();
    let pending = RwSignal::new(None::<i64>);
    let empty = members.is_empty();

    let remove = move |member: CaseMember| {
        if pending.get_untracked().is_some() {
            return;
        }
        let is_self = session
            .user
            .with_untracked(|user| user.as_ref().is_some_and(|user| user.id == member.user_id));
        if is_self {
            let question = "Remove yourself from this case? You lose access to it unless an \
                            administrator or another lead adds you again.";
            if !window().confirm_with_message(question).unwrap_or(false) {
                return;
            }
        }
        remove_error.set(None);
        removed.set(None);
        pending.set(Some(member.user_id));
        leptos::task::spawn_local(async move {
            let result = api::remove_member(access.number, member.user_id).await;
            pending.set(None);
            match result {
                Ok(()) => {
                    removed.set(Some(format!(
                        "Removed {} ({}) from the case.",
                        member.display_name, member.username
                    )));
                    access.members.refetch();
                    access.case.refetch();
                    // The row and its button are gone, so keyboard focus goes to the section.
                    focus_element("members-heading");
                }
                Err(failure) => remove_error.set(Some(failure.detail.message)),
            }
        });
    };

    let rows = members
        .into_iter()
        .map(|member| {
            let button_id = format!("member-remove-{}", member.user_id);
            let label = format!("Remove {} from the case", member.display_name);
            let user_id = member.user_id;
            let row_member = member.clone();
            view! {
                <tr data-member=member.user_id data-role=member.role.as_str()>
                    <td>{member.display_name}</td>
                    <td><code>{member.username}</code></td>
                    <td>{member.role.label()}</td>
                    <td><LocalTime time=member.added_at /></td>
                    <Show when=move || access.can_manage.get()>
                        <td>
                            <button
                                id=button_id.clone()
                                type="button"
                                class="secondary small"
                                aria-label=label.clone()
                                aria-disabled=move || (pending.get() == Some(user_id)).then_some("true")
                                on:click={
                                    let member = row_member.clone();
                                    move |_| remove(member.clone())
                                }
                            >
                                "Remove"
                            </button>
                        </td>
                    </Show>
                </tr>
            }
        })
        .collect_view();

    view! {
        <div class="table-wrap">
            <table id="members">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Username"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Added"</th>
                        <Show when=move || access.can_manage.get()>
                            <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                        </Show>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {empty.then(|| view! { <p id="members-empty" class="muted">"This case has no members."</p> })}
    }
}

#[component]
fn MemberForm(access: MemberAccess) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let role = RwSignal::new(CaseRole::Analyst.as_str().to_string());
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);
    let added = RwSignal::new(None::<String>);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        added.set(None);
        let request = match new_member_request(&username.get_untracked(), &role.get_untracked()) {
            Ok(request) => request,
            Err(invalid) => {
                error.set(Some(invalid));
                return;
            }
        };
        let was_member = access.members.with_untracked(|members| {
            matches!(members, Some(Ok(members)) if members.iter().any(|m| m.username == request.username))
        });
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::add_member(access.number, &request).await;
            pending.set(false);
            match result {
                Ok(members) => {
                    error.set(None);
                    let message = if was_member {
                        format!(
                            "Changed the role of {} to {}.",
                            request.username,
                            request.role.label()
                        )
                    } else {
                        format!("Added {} as {}.", request.username, request.role.label())
                    };
                    added.set(Some(message));
                    username.set(String::new());
                    access.members.set(Some(Ok(members)));
                    access.case.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    let role_options = CaseRole::ALL
        .iter()
        .map(|r| (r.as_str(), r.label()))
        .collect();

    view! {
        <form id="member-form" class="inline-form" on:submit=submit novalidate>
            <h3>"Add a member or change a role"</h3>
            <p class="hint">
                "Adding someone who is already a member changes their role. A case always keeps at \
                 least one lead. Stakeholder accounts can only be viewers."
            </p>
            <div class="field-grid">
                <TextField
                    id="member-username"
                    label="Username"
                    field="username"
                    value=username
                    error=error
                    required=true
                    autocomplete="off"
                />
                <SelectField
                    id="member-role"
                    label="Role in this case"
                    field="role"
                    options=role_options
                    value=role
                    error=error
                />
            </div>
            <FormErrorMessage id="member-error" error=error />
            <p id="member-added" class="success" role="status">{move || added.get()}</p>
            <button id="member-add" type="submit" aria-disabled=move || pending.get().then_some("true")>
                {move || if pending.get() { "Saving…" } else { "Add or change member" }}
            </button>
        </form>
    }
}
