//! Invitations of stakeholders to a case. Leads of the case invite someone by email, choose the
//! sections the stakeholder may read besides the overview, and see who accepted.

use leptos::prelude::*;
use rekey_types::{validate_email, Invitation, NewInvitation, SHAREABLE_SECTIONS};

use super::{section_label, show_loaded};
use crate::api::{self, ApiError, ApiResult};
use crate::forms::{FieldError, FormError, FormErrorMessage, TextField};
use crate::time::LocalTime;
use crate::widgets::focus_element;

/// Hours until a new link expires when the form is left as it is; the server's default too.
const DEFAULT_HOURS: u32 = 72;
/// Maximum lifetime of a link that the server accepts, in hours (14 days).
const MAX_HOURS: u32 = 14 * 24;
/// Maximum name length the server accepts, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Form values of a new invitation, as typed.
struct InvitationForm {
    name: String,
    email: String,
    sections: Vec<String>,
    expires_in_hours: String,
}

/// Builds the request from the form's values, or the error of the first invalid one.
fn new_invitation_request(form: InvitationForm) -> Result<NewInvitation, ApiError> {
    let name = form.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid(
            "name",
            "The name is missing; enter the name of the person to invite.",
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid(
            "name",
            format!("The name is too long; use at most {MAX_NAME_CHARS} characters."),
        ));
    }
    let email = form.email.trim();
    validate_email(email).map_err(|message| ApiError::invalid("email", message))?;
    let hours = form
        .expires_in_hours
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|hours| (1..=MAX_HOURS).contains(hours))
        .ok_or_else(|| {
            ApiError::invalid(
                "expires_in_hours",
                format!(
                    "'{}' is not a valid lifetime; enter a whole number of hours from 1 to \
                     {MAX_HOURS}.",
                    form.expires_in_hours.trim()
                ),
            )
        })?;
    Ok(NewInvitation {
        name: name.to_string(),
        email: email.to_string(),
        sections: form.sections,
        expires_in_hours: Some(hours),
    })
}

