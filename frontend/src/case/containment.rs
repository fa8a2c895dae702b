//! Containment of the case's leaked credentials: an alert when a credential was used after
//! containment, and per credential its status history, containment actions and verification
//! window, with forms to change the status and record an action.

use leptos::prelude::*;
use rekey_types::{
    ContainmentKind, ContainmentResult, CredentialContainment, CredentialStatus,
    CredentialStatusUpdate, NewContainmentAction, VerificationState,
};

use super::recovery::error_view;
use super::{show_loaded, CaseData};
use crate::api::{self, ApiError};
use crate::forms::optional_text;
use crate::time::{format_local, LocalTime};

/// Banner above the case's sections naming each credential that a trail event used after its
/// containment.
#[component]
pub fn ContainmentAlert(data: CaseData) -> impl IntoView {
    let used = move || {
        data.containment
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .filter(|item| item.verification.state == VerificationState::UsedAfterContainment)
            .collect::<Vec<_>>()
    };
    move || {
        let used = used();
        if used.is_empty() {
            return None;
        }
        let lines = used
            .into_iter()
            .map(|item| {
                let verification = item.verification;
                let first = verification.first_use_after.map(format_local).unwrap_or_default();
                let contained = verification.contained_at.map(format_local).unwrap_or_default();
                view! {
                    <li>
                        <strong>{item.label}</strong>
                        {format!(
                            ": {} trail event(s) after containment at {contained}, {} of them succeeded; first at {first}.",
                            verification.events_after, verification.succeeded_after
                        )}
                    </li>
                }
            })
            .collect_view();
        Some(view! {
            <div id="containment-alert" class="notice error" role="alert">
                <strong>"Credential used after containment."</strong>
                " Contain it again and check what the calls did."
                <ul>{lines}</ul>
            </div>
        })
    }
}

#[component]
pub fn ContainmentSection(data: CaseData) -> impl IntoView {
    view! {
        <section id="containment-section" aria-labelledby="containment-heading">
            <h2 id="containment-heading">"Containment"</h2>
            {show_loaded(data.containment, move |items| {
                if items.is_empty() {
                    return view! { <p id="containment-empty" class="muted">"Add a leaked credential to contain it."</p> }.into_any();
                }
                items
                    .into_iter()
                    .map(|item| view! { <CredentialCard data=data item=item /> })
                    .collect_view()
                    .into_any()
            })}
        </section>
    }
}

fn verification_text(item: &CredentialContainment) -> String {
    let verification = &item.verification;
    let ends = verification
        .window_ends_at
        .map(format_local)
        .unwrap_or_default();
    match verification.state {
        VerificationState::NotContained => "No containment action yet.".to_string(),
        VerificationState::Watching => format!(
            "Verification window ({} min) runs until {ends}; no use seen so far.",
            verification.window_minutes
        ),
        VerificationState::Passed => {
            format!("Verification window ended {ends} with no use after containment.")
        }
        VerificationState::UsedAfterContainment => format!(
            "Used after containment: {} trail event(s), {} succeeded.",
            verification.events_after, verification.succeeded_after
        ),
    }
}

