//! Status updates, legal clocks and the communications log of a case.

use leptos::prelude::*;
use rekey_types::{
    Channel, CommunicationEntry, DeliveryStatus, LegalClock, NewCommunication, NewLegalClock,
    NewStatusUpdate, RedactionKind, StatusUpdate, UpdateSchedule,
};

use super::{show_loaded, CaseData};
use crate::api::{self, ApiError, ApiResult};
use crate::forms::{optional_text, FormError, FormErrorMessage, SelectField, TextField};
use crate::time::LocalTime;

/// Resources the communication sections load for one case.
#[derive(Clone, Copy)]
pub struct CommunicationData {
    pub number: i64,
    pub schedule: LocalResource<ApiResult<UpdateSchedule>>,
    pub status_updates: LocalResource<ApiResult<Vec<StatusUpdate>>>,
    pub legal_clocks: LocalResource<ApiResult<Vec<LegalClock>>>,
    pub log: LocalResource<ApiResult<Vec<CommunicationEntry>>>,
}

impl CommunicationData {
    pub fn load(number: i64) -> Self {
        CommunicationData {
            number,
            schedule: LocalResource::new(move || api::status_schedule(number)),
            status_updates: LocalResource::new(move || api::status_updates(number)),
            legal_clocks: LocalResource::new(move || api::legal_clocks(number)),
            log: LocalResource::new(move || api::communications(number)),
        }
    }
}

/// Sentence telling the analyst which kinds of secret were removed, or `None` for none.
fn redaction_notice(kinds: &[RedactionKind]) -> Option<String> {
    if kinds.is_empty() {
        return None;
    }
    let labels: Vec<&str> = kinds.iter().map(|kind| kind.label()).collect();
    Some(format!(
        "Rekey replaced secrets with [REDACTED] before saving: {}.",
        labels.join(", ")
    ))
}

/// Duration in whole hours and minutes, such as `2 h 05 min`.
fn format_duration(seconds: i64) -> String {
    let minutes = seconds.abs() / 60;
    format!("{} h {:02} min", minutes / 60, minutes % 60)
}

/// Banner shown at the top of the case page while a status update is overdue.
#[component]
pub fn OverdueFlag(comms: CommunicationData) -> impl IntoView {
    move || {
        let schedule = comms.schedule.get().and_then(Result::ok)?;
        let due_at = schedule.due_at.filter(|_| schedule.overdue)?;
        Some(view! {
            <p id="status-overdue" class="overdue" role="alert">
                "Status update overdue since " <LocalTime time=due_at /> ". "
                <a href="#status-updates-section" rel="external">"Write one now"</a>
            </p>
        })
    }
}

#[component]
pub fn StatusUpdatesSection(data: CaseData, comms: CommunicationData) -> impl IntoView {
    view! {
        <section id="status-updates-section" aria-labelledby="status-updates-heading">
            <h2 id="status-updates-heading">"Status updates"</h2>
            {show_loaded(comms.schedule, |schedule| view! { <ScheduleLine schedule=schedule /> })}
            <StatusUpdateForm data=data comms=comms />
            {show_loaded(comms.status_updates, |updates| view! { <StatusUpdateList updates=updates /> })}
        </section>
    }
}

#[component]
fn ScheduleLine(schedule: UpdateSchedule) -> impl IntoView {
    let text = match schedule.cadence_seconds {
        None => "This case has no status-update cadence.".to_string(),
        Some(seconds) => format!("One status update is due every {}.", format_duration(seconds)),
    };
    view! {
        <p id="status-schedule" class=if schedule.overdue { "overdue" } else { "muted" }>
            {text}
            {schedule.due_at.map(|due| view! { " Next due: " <LocalTime time=due /> "." })}
        </p>
    }
}

