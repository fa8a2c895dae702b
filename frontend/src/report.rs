//! `/cases/{number}/report`: the post-incident report, laid out for reading and printing, with
//! the lessons-learned form and the PDF and Markdown exports.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use rekey_types::{
    format_duration, parse_case_reference, CaseRole, ImprovementInput, ImprovementStatus, LessonsInput, LessonsLearned,
    Report,
};

use crate::api::{self, ApiError};
use crate::set_title;
use crate::time::LocalTime;
use crate::widgets::{LoadError, Loading};

#[component]
pub fn ReportPage() -> impl IntoView {
    let params = use_params_map();
    let number = Memo::new(move |_| params.with(|p| p.get("number").and_then(|value| parse_case_reference(&value))));
    move || match number.get() {
        Some(number) => view! { <ReportView number=number /> }.into_any(),
        None => view! { <h1>"Case not found"</h1> }.into_any(),
    }
}

#[component]
fn ReportView(number: i64) -> impl IntoView {
    set_title(&format!("Report {}", rekey_types::case_reference(number)));
    let report = LocalResource::new(move || api::report(number));
    move || match report.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(error)) => view! { <LoadError error=error /> }.into_any(),
        Some(Ok(loaded)) => view! { <ReportBody report=loaded reload=report /> }.into_any(),
    }
}

fn or_not_recorded(text: &str) -> String {
    if text.trim().is_empty() {
        "Not recorded.".to_string()
    } else {
        text.to_string()
    }
}

