//! `/admin/integrity`: an administrator checks the audit chain and every evidence file, and
//! reads the latest audit entries.

use leptos::prelude::*;
use rekey_types::IntegrityReport;

use crate::api::{self, ApiError};
use crate::set_title;
use crate::time::LocalTime;
use crate::widgets::show_loaded;

#[component]
pub fn IntegrityPage() -> impl IntoView {
    set_title("Integrity");
    let result = RwSignal::new(None::<Result<IntegrityReport, ApiError>>);
    let pending = RwSignal::new(false);
    let entries = LocalResource::new(api::audit_entries);

    let verify = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        leptos::task::spawn_local(async move {
            result.set(Some(api::integrity().await));
            pending.set(false);
        });
    };

    let outcome = move || {
        result.get().map(|outcome| match outcome {
            Err(error) => view! { <p class="form-error" role="alert">{error.detail.message}</p> }.into_any(),
            Ok(report) => {
                let audit = match report.audit.first_break {
                    None => view! {
                        <p class="success">{format!("Audit log intact: {} rows checked.", report.audit.rows_checked)}</p>
                    }
                    .into_any(),
                    Some(broken) => view! {
                        <p class="notice error">
                            {format!("Audit log broken at row {}: {}", broken.row_id, broken.reason)}
                        </p>
                    }
                    .into_any(),
                };
                let evidence = match report.first_evidence_break {
                    None => view! {
                        <p class="success">{format!("Evidence intact: {} files checked.", report.evidence_checked)}</p>
                    }
                    .into_any(),
                    Some(broken) => view! {
                        <p class="notice error">
                            {format!(
                                "Evidence {} does not match its hash: expected {}, found {}.",
                                broken.evidence_id,
                                broken.expected_sha256,
                                broken.actual_sha256.unwrap_or_else(|| "no stored file".to_string())
                            )}
                        </p>
                    }
                    .into_any(),
                };
                view! { <div id="integrity-result" role="status">{audit}{evidence}</div> }.into_any()
            }
        })
    };

    view! {
        <h1>"Integrity"</h1>
        <p>
            "Each audit row carries the hash of the row before it, and each evidence file is stored \
             under its SHA-256. The check walks the whole chain and re-hashes every file, as "
            <code>"rekey verify"</code> " does."
        </p>
        <button id="integrity-verify" type="button" on:click=verify aria-disabled=move || pending.get().then_some("true")>
            {move || if pending.get() { "Checking…" } else { "Check now" }}
        </button>
        {outcome}
        <h2>"Latest audit entries"</h2>
        {show_loaded(entries, |entries| {
            let rows = entries
                .into_iter()
                .map(|entry| view! {
                    <tr>
                        <td>{entry.id}</td>
                        <td><LocalTime time=entry.occurred_at /></td>
                        <td>{entry.actor}</td>
                        <td>{entry.action}</td>
                        <td>{entry.entity_type} " " {entry.entity_id.unwrap_or_default()}</td>
                        <td>{entry.case_number.map(rekey_types::case_reference)}</td>
                    </tr>
                })
                .collect_view();
            view! {
                <table id="audit-table">
                    <thead><tr>
                        <th scope="col">"Row"</th><th scope="col">"Time"</th><th scope="col">"Actor"</th>
                        <th scope="col">"Action"</th><th scope="col">"Record"</th><th scope="col">"Case"</th>
                    </tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            }
        })}
    }
}