#[component]
fn CredentialCard(data: CaseData, item: CredentialContainment) -> impl IntoView {
    let history = item
        .history
        .iter()
        .map(|change| {
            let from = change
                .from_status
                .map(|status| format!("{} → ", status.label()))
                .unwrap_or_default();
            let note = (!change.note.is_empty()).then(|| format!(" ({})", change.note));
            view! {
                <li>
                    {from}<strong>{change.to_status.label()}</strong>{note}
                    " by "{change.changed_by.clone()}", "<LocalTime time=change.changed_at />
                </li>
            }
        })
        .collect_view();
    let actions = item
        .actions
        .iter()
        .map(|action| {
            view! {
                <tr class="containment-action" data-action=action.id>
                    <td>{action.kind.label()}</td>
                    <td>{action.performed_by.clone()}</td>
                    <td><LocalTime time=action.performed_at /></td>
                    <td>{action.authorised_by.clone()}</td>
                    <td>{action.result.label()}</td>
                    <td>{if action.reversible { "Yes" } else { "No" }}</td>
                    <td>{action.notes.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let state_class = format!(
        "verification verification-{}",
        item.verification.state.as_str()
    );
    // A closure, so that the text follows a change of the time-zone preference.
    let verification = {
        let item = item.clone();
        move || verification_text(&item)
    };
    let (credential_id, status) = (item.credential_id, item.status);
    let (label, kind) = (item.label.clone(), item.kind);

    view! {
        <div class="containment-credential" data-credential=credential_id data-status=status.as_str()>
            <h3>
                <code>{label}</code>
                " "
                <span class="muted">{kind.label()}</span>
                " "
                <span class="credential-status">{status.label()}</span>
            </h3>
            <p class=state_class>{verification}</p>
            <h4>"Status history"</h4>
            <ul class="status-history">{history}</ul>
            <StatusForm data=data item=item.clone() />
            <h4>"Containment actions"</h4>
            <div class="table-wrap">
                <table class="containment-actions">
                    <thead>
                        <tr>
                            <th scope="col">"Action"</th>
                            <th scope="col">"Performed by"</th>
                            <th scope="col">"When"</th>
                            <th scope="col">"Authorised by"</th>
                            <th scope="col">"Result"</th>
                            <th scope="col">"Reversible"</th>
                            <th scope="col">"Notes"</th>
                        </tr>
                    </thead>
                    <tbody>{actions}</tbody>
                </table>
            </div>
            <ActionForm data=data item=item />
        </div>
    }
}

#[component]
fn StatusForm(data: CaseData, item: CredentialContainment) -> impl IntoView {
    let id = item.credential_id;
    let version = item.version;
    let status = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);
    let options = CredentialStatus::ALL
        .iter()
        .filter(|candidate| **candidate != item.status)
        .map(|candidate| view! { <option value=candidate.as_str()>{candidate.label()}</option> })
        .collect_view();

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let Some(target) = CredentialStatus::parse(&status.get_untracked()) else {
            error.set(Some(ApiError::invalid("status", "Choose the new status.")));
            return;
        };
        let body = CredentialStatusUpdate {
            status: target,
            version,
            note: note.get_untracked(),
        };
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::change_credential_status(data.number, id, &body).await;
            pending.set(false);
            match result {
                Ok(_) => {
                    error.set(None);
                    data.containment.refetch();
                    data.credentials.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    view! {
        <form class="inline-form status-form" on:submit=submit novalidate>
            <label>
                "New status "
                <select class="status-select" bind:value=status>
                    <option value="">"Choose…"</option>
                    {options}
                </select>
            </label>
            " "
            <label>"Note " <input type="text" class="status-note" bind:value=note /></label>
            " "
            <button type="submit" class="status-submit" aria-disabled=move || pending.get().then_some("true")>
                "Change status"
            </button>
            {error_view(error, move || data.containment.refetch())}
        </form>
    }
}

#[component]
fn ActionForm(data: CaseData, item: CredentialContainment) -> impl IntoView {
    let id = item.credential_id;
    let kinds = item.action_kinds.clone();
    let kind = RwSignal::new(
        kinds
            .first()
            .map(|k| k.as_str().to_string())
            .unwrap_or_default(),
    );
    let performed_by = RwSignal::new(String::new());
    let performed_at = RwSignal::new(String::new());
    let authorised_by = RwSignal::new(String::new());
    let result = RwSignal::new(ContainmentResult::Succeeded.as_str().to_string());
    let reversible = RwSignal::new(false);
    let notes = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);

    let kind_options = kinds
        .iter()
        .map(|k| view! { <option value=k.as_str()>{k.label()}</option> })
        .collect_view();
    let result_options = ContainmentResult::ALL
        .iter()
        .map(|r| view! { <option value=r.as_str()>{r.label()}</option> })
        .collect_view();
    let warning =
        move || kind.with(|k| ContainmentKind::parse(k).and_then(ContainmentKind::warning));

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let (Some(kind), Some(outcome)) = (
            ContainmentKind::parse(&kind.get_untracked()),
            ContainmentResult::parse(&result.get_untracked()),
        ) else {
            error.set(Some(ApiError::invalid(
                "kind",
                "Choose the action and its result.",
            )));
            return;
        };
        let body = NewContainmentAction {
            kind,
            performed_by: optional_text(&performed_by.get_untracked()),
            performed_at: optional_text(&performed_at.get_untracked()),
            authorised_by: authorised_by.get_untracked(),
            result: outcome,
            notes: notes.get_untracked(),
            reversible: reversible.get_untracked(),
        };
        pending.set(true);
        leptos::task::spawn_local(async move {
            let outcome = api::add_containment_action(data.number, id, &body).await;
            pending.set(false);
            match outcome {
                Ok(_) => {
                    error.set(None);
                    data.containment.refetch();
                    data.credentials.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    view! {
        <form class="inline-form action-form" on:submit=submit novalidate>
            <h4>"Record a containment action"</h4>
            <div class="field-grid">
                <label>"Action " <select class="action-kind" bind:value=kind>{kind_options}</select></label>
                <label>"Performed by (default: you) " <input type="text" class="action-performed-by" bind:value=performed_by /></label>
                <label>
                    "Performed at (default: now), with zone "
                    <input type="text" class="action-performed-at" placeholder="2023-07-10T12:40:00+02:00" bind:value=performed_at />
                </label>
                <label>"Authorised by " <input type="text" class="action-authorised-by" bind:value=authorised_by /></label>
                <label>"Result " <select class="action-result" bind:value=result>{result_options}</select></label>
                <label><input type="checkbox" class="action-reversible" bind:checked=reversible />" Can be undone"</label>
                <label>"Notes " <input type="text" class="action-notes" bind:value=notes /></label>
            </div>
            {move || warning().map(|text| view! { <p class="notice action-warning" role="note">{text}</p> })}
            <button type="submit" class="action-submit" aria-disabled=move || pending.get().then_some("true")>
                "Record action"
            </button>
            {error_view(error, move || data.containment.refetch())}
        </form>
    }
}