#[component]
fn ReportBody(report: Report, reload: LocalResource<api::ApiResult<Report>>) -> impl IntoView {
    let case = report.case.clone();
    let number = case.number;
    let can_write = case.my_role.is_some_and(CaseRole::can_write) && case.shared_sections.is_none();
    let is_lead = case.my_role == Some(CaseRole::Lead) && case.shared_sections.is_none();
    let print = move |_| {
        let _ = window().print();
    };

    let times = report
        .times
        .iter()
        .map(|time| {
            let value = time.seconds.map(format_duration).unwrap_or_else(|| "not yet measurable".to_string());
            view! {
                <tr>
                    <th scope="row">{time.name.clone()}</th>
                    <td class="response-time">{value}</td>
                    <td>{time.definition.clone()}</td>
                </tr>
            }
        })
        .collect_view();

    let credentials = if report.containment.is_empty() {
        view! { <p>"No credential was recorded."</p> }.into_any()
    } else {
        report
            .containment
            .iter()
            .map(|credential| {
                let history = credential
                    .history
                    .iter()
                    .map(|change| view! {
                        <li><LocalTime time=change.changed_at /> " " {change.to_status.label()} " by " {change.changed_by.clone()}</li>
                    })
                    .collect_view();
                let actions = credential
                    .actions
                    .iter()
                    .map(|action| view! {
                        <li>
                            <LocalTime time=action.performed_at /> " " {action.kind.label()} " by " {action.performed_by.clone()}
                            ", authorised by " {action.authorised_by.clone()} ": " {action.result.label()}
                        </li>
                    })
                    .collect_view();
                let proposed = report
                    .credentials
                    .iter()
                    .any(|c| c.id == credential.credential_id && c.proposed);
                let state = if proposed { "proposed from the trail, not confirmed" } else { credential.status.label() };
                let verification = &credential.verification;
                let use_after = (verification.events_after > 0)
                    .then(|| view! { <p class="notice error">{format!("{} use(s) after containment", verification.events_after)}</p> });
                view! {
                    <article class="report-credential">
                        <h3>{credential.label.clone()} " · " {state}</h3>
                        <ul>{history}{actions}</ul>
                        <p>"Verification window: " {verification.state.label()}</p>
                        {use_after}
                    </article>
                }
            })
            .collect_view()
            .into_any()
    };

    let findings = if report.finding_total == 0 {
        view! { <p>"No findings were recorded."</p> }.into_any()
    } else {
        let rows = report
            .findings_by_category
            .iter()
            .map(|count| view! { <tr><th scope="row">{count.category.label()}</th><td>{count.findings}</td><td>{count.attempts}</td></tr> })
            .collect_view();
        view! {
            <table>
                <thead><tr><th scope="col">"Category"</th><th scope="col">"Findings"</th><th scope="col">"Failed attempts"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };

    let impacts = if report.impacts.is_empty() {
        view! { <p>"Impact has not been assessed."</p> }.into_any()
    } else {
        let items = report
            .impacts
            .iter()
            .map(|impact| view! { <li><strong>{impact.kind.label()}</strong> ": " {impact.description.clone()}</li> })
            .collect_view();
        view! { <ul>{items}</ul> }.into_any()
    };

    let resources = if report.resources.is_empty() {
        view! { <p>"No affected resource was recorded."</p> }.into_any()
    } else {
        let items = report
            .resources
            .iter()
            .map(|resource| {
                let recovery = resource
                    .recovery_actions
                    .iter()
                    .map(|action| format!("{} ({})", action.kind.label(), action.status.label()))
                    .collect::<Vec<_>>()
                    .join(", ");
                view! {
                    <li>
                        <code>{resource.resource_type.clone()} " " {resource.resource_id.clone()}</code>
                        {resource.owner_name.clone().map(|owner| format!(" · owner {owner}"))}
                        {(!recovery.is_empty()).then(|| format!(" · recovery: {recovery}"))}
                    </li>
                }
            })
            .collect_view();
        view! { <ul>{items}</ul> }.into_any()
    };

    let communications = if report.communications.is_empty() {
        view! { <p>"No message was sent or recorded."</p> }.into_any()
    } else {
        let items = report
            .communications
            .iter()
            .map(|message| view! {
                <li><LocalTime time=message.at /> " " {message.channel.label()} " to " {message.recipient.clone()} ": " {message.subject.clone()}</li>
            })
            .collect_view();
        view! { <ul>{items}</ul> }.into_any()
    };

    let timeline = report
        .timeline
        .iter()
        .map(|entry| view! { <li><LocalTime time=entry.at /> " " {entry.title.clone()}</li> })
        .collect_view();

    let evidence = if report.evidence.is_empty() {
        view! { <p>"No evidence was kept."</p> }.into_any()
    } else {
        let items = report
            .evidence
            .iter()
            .map(|item| view! { <li>{item.original_name.clone()} " · SHA-256 " <code class="hash">{item.sha256.clone()}</code></li> })
            .collect_view();
        view! { <ul>{items}</ul> }.into_any()
    };

    view! {
        <article id="report" class="report">
            <p class="no-print"><a href=format!("/cases/{number}")>"Back to " {case.reference.clone()}</a></p>
            <h1 id="report-title">"Post-incident report " {case.reference.clone()} ": " {case.title.clone()}</h1>
            <div class="report-actions no-print">
                <a id="report-pdf" class="button" href=api::report_export_url(number, "pdf") rel="external" download>"Download PDF"</a>
                <a id="report-markdown" class="button secondary" href=api::report_export_url(number, "markdown") rel="external" download>"Download Markdown"</a>
                <button type="button" class="secondary" on:click=print>"Print"</button>
            </div>
            <dl class="report-facts">
                <dt>"Severity"</dt><dd>{case.severity.label()}</dd>
                <dt>"Phase"</dt><dd>{case.phase.label()}</dd>
                <dt>"Compromise time"</dt>
                <dd>{case.compromise_time.map(|time| view! { <LocalTime time=time /> }.into_any()).unwrap_or_else(|| "Not recorded".into_any())}</dd>
                <dt>"Opened"</dt><dd><LocalTime time=case.created_at /> " by " {case.created_by.clone()}</dd>
            </dl>
            <h2>"Summary"</h2>
            <p>{or_not_recorded(&case.summary)}</p>
            <h2>"Response times"</h2>
            <table id="report-times"><tbody>{times}</tbody></table>
            <h2>"Leaked credentials and containment"</h2>
            {credentials}
            <h2>"Findings by category"</h2>
            {findings}
            <h2>"Impact"</h2>
            {impacts}
            <h2>"Affected resources and recovery"</h2>
            {resources}
            {(report.resources_total > report.resources.len() as i64).then(|| view! {
                <p class="hint">{format!("{} more affected resources are listed on the case page.", report.resources_total - report.resources.len() as i64)}</p>
            })}
            <h2>"Stakeholder communications"</h2>
            {communications}
            <h2>"Timeline"</h2>
            <ol class="report-timeline">{timeline}</ol>
            {(report.timeline_total > report.timeline.len() as i64).then(|| view! {
                <p class="hint">{format!("{} later entries are on the case's timeline.", report.timeline_total - report.timeline.len() as i64)}</p>
            })}
            <h2>"Evidence"</h2>
            {evidence}
            <LessonsSection number=number lessons=report.lessons.clone() can_write=can_write reload=reload />
            {is_lead.then(|| view! { <SendReport number=number /> })}
        </article>
    }
}

#[component]
fn LessonsSection(
    number: i64,
    lessons: LessonsLearned,
    can_write: bool,
    reload: LocalResource<api::ApiResult<Report>>,
) -> impl IntoView {
    let fields = [
        ("what_worked", "What worked", lessons.what_worked.clone()),
        ("what_did_not_work", "What did not work", lessons.what_did_not_work.clone()),
        ("root_cause", "Root cause", lessons.root_cause.clone()),
        ("detection_gaps", "Detection gaps", lessons.detection_gaps.clone()),
        ("forensic_findings", "Forensic findings on isolated resources", lessons.forensic_findings.clone()),
    ];
    let values: Vec<RwSignal<String>> = fields.iter().map(|(_, _, value)| RwSignal::new(value.clone())).collect();
    let cmdb = RwSignal::new(lessons.cmdb_updated);
    let error = RwSignal::new(None::<ApiError>);
    let saved = RwSignal::new(false);
    let version = lessons.version;

    let stored_values = values.clone();
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let text = |index: usize| stored_values[index].get_untracked();
        let body = LessonsInput {
            version,
            what_worked: text(0),
            what_did_not_work: text(1),
            root_cause: text(2),
            detection_gaps: text(3),
            forensic_findings: text(4),
            cmdb_updated: cmdb.get_untracked(),
        };
        leptos::task::spawn_local(async move {
            match api::save_lessons(number, &body).await {
                Ok(_) => {
                    error.set(None);
                    saved.set(true);
                    reload.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    let confirmation = match (&lessons.cmdb_confirmed_by, lessons.cmdb_confirmed_at) {
        (Some(by), Some(at)) if lessons.cmdb_updated => {
            view! { <p id="cmdb-confirmation">"CMDB update confirmed by " {by.clone()} " at " <LocalTime time=at /></p> }.into_any()
        }
        _ => view! { <p id="cmdb-confirmation">"CMDB update not confirmed."</p> }.into_any(),
    };

    let body = if can_write {
        let inputs = fields
            .iter()
            .zip(values.iter().copied())
            .map(|((field, label, _), value)| {
                let id = format!("lessons-{field}");
                view! {
                    <div class="field">
                        <label for=id.clone()>{*label}</label>
                        <textarea id=id rows="3" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))></textarea>
                    </div>
                }
            })
            .collect_view();
        view! {
            <form id="lessons-form" on:submit=save novalidate>
                {inputs}
                <label class="checkbox">
                    <input id="lessons-cmdb" type="checkbox" prop:checked=move || cmdb.get() on:change=move |ev| cmdb.set(event_target_checked(&ev)) />
                    " The CMDB has been updated"
                </label>
                {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e.detail.message}</p> })}
                {move || saved.get().then(|| view! { <p class="success" role="status">"Saved."</p> })}
                <button id="lessons-save" type="submit">"Save lessons learned"</button>
            </form>
        }
        .into_any()
    } else {
        fields
            .iter()
            .map(|(_, label, value)| view! { <h3>{*label}</h3> <p>{or_not_recorded(value)}</p> })
            .collect_view()
            .into_any()
    };

    view! {
        <section id="lessons-section" aria-labelledby="lessons-heading">
            <h2 id="lessons-heading">"Lessons learned"</h2>
            {body}
            {confirmation}
            <h3>"Improvement actions"</h3>
            <ImprovementList number=number actions=lessons.improvement_actions.clone() can_write=can_write reload=reload />
        </section>
    }
}