/// Formats the shared sections as their titles, such as "Findings, Notifications".
fn describe_sections(sections: &[String]) -> String {
    if sections.is_empty() {
        return "Overview only".to_string();
    }
    sections
        .iter()
        .map(|name| section_label(name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
pub fn InvitationsSection(number: i64) -> impl IntoView {
    let invitations = LocalResource::new(move || api::invitations(number));
    let created = RwSignal::new(None::<Invitation>);

    view! {
        <section id="invitations-section" aria-labelledby="invitations-heading">
            <h2 id="invitations-heading">"Invitations"</h2>
            <p class="hint">
                "Invite someone outside the response team, such as legal counsel, to follow this \
                 case. They get a link by email that creates a stakeholder account: it reads the \
                 overview and the sections you share, and cannot change anything."
            </p>
            {move || created.get().map(|invitation| view! { <InvitationLink invitation=invitation on_dismiss=created /> })}
            <InvitationForm number=number invitations=invitations created=created />
            <h3>"Sent invitations"</h3>
            {show_loaded(invitations, |list| view! { <InvitationTable invitations=list /> })}
        </section>
    }
}

/// Shows the link of a new invitation. The server returns it only in that response.
#[component]
fn InvitationLink(
    invitation: Invitation,
    on_dismiss: RwSignal<Option<Invitation>>,
) -> impl IntoView {
    let link = invitation.link.unwrap_or_default();
    let copied = RwSignal::new(None::<&'static str>);
    let copy_text = link.clone();
    let copy = move |_| {
        let text = copy_text.clone();
        leptos::task::spawn_local(async move {
            let promise = window().navigator().clipboard().write_text(&text);
            let message = match wasm_bindgen_futures::JsFuture::from(promise).await {
                Ok(_) => "Link copied.",
                Err(_) => "The browser did not allow copying; select the link and copy it.",
            };
            copied.set(Some(message));
        });
    };
    // Focus moves here, so keyboard and screen reader users find the link first.
    Effect::new(move || focus_element("invite-link-box"));

    view! {
        <div id="invite-link-box" class="secret-box" tabindex="-1" role="region" aria-labelledby="invite-link-heading">
            <h3 id="invite-link-heading">"Invitation link for " {invitation.name} " <" {invitation.email} ">"</h3>
            <p>
                "Rekey has also queued an email with this link to them. "
                <strong>"It is shown only now"</strong>
                ", works once, and expires at "
                <LocalTime time=invitation.expires_at />
                ". Send it yourself only if the email does not arrive."
            </p>
            <code id="invite-link" class="secret-value">{link}</code>
            <div class="actions">
                <button id="invite-link-copy" type="button" on:click=copy>"Copy link"</button>
                <button id="invite-link-dismiss" type="button" class="secondary" on:click=move |_| on_dismiss.set(None)>
                    "Hide the link"
                </button>
                <span id="invite-link-copied" role="status">{move || copied.get()}</span>
            </div>
        </div>
    }
}

#[component]
fn InvitationForm(
    number: i64,
    invitations: LocalResource<ApiResult<Vec<Invitation>>>,
    created: RwSignal<Option<Invitation>>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let expires_in_hours = RwSignal::new(DEFAULT_HOURS.to_string());
    // One checkbox per shareable section, none checked: a new invitation shares only the
    // overview unless the lead chooses more.
    let shared: Vec<(&'static str, RwSignal<bool>)> = SHAREABLE_SECTIONS
        .iter()
        .map(|name| (*name, RwSignal::new(false)))
        .collect();
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);

    let checked_sections = shared.clone();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let sections = checked_sections
            .iter()
            .filter(|(_, checked)| checked.get_untracked())
            .map(|(name, _)| name.to_string())
            .collect();
        let request = new_invitation_request(InvitationForm {
            name: name.get_untracked(),
            email: email.get_untracked(),
            sections,
            expires_in_hours: expires_in_hours.get_untracked(),
        });
        let request = match request {
            Ok(request) => request,
            Err(invalid) => {
                error.set(Some(invalid));
                return;
            }
        };
        let reset_sections = checked_sections.clone();
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::invite(number, &request).await;
            pending.set(false);
            match result {
                Ok(invitation) => {
                    error.set(None);
                    name.set(String::new());
                    email.set(String::new());
                    expires_in_hours.set(DEFAULT_HOURS.to_string());
                    for (_, checked) in &reset_sections {
                        checked.set(false);
                    }
                    created.set(Some(invitation));
                    invitations.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    let checkboxes = shared
        .into_iter()
        .map(|(section, checked)| {
            let id = format!("invite-section-{section}");
            view! {
                <div class="checkbox">
                    <input
                        id=id.clone()
                        type="checkbox"
                        name="sections"
                        value=section
                        prop:checked=move || checked.get()
                        on:change=move |event| checked.set(event_target_checked(&event))
                    />
                    <label for=id>{section_label(section).to_string()}</label>
                </div>
            }
        })
        .collect_view();
    let sections_invalid = move || {
        error.with(|error| {
            error
                .as_ref()
                .is_some_and(|error| error.detail.field.as_deref() == Some("sections"))
                .then_some("invite-sections-error")
        })
    };

    view! {
        <form id="invite-form" class="inline-form" on:submit=submit novalidate>
            <h3>"Invite a stakeholder"</h3>
            <div class="field-grid">
                <TextField id="invite-name" label="Name" field="name" value=name error=error required=true />
                <TextField
                    id="invite-email"
                    label="Email"
                    field="email"
                    value=email
                    error=error
                    required=true
                    input_type="email"
                    placeholder="name@example.com"
                />
                <TextField
                    id="invite-hours"
                    label="Link expires after (hours)"
                    field="expires_in_hours"
                    value=expires_in_hours
                    error=error
                    required=true
                    input_type="number"
                    hint="1 to 336 hours (14 days)."
                />
            </div>
            <fieldset id="invite-sections" class="field" aria-describedby=sections_invalid>
                <legend>"Sections to share"</legend>
                <p class="hint">
                    "The overview (title, summary, severity and phase) is always shared. Leave \
                     every box empty to share only the overview."
                </p>
                {checkboxes}
                <FieldError id="invite-sections" field="sections" error=error />
            </fieldset>
            <FormErrorMessage id="invite-error" error=error />
            <button id="invite-submit" type="submit" aria-disabled=move || pending.get().then_some("true")>
                {move || if pending.get() { "Inviting…" } else { "Invite stakeholder" }}
            </button>
        </form>
    }
}

#[component]
fn InvitationTable(invitations: Vec<Invitation>) -> impl IntoView {
    let empty = invitations.is_empty();
    let now_millis = js_sys::Date::now();
    let rows = invitations
        .into_iter()
        .map(|invitation| {
            let accepted = match invitation.accepted_at {
                Some(time) => view! { <LocalTime time=time /> }.into_any(),
                None if (invitation.expires_at.timestamp_millis() as f64) <= now_millis => {
                    view! { <span class="status-waiting">"Expired unused"</span> }.into_any()
                }
                None => view! { <span class="muted">"Not yet"</span> }.into_any(),
            };
            view! {
                <tr data-invitation=invitation.id>
                    <td>{invitation.name}</td>
                    <td>{invitation.email}</td>
                    <td>{describe_sections(&invitation.sections)}</td>
                    <td>{invitation.invited_by}</td>
                    <td><LocalTime time=invitation.expires_at /></td>
                    <td>{accepted}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table id="invitations">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Email"</th>
                        <th scope="col">"Sections shared"</th>
                        <th scope="col">"Invited by"</th>
                        <th scope="col">"Link expires"</th>
                        <th scope="col">"Accepted"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {empty.then(|| view! { <p id="invitations-empty" class="muted">"No invitations yet."</p> })}
    }
}
