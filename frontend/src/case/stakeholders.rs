//! Stakeholders of a case and the notifications sent to them.

use leptos::prelude::*;
use rekey_types::{
    validate_email, Audience, DeliveryAttempt, DeliveryStatus, EventKind, FindingSeverity, NewStakeholder, Notification,
    Stakeholder, StakeholderRole, SubscriptionsUpdate,
};

use super::{show_loaded, CaseData};
use crate::api::{self, ApiError};
use crate::forms::{FormError, FormErrorMessage, SelectField, TextField};
use crate::time::LocalTime;

/// Builds the request from the form's values, or the error of the first invalid one.
fn new_stakeholder_request(
    name: &str,
    email: &str,
    role: &str,
    audience: &str,
    subscriptions: Vec<EventKind>,
    finding_min_severity: FindingSeverity,
) -> Result<NewStakeholder, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid(
            "name",
            "The name is missing; enter the person's or team's name.",
        ));
    }
    let email = email.trim();
    validate_email(email).map_err(|message| ApiError::invalid("email", message))?;
    let role = StakeholderRole::parse(role)
        .ok_or_else(|| ApiError::invalid("role", "Choose the stakeholder's role."))?;
    let audience = Audience::parse(audience)
        .ok_or_else(|| ApiError::invalid("audience", "Choose internal or external."))?;
    Ok(NewStakeholder {
        name: name.to_string(),
        email: email.to_string(),
        role,
        audience,
        subscriptions,
        finding_min_severity,
    })
}

#[component]
pub fn StakeholdersSection(data: CaseData) -> impl IntoView {
    view! {
        <section id="stakeholders-section" aria-labelledby="stakeholders-heading">
            <h2 id="stakeholders-heading">"Stakeholders"</h2>
            {show_loaded(data.stakeholders, move |stakeholders| view! { <StakeholderTable stakeholders=stakeholders data=data /> })}
            <Show when=move || data.can_write.get()>
                <StakeholderForm data=data />
            </Show>
        </section>
    }
}