#[component]
fn ImprovementList(
    number: i64,
    actions: Vec<rekey_types::ImprovementAction>,
    can_write: bool,
    reload: LocalResource<api::ApiResult<Report>>,
) -> impl IntoView {
    let items = actions
        .into_iter()
        .map(|action| {
            let done = action.status == ImprovementStatus::Done;
            let mark_done = {
                let action = action.clone();
                move |_| {
                    let body = ImprovementInput {
                        description: action.description.clone(),
                        owner: action.owner.clone(),
                        due_at: action.due_at.map(|at| at.to_rfc3339()),
                        status: ImprovementStatus::Done,
                        version: Some(action.version),
                    };
                    leptos::task::spawn_local(async move {
                        if api::update_improvement(number, action.id, &body).await.is_ok() {
                            reload.refetch();
                        }
                    });
                }
            };
            view! {
                <li class="improvement">
                    {action.description.clone()} " · owner " {action.owner.clone()} " · " {action.status.label()}
                    {action.due_at.map(|at| view! { " · due " <LocalTime time=at /> })}
                    {(can_write && !done).then(|| view! { " " <button type="button" class="secondary" on:click=mark_done>"Mark done"</button> })}
                </li>
            }
        })
        .collect_view();

    let description = RwSignal::new(String::new());
    let owner = RwSignal::new(String::new());
    let due = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let due_text = due.get_untracked();
        // A date picker gives a local date and time without a zone, so the browser's offset
        // is added before sending.
        let due_at = (!due_text.is_empty()).then(|| local_input_to_rfc3339(&due_text));
        let body = ImprovementInput {
            description: description.get_untracked(),
            owner: owner.get_untracked(),
            due_at,
            status: ImprovementStatus::Open,
            version: None,
        };
        leptos::task::spawn_local(async move {
            match api::add_improvement(number, &body).await {
                Ok(_) => reload.refetch(),
                Err(failure) => error.set(Some(failure)),
            }
        });
    };
    let form = can_write.then(|| {
        view! {
            <form id="improvement-form" class="inline-form" on:submit=add novalidate>
                <div class="field">
                    <label for="improvement-description">"Action"</label>
                    <input id="improvement-description" type="text" prop:value=move || description.get()
                        on:input=move |ev| description.set(event_target_value(&ev)) />
                </div>
                <div class="field">
                    <label for="improvement-owner">"Owner"</label>
                    <input id="improvement-owner" type="text" prop:value=move || owner.get()
                        on:input=move |ev| owner.set(event_target_value(&ev)) />
                </div>
                <div class="field">
                    <label for="improvement-due">"Due"</label>
                    <input id="improvement-due" type="datetime-local" prop:value=move || due.get()
                        on:input=move |ev| due.set(event_target_value(&ev)) />
                </div>
                <button id="improvement-add" type="submit">"Add action"</button>
                {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e.detail.message}</p> })}
            </form>
        }
    });
    view! {
        <ul id="improvement-list">{items}</ul>
        {form}
    }
}

