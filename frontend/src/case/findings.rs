//! Eradication findings of a case, ordered by event time.

use leptos::prelude::*;
use rekey_types::Finding;

use super::{show_loaded, CaseData};
use crate::time::LocalTime;

#[component]
pub fn FindingsSection(data: CaseData) -> impl IntoView {
    view! {
        <section id="findings-section" aria-labelledby="findings-heading">
            <h2 id="findings-heading">"Findings"</h2>
            {show_loaded(data.findings, |findings| view! { <FindingTable findings=findings /> })}
        </section>
    }
}

#[component]
fn FindingTable(findings: Vec<Finding>) -> impl IntoView {
    let empty = findings.is_empty();
    let rows = findings
        .into_iter()
        .map(|finding| {
            // A failed call is listed as an attempt, because it shows what the attacker tried.
            let outcome = match finding.error_code {
                None => view! { <span class="outcome-succeeded">"succeeded"</span> }.into_any(),
                Some(code) => view! {
                    <span class="outcome-failed">"attempt, failed: "<code>{code}</code></span>
                }
                .into_any(),
            };
            let service = match finding.region {
                Some(region) => format!("{} ({region})", finding.event_source),
                None => finding.event_source,
            };
            view! {
                <tr
                    class="finding"
                    class:attempt=finding.attempt
                    data-finding=finding.id
                    data-event-id=finding.event_id
                >
                    <td><LocalTime time=finding.event_time /></td>
                    <td><code>{finding.event_name}</code></td>
                    <td>{service}</td>
                    <td>{finding.source_ip.unwrap_or_default()}</td>
                    <td class="resource" title=finding.resources.join("\n")>
                        {finding.resource.unwrap_or_default()}
                        {(finding.resources.len() > 1)
                            .then(|| format!(" (+{} more)", finding.resources.len() - 1))}
                    </td>
                    <td>{outcome}</td>
                    <td>{finding.rule}</td>
                    <td>{finding.category.label()}</td>
                    <td class="severity">{finding.severity.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table id="findings">
                <thead>
                    <tr>
                        <th scope="col">"Time (UTC)"</th>
                        <th scope="col">"Call"</th>
                        <th scope="col">"Service"</th>
                        <th scope="col">"Source IP"</th>
                        <th scope="col">"Resource"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Rule"</th>
                        <th scope="col">"Category"</th>
                        <th scope="col">"Severity"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {empty.then(|| {
            view! { <p id="findings-empty" class="muted">"No findings yet. Import a trail to find the calls made with this case's credentials."</p> }
        })}
    }
}