#[component]
fn StakeholderTable(stakeholders: Vec<Stakeholder>, data: CaseData) -> impl IntoView {
    let empty = stakeholders.is_empty();
    let rows = stakeholders
        .into_iter()
        .map(|stakeholder| {
            view! {
                <tr data-stakeholder=stakeholder.id>
                    <td>{stakeholder.name}</td>
                    <td>{stakeholder.email}</td>
                    <td>{stakeholder.role.label()}</td>
                    <td>{stakeholder.audience.label()}</td>
                    <td class="subscriptions">
                        <span class="subscription-labels">
                            {subscription_labels(&stakeholder.subscriptions, stakeholder.finding_min_severity)}
                        </span>
                        <SubscriptionEditor
                            data=data
                            stakeholder=stakeholder.id
                            current=stakeholder.subscriptions.clone()
                            threshold=stakeholder.finding_min_severity
                        />
                    </td>
                    <td><LocalTime time=stakeholder.created_at /></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table id="stakeholders">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Email"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Audience"</th>
                        <th scope="col">"Receives"</th>
                        <th scope="col">"Added"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {empty.then(|| view! { <p id="stakeholders-empty" class="muted">"No stakeholders yet."</p> })}
    }
}

/// Labels of the subscribed event kinds, joined for a table cell, with the findings threshold
/// when it leaves some findings out.
fn subscription_labels(kinds: &[EventKind], threshold: FindingSeverity) -> String {
    if kinds.is_empty() {
        return "Nothing".to_string();
    }
    let labels: Vec<String> = kinds
        .iter()
        .map(|kind| match (kind, threshold) {
            (EventKind::Findings, FindingSeverity::High | FindingSeverity::Medium) => {
                format!("{} ({} or higher)", kind.label(), threshold.as_str())
            }
            _ => kind.label().to_string(),
        })
        .collect();
    labels.join(", ")
}

/// The lowest severity of the findings that a follower of findings receives.
#[component]
fn ThresholdChoice(threshold: RwSignal<FindingSeverity>, id: String) -> impl IntoView {
    let options = FindingSeverity::ALL
        .iter()
        .map(|severity| {
            let severity = *severity;
            view! {
                <option value=severity.as_str() selected=move || threshold.get() == severity>
                    {format!("{} or higher", severity.label())}
                </option>
            }
        })
        .collect_view();
    let change = move |event: leptos::ev::Event| {
        if let Some(severity) = FindingSeverity::parse(&event_target_value(&event)) {
            threshold.set(severity);
        }
    };
    let label_for = id.clone();
    view! {
        <label class="finding-threshold" for=label_for>
            "Findings of severity "
            <select id=id class="finding-min-severity" name="finding_min_severity" on:change=change>
                {options}
            </select>
        </label>
    }
}

/// Shows one checkbox per event kind, bound to the list of chosen kinds, and the findings threshold.
#[component]
fn SubscriptionChoices(
    chosen: RwSignal<Vec<EventKind>>,
    threshold: RwSignal<FindingSeverity>,
    id_prefix: String,
) -> impl IntoView {
    let threshold_id = format!("{id_prefix}-finding-min-severity");
    let boxes = EventKind::ALL
        .iter()
        .map(|kind| {
            let kind = *kind;
            let id = format!("{id_prefix}-{}", kind.as_str());
            let label_for = id.clone();
            let toggle = move |event: leptos::ev::Event| {
                let checked = event_target_checked(&event);
                chosen.update(|kinds| {
                    kinds.retain(|k| *k != kind);
                    if checked {
                        kinds.push(kind);
                    }
                });
            };
            view! {
                <label class="checkbox" for=label_for>
                    <input
                        type="checkbox"
                        id=id
                        name="subscriptions"
                        value=kind.as_str()
                        prop:checked=move || chosen.with(|kinds| kinds.contains(&kind))
                        on:change=toggle
                    />
                    {kind.label()}
                </label>
            }
        })
        .collect_view();
    view! {
        <fieldset class="subscriptions">
            <legend>"Emails about"</legend>
            {boxes}
            <ThresholdChoice threshold=threshold id=threshold_id />
        </fieldset>
    }
}

/// Lets the lead change which events a stakeholder receives.
#[component]
fn SubscriptionEditor(
    data: CaseData,
    stakeholder: i64,
    current: Vec<EventKind>,
    threshold: FindingSeverity,
) -> impl IntoView {
    let chosen = RwSignal::new(current);
    let threshold = RwSignal::new(threshold);
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);
    let error_id = format!("stakeholder-{stakeholder}-subscriptions-error");

    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        let request = SubscriptionsUpdate {
            subscriptions: chosen.get_untracked(),
            finding_min_severity: Some(threshold.get_untracked()),
        };
        leptos::task::spawn_local(async move {
            let result = api::update_subscriptions(data.number, stakeholder, &request).await;
            pending.set(false);
            match result {
                Ok(_) => data.stakeholders.refetch(),
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    view! {
        <details class="subscription-editor">
            <summary>"Change"</summary>
            <form on:submit=save novalidate>
                <SubscriptionChoices
                    chosen=chosen
                    threshold=threshold
                    id_prefix=format!("stakeholder-{stakeholder}-subscription")
                />
                <p id=error_id class="form-error" role="alert">
                    {move || error.get().map(|failure| failure.message().to_string())}
                </p>
                <button type="submit" aria-disabled=move || pending.get().then_some("true")>"Save"</button>
            </form>
        </details>
    }
}

#[component]
fn StakeholderForm(data: CaseData) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let role = RwSignal::new(StakeholderRole::ALL[0].as_str().to_string());
    let audience = RwSignal::new(Audience::Internal.as_str().to_string());
    let subscriptions = RwSignal::new(EventKind::ALL.to_vec());
    let threshold = RwSignal::new(FindingSeverity::Low);
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);
    let added = RwSignal::new(None::<String>);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        added.set(None);
        let request = match new_stakeholder_request(
            &name.get_untracked(),
            &email.get_untracked(),
            &role.get_untracked(),
            &audience.get_untracked(),
            subscriptions.get_untracked(),
            threshold.get_untracked(),
        ) {
            Ok(request) => request,
            Err(invalid) => {
                error.set(Some(invalid));
                return;
            }
        };
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::add_stakeholder(data.number, &request).await;
            pending.set(false);
            match result {
                Ok(stakeholder) => {
                    error.set(None);
                    added.set(Some(format!(
                        "Added {} <{}>.",
                        stakeholder.name, stakeholder.email
                    )));
                    name.set(String::new());
                    email.set(String::new());
                    data.stakeholders.refetch();
                    // Adding a stakeholder may queue a first notification for them.
                    data.notifications.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    let role_options = StakeholderRole::ALL
        .iter()
        .map(|r| (r.as_str(), r.label()))
        .collect();
    let audience_options = Audience::ALL
        .iter()
        .map(|a| (a.as_str(), a.label()))
        .collect();

    view! {
        <form id="stakeholder-form" class="inline-form" on:submit=submit novalidate>
            <h3>"Add a stakeholder"</h3>
            <div class="field-grid">
                <TextField id="stakeholder-name" label="Name" field="name" value=name error=error required=true />
                <TextField
                    id="stakeholder-email"
                    label="Email"
                    field="email"
                    value=email
                    error=error
                    required=true
                    input_type="email"
                    placeholder="name@example.com"
                />
                <SelectField
                    id="stakeholder-role"
                    label="Role"
                    field="role"
                    options=role_options
                    value=role
                    error=error
                />
                <SelectField
                    id="stakeholder-audience"
                    label="Audience"
                    field="audience"
                    options=audience_options
                    value=audience
                    error=error
                />
            </div>
            <SubscriptionChoices chosen=subscriptions threshold=threshold id_prefix="subscription".to_string() />
            <FormErrorMessage id="stakeholder-error" error=error />
            <p id="stakeholder-added" class="success" role="status">{move || added.get()}</p>
            <button id="stakeholder-add" type="submit" aria-disabled=move || pending.get().then_some("true")>
                {move || if pending.get() { "Adding…" } else { "Add stakeholder" }}
            </button>
        </form>
    }
}

#[component]
pub fn NotificationsSection(data: CaseData) -> impl IntoView {
    // Wire id of the stakeholder whose delivery log is shown; empty for every stakeholder.
    let shown = RwSignal::new(String::new());
    let options = move || {
        let stakeholders = data.stakeholders.get().and_then(Result::ok).unwrap_or_default();
        stakeholders
            .into_iter()
            .map(|stakeholder| {
                let label = format!("{} <{}>", stakeholder.name, stakeholder.email);
                view! { <option value=stakeholder.id.to_string()>{label}</option> }
            })
            .collect_view()
    };
    view! {
        <section id="notifications-section" aria-labelledby="notifications-heading">
            <h2 id="notifications-heading">"Notifications"</h2>
            <div class="field">
                <label for="notifications-stakeholder">"Delivery log of"</label>
                <select id="notifications-stakeholder" bind:value=shown>
                    <option value="">"Every stakeholder"</option>
                    {options}
                </select>
            </div>
            {show_loaded(data.notifications, move |notifications| {
                let selected = shown.get().parse::<i64>().ok();
                let notifications: Vec<Notification> = notifications
                    .into_iter()
                    .filter(|n| selected.is_none() || n.stakeholder_id == selected)
                    .collect();
                view! { <NotificationTable notifications=notifications data=data /> }
            })}
        </section>
    }
}

#[component]
fn NotificationTable(notifications: Vec<Notification>, data: CaseData) -> impl IntoView {
    let empty = notifications.is_empty();
    let retry_error: FormError = RwSignal::new(None);
    let rows = notifications
        .into_iter()
        .map(|notification| {
            let status_class = match notification.status {
                DeliveryStatus::Queued => "status-waiting",
                DeliveryStatus::Sent => "status-ok",
                DeliveryStatus::Failed => "status-failed",
            };
            view! {
                <tr data-notification=notification.id>
                    <td>{notification.recipient}</td>
                    <td>{notification.subject}</td>
                    <td class=status_class>
                        {notification.status.label()}
                        <DeliveryHistory attempts=notification.history />
                    </td>
                    <td class="number">{notification.attempts}</td>
                    <td>{notification.last_error.unwrap_or_default()}</td>
                    <td><LocalTime time=notification.created_at /></td>
                    <td>
                        {notification.last_attempt_at.map(|time| view! { <LocalTime time=time /> })}
                    </td>
                    <td>
                        {notification.sent_at.map(|time| view! { <LocalTime time=time /> })}
                    </td>
                    <td>
                        {(notification.status != DeliveryStatus::Sent).then(|| {
                            view! { <RetryButton number=data.number id=notification.id data=data error=retry_error /> }
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table id="notifications">
                <thead>
                    <tr>
                        <th scope="col">"Recipient"</th>
                        <th scope="col">"Subject"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col" class="number">"Attempts"</th>
                        <th scope="col">"Last error"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Last attempt"</th>
                        <th scope="col">"Sent"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <FormErrorMessage id="notification-retry-error" error=retry_error />
        {empty.then(|| view! { <p id="notifications-empty" class="muted">"No notifications yet."</p> })}
    }
}

/// Each delivery attempt of an email with its time, outcome and SMTP reply or error.
#[component]
fn DeliveryHistory(attempts: Vec<DeliveryAttempt>) -> impl IntoView {
    if attempts.is_empty() {
        return None;
    }
    let items = attempts
        .into_iter()
        .map(|attempt| {
            view! {
                <li>
                    <LocalTime time=attempt.at /> " " {attempt.outcome.label()} ": "
                    {attempt.detail.unwrap_or_default()}
                </li>
            }
        })
        .collect_view();
    Some(view! {
        <details class="delivery-history">
            <summary>"Attempts"</summary>
            <ol>{items}</ol>
        </details>
    })
}

/// Makes a queued or failed email due at once, then reloads the delivery log.
#[component]
fn RetryButton(number: i64, id: i64, data: CaseData, error: FormError) -> impl IntoView {
    let pending = RwSignal::new(false);
    let retry = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::retry_notification(number, id).await;
            pending.set(false);
            match result {
                Ok(_) => error.set(None),
                Err(failure) => error.set(Some(failure)),
            }
            data.notifications.refetch();
        });
    };
    view! {
        <button type="button" class="retry-notification" on:click=retry aria-disabled=move || pending.get().then_some("true")>
            {move || if pending.get() { "Retrying…" } else { "Retry now" }}
        </button>
    }
}
