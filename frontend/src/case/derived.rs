//! Credentials that Rekey proposed from the trail, waiting for an analyst to confirm them.

use leptos::prelude::*;
use rekey_types::Credential;

use super::CaseData;
use crate::api;
use crate::time::LocalTime;

/// Lists the proposed credentials with a button to confirm each. The section is absent while
/// there are none.
#[component]
pub fn ProposedCredentialsSection(data: CaseData) -> impl IntoView {
    let proposed = move || {
        data.credentials
            .get()
            .and_then(Result::ok)
            .map(|credentials| credentials.into_iter().filter(|c| c.proposed).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let outcome = RwSignal::new(None::<Result<String, String>>);

    move || {
        let proposed = proposed();
        if proposed.is_empty() && outcome.get().is_none() {
            return None;
        }
        let rows = proposed
            .into_iter()
            .map(|credential| view! { <ProposedRow data=data credential=credential outcome=outcome /> })
            .collect_view();
        let status = move || match outcome.get() {
            Some(Ok(message)) => view! { <p class="success">{message}</p> }.into_any(),
            Some(Err(message)) => view! { <p class="form-error" role="alert">{message}</p> }.into_any(),
            None => ().into_any(),
        };
        Some(view! {
            <section id="proposed-section" aria-labelledby="proposed-heading">
                <h2 id="proposed-heading">"Proposed credentials"</h2>
                <p class="hint">
                    "Credentials that calls of this case's credentials created. Confirm one to \
                     add the calls it made from the compromise time on; confirming it may \
                     propose the credentials it created in turn."
                </p>
                <div id="proposed-status" aria-live="polite">{status}</div>
                <div class="table-wrap">
                    <table id="proposed-credentials">
                        <thead>
                            <tr>
                                <th scope="col">"Access key id"</th>
                                <th scope="col">"Kind"</th>
                                <th scope="col">"Principal"</th>
                                <th scope="col">"Created by"</th>
                                <th scope="col">"Proposed"</th>
                                <th scope="col"><span class="visually-hidden">"Action"</span></th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </section>
        })
    }
}

#[component]
fn ProposedRow(
    data: CaseData,
    credential: Credential,
    outcome: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let pending = RwSignal::new(false);
    let id = credential.id;
    let name = credential
        .access_key_id
        .clone()
        .or(credential.principal_name.clone())
        .unwrap_or_else(|| format!("#{id}"));
    let creator = credential
        .derived_from
        .map(|creator| format!("credential #{creator}"))
        .unwrap_or_default();

    let confirm = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        let name = name.clone();
        leptos::task::spawn_local(async move {
            let result = api::confirm_credential(data.number, id).await;
            pending.set(false);
            match result {
                Ok(confirmation) => {
                    let mut text = format!(
                        "Confirmed {name}: {} call(s) added, {} finding(s), {} new credential(s) proposed.",
                        confirmation.events_added,
                        confirmation.findings_added,
                        confirmation.credentials_proposed
                    );
                    if !confirmation.skipped.is_empty() {
                        text.push_str(&format!(" Damaged parts of the trail files were skipped: {}.", confirmation.skipped.join("; ")));
                    }
                    outcome.set(Some(Ok(text)));
                    data.credentials.refetch();
                    data.findings.refetch();
                    // The confirmed credential can now be contained, and its calls may name
                    // resources or use it after containment.
                    data.containment.refetch();
                    data.resources.refetch();
                    data.case.refetch();
                }
                Err(error) => outcome.set(Some(Err(error.message().to_string()))),
            }
        });
    };

    view! {
        <tr data-proposed=id>
            <td><code>{credential.access_key_id.unwrap_or_default()}</code></td>
            <td>{credential.kind.label()}</td>
            <td>{credential.principal_name.unwrap_or_default()}</td>
            <td>{creator}</td>
            <td><LocalTime time=credential.created_at /></td>
            <td>
                <button
                    type="button"
                    class="confirm-credential"
                    on:click=confirm
                    aria-disabled=move || pending.get().then_some("true")
                >
                    "Confirm"
                </button>
            </td>
        </tr>
    }
}