#[component]
fn StatusUpdateForm(data: CaseData, comms: CommunicationData) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);
    let sent = RwSignal::new(None::<String>);
    let redacted = RwSignal::new(None::<String>);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        sent.set(None);
        redacted.set(None);
        let body = text.get_untracked();
        if body.trim().is_empty() {
            error.set(Some(ApiError::invalid(
                "text",
                "The update is empty; write what the stakeholders need to know now.",
            )));
            return;
        }
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::post_status_update(data.number, &NewStatusUpdate { text: body }).await;
            pending.set(false);
            match result {
                Ok(update) => {
                    error.set(None);
                    text.set(String::new());
                    sent.set(Some(format!("Sent to {} stakeholder(s).", update.recipients)));
                    redacted.set(redaction_notice(&update.redactions));
                    comms.status_updates.refetch();
                    comms.schedule.refetch();
                    comms.log.refetch();
                    data.notifications.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    view! {
        <form id="status-update-form" class="inline-form" on:submit=submit novalidate>
            <div class="field">
                <label for="status-update-text">"New status update"</label>
                <p class="hint" id="status-update-text-hint">
                    "Sent by email to every stakeholder who follows status updates."
                </p>
                <textarea
                    id="status-update-text"
                    name="text"
                    rows="4"
                    aria-describedby="status-update-text-hint"
                    bind:value=text
                ></textarea>
            </div>
            <FormErrorMessage id="status-update-error" error=error />
            <p id="status-update-sent" class="success" role="status">{move || sent.get()}</p>
            <p id="status-update-redacted" class="warning" role="status">{move || redacted.get()}</p>
            <button id="status-update-send" type="submit" aria-disabled=move || pending.get().then_some("true")>
                {move || if pending.get() { "Sending…" } else { "Send status update" }}
            </button>
        </form>
    }
}

#[component]
fn StatusUpdateList(updates: Vec<StatusUpdate>) -> impl IntoView {
    if updates.is_empty() {
        return view! { <p id="status-updates-empty" class="muted">"No status updates yet."</p> }.into_any();
    }
    let items = updates
        .into_iter()
        .map(|update| {
            view! {
                <li data-status-update=update.id>
                    <p class="meta">
                        <LocalTime time=update.created_at /> ", " {update.created_by} ", to "
                        {update.recipients} " stakeholder(s)"
                    </p>
                    <p class="status-update-text">{update.text}</p>
                </li>
            }
        })
        .collect_view();
    view! { <ol id="status-updates" class="entries">{items}</ol> }.into_any()
}

#[component]
pub fn LegalClocksSection(comms: CommunicationData) -> impl IntoView {
    view! {
        <section id="legal-clocks-section" aria-labelledby="legal-clocks-heading">
            <h2 id="legal-clocks-heading">"Legal deadlines"</h2>
            {show_loaded(comms.legal_clocks, move |clocks| view! { <LegalClockTable clocks=clocks comms=comms /> })}
            <LegalClockForm comms=comms />
        </section>
    }
}

#[component]
fn LegalClockTable(clocks: Vec<LegalClock>, comms: CommunicationData) -> impl IntoView {
    if clocks.is_empty() {
        return view! { <p id="legal-clocks-empty" class="muted">"No legal deadlines."</p> }.into_any();
    }
    let rows = clocks
        .into_iter()
        .map(|clock| {
            let left = match (clock.met_at, clock.seconds_left) {
                (Some(_), _) => "Met".to_string(),
                (None, seconds) if seconds < 0 => format!("Passed {} ago", format_duration(seconds)),
                (None, seconds) => format!("{} left", format_duration(seconds)),
            };
            let id = clock.id;
            let mark_met = move |_| {
                leptos::task::spawn_local(async move {
                    // A failure leaves the row as it was; the reload shows the stored state.
                    let _ = api::mark_legal_clock_met(comms.number, id).await;
                    comms.legal_clocks.refetch();
                });
            };
            view! {
                <tr data-legal-clock=clock.id>
                    <td>{clock.name}</td>
                    <td><LocalTime time=clock.aware_at /></td>
                    <td><LocalTime time=clock.deadline_at /></td>
                    <td class="time-left">{left}</td>
                    <td>{clock.reminded_at.map(|time| view! { <LocalTime time=time /> })}</td>
                    <td>
                        {clock.met_at.is_none().then(|| view! {
                            <button type="button" class="mark-met" on:click=mark_met>"Mark met"</button>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table id="legal-clocks">
                <thead>
                    <tr>
                        <th scope="col">"Deadline"</th>
                        <th scope="col">"Aware since"</th>
                        <th scope="col">"Due"</th>
                        <th scope="col">"Time left"</th>
                        <th scope="col">"Lead reminded"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn LegalClockForm(comms: CommunicationData) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let aware_at = RwSignal::new(String::new());
    let hours = RwSignal::new("72".to_string());
    let remind = RwSignal::new("12".to_string());
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let Ok(deadline_hours) = hours.get_untracked().trim().parse::<i64>() else {
            error.set(Some(ApiError::invalid("deadline_hours", "Enter the deadline in whole hours, such as 72.")));
            return;
        };
        let remind_before_hours = match remind.get_untracked().trim() {
            "" => None,
            value => match value.parse::<i64>() {
                Ok(value) => Some(value),
                Err(_) => {
                    error.set(Some(ApiError::invalid("remind_before_hours", "Enter whole hours, such as 12.")));
                    return;
                }
            },
        };
        let request = NewLegalClock {
            name: name.get_untracked(),
            aware_at: aware_at.get_untracked(),
            deadline_hours,
            remind_before_hours,
        };
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::add_legal_clock(comms.number, &request).await;
            pending.set(false);
            match result {
                Ok(_) => {
                    error.set(None);
                    name.set(String::new());
                    comms.legal_clocks.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    view! {
        <form id="legal-clock-form" class="inline-form" on:submit=submit novalidate>
            <h3>"Add a legal deadline"</h3>
            <div class="field-grid">
                <TextField id="legal-clock-name" label="Deadline for" field="name" value=name error=error required=true
                    placeholder="Breach report to the regulator" />
                <TextField id="legal-clock-aware" label="Aware since" field="aware_at" value=aware_at error=error
                    required=true placeholder="2024-03-01T10:00:00Z" hint="A time with its zone, such as 2024-03-01T10:00:00Z." />
                <TextField id="legal-clock-hours" label="Hours to deadline" field="deadline_hours" value=hours error=error
                    required=true input_type="number" />
                <TextField id="legal-clock-remind" label="Remind the lead hours before" field="remind_before_hours"
                    value=remind error=error input_type="number" />
            </div>
            <FormErrorMessage id="legal-clock-error" error=error />
            <button id="legal-clock-add" type="submit" aria-disabled=move || pending.get().then_some("true")>
                "Add deadline"
            </button>
        </form>
    }
}

#[component]
pub fn CommunicationsLogSection(comms: CommunicationData) -> impl IntoView {
    view! {
        <section id="communications-section" aria-labelledby="communications-heading">
            <h2 id="communications-heading">"Communications log"</h2>
            {show_loaded(comms.log, |entries| view! { <CommunicationTable entries=entries /> })}
            <CommunicationForm comms=comms />
        </section>
    }
}

#[component]
fn CommunicationTable(entries: Vec<CommunicationEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p id="communications-empty" class="muted">"No messages yet."</p> }.into_any();
    }
    let rows = entries
        .into_iter()
        .map(|entry| {
            let delivery = match entry.delivery {
                Some(DeliveryStatus::Sent) => "Sent".to_string(),
                Some(status) => status.label().to_string(),
                None => entry.recorded_by.map(|by| format!("Recorded by {by}")).unwrap_or_default(),
            };
            view! {
                <tr data-communication=entry.key>
                    <td><LocalTime time=entry.at /></td>
                    <td>{entry.channel.label()}</td>
                    <td>{entry.sender}</td>
                    <td>{entry.recipient}</td>
                    <td>{entry.subject}</td>
                    <td>{delivery}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table id="communications">
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"Channel"</th>
                        <th scope="col">"From"</th>
                        <th scope="col">"To"</th>
                        <th scope="col">"Subject"</th>
                        <th scope="col">"Delivery"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn CommunicationForm(comms: CommunicationData) -> impl IntoView {
    let channel = RwSignal::new(Channel::Phone.as_str().to_string());
    let recipient = RwSignal::new(String::new());
    let subject = RwSignal::new(String::new());
    let content = RwSignal::new(String::new());
    let occurred_at = RwSignal::new(String::new());
    let error: FormError = RwSignal::new(None);
    let redacted = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let Some(channel) = Channel::parse(&channel.get_untracked()) else {
            error.set(Some(ApiError::invalid("channel", "Choose how the message was sent.")));
            return;
        };
        let request = NewCommunication {
            channel,
            sender: None,
            recipient: recipient.get_untracked(),
            subject: subject.get_untracked(),
            content: content.get_untracked(),
            occurred_at: optional_text(&occurred_at.get_untracked()),
        };
        pending.set(true);
        redacted.set(None);
        leptos::task::spawn_local(async move {
            let result = api::record_communication(comms.number, &request).await;
            pending.set(false);
            match result {
                Ok(entry) => {
                    error.set(None);
                    redacted.set(redaction_notice(&entry.redactions));
                    recipient.set(String::new());
                    subject.set(String::new());
                    content.set(String::new());
                    comms.log.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    let channel_options = Channel::ALL.iter().map(|c| (c.as_str(), c.label())).collect();
    view! {
        <form id="communication-form" class="inline-form" on:submit=submit novalidate>
            <h3>"Record a message sent outside Rekey"</h3>
            <div class="field-grid">
                <SelectField id="communication-channel" label="Channel" field="channel" options=channel_options
                    value=channel error=error />
                <TextField id="communication-recipient" label="To" field="recipient" value=recipient error=error
                    required=true />
                <TextField id="communication-subject" label="Subject" field="subject" value=subject error=error
                    required=true />
                <TextField id="communication-occurred" label="When" field="occurred_at" value=occurred_at
                    error=error placeholder="2024-03-01T10:00:00Z" hint="Leave empty for now." />
            </div>
            <div class="field">
                <label for="communication-content">"Content"</label>
                <textarea id="communication-content" name="content" rows="3" bind:value=content></textarea>
            </div>
            <FormErrorMessage id="communication-error" error=error />
            <p id="communication-redacted" class="warning" role="status">{move || redacted.get()}</p>
            <button id="communication-record" type="submit" aria-disabled=move || pending.get().then_some("true")>
                "Record message"
            </button>
        </form>
    }
}