/// Turns a `datetime-local` value such as `2024-04-01T09:00` into RFC 3339 with the browser's
/// offset at that moment.
fn local_input_to_rfc3339(value: &str) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(value));
    let millis = date.get_time();
    if millis.is_nan() {
        // Sent as is, so the server names the field and the expected form.
        return value.to_string();
    }
    chrono::DateTime::from_timestamp_millis(millis as i64)
        .map(|time| time.to_rfc3339())
        .unwrap_or_else(|| value.to_string())
}

/// Lets a lead email the report's summary and link to the stakeholders who follow it.
#[component]
fn SendReport(number: i64) -> impl IntoView {
    let note = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<i64, String>>);
    let send = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let body = rekey_types::ReportSending { note: note.get_untracked() };
        leptos::task::spawn_local(async move {
            let result = api::send_report(number, &body).await;
            outcome.set(Some(result.map(|sent| sent.recipients).map_err(|e| e.detail.message)));
        });
    };
    view! {
        <section id="send-report-section" class="no-print" aria-labelledby="send-report-heading">
            <h2 id="send-report-heading">"Send to stakeholders"</h2>
            <p class="hint">"Stakeholders who follow the post-incident report get its response times, counts and root cause, with a link to this page."</p>
            <form id="send-report-form" on:submit=send novalidate>
                <div class="field">
                    <label for="send-report-note">"Message"</label>
                    <textarea id="send-report-note" rows="3" prop:value=move || note.get()
                        on:input=move |ev| note.set(event_target_value(&ev))></textarea>
                </div>
                <button id="send-report" type="submit">"Send the report"</button>
            </form>
            <div role="status">
                {move || outcome.get().map(|result| match result {
                    Ok(count) => view! { <p id="send-report-result" class="success">{format!("Sent to {count} stakeholder(s).")}</p> }.into_any(),
                    Err(message) => view! { <p id="send-report-result" class="form-error">{message}</p> }.into_any(),
                })}
            </div>
        </section>
    }
}
