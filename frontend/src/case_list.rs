//! `/`: all cases, newest first.

use leptos::prelude::*;
use rekey_types::Case;

use crate::api;
use crate::time::LocalTime;
use crate::widgets::{LoadError, Loading, SeverityBadge};
use crate::{set_title, use_session};

#[component]
pub fn CaseListPage() -> impl IntoView {
    set_title("Cases");
    let session = use_session();
    let cases = LocalResource::new(api::cases);
    // Hidden until the session check returns, so a reader never sees a button that fails.
    let can_create = move || session.role().is_some_and(|role| role.can_create_cases());
    // Numbers of the cases whose status update is overdue. A failed request leaves it empty,
    // because the flag is only a hint and the case page shows the schedule itself.
    let overdue = LocalResource::new(|| async {
        let list = api::overdue_updates().await.unwrap_or_default();
        list.into_iter().map(|update| update.case_number).collect::<Vec<i64>>()
    });

    view! {
        <div class="page-heading">
            <h1>"Cases"</h1>
            <Show when=can_create>
                <a id="new-case" class="button" href="/cases/new">"New case"</a>
            </Show>
        </div>
        {move || match cases.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(error)) => view! { <LoadError error=error /> }.into_any(),
            Some(Ok(cases)) if cases.is_empty() => {
                let text = if can_create() {
                    "No cases yet. Open one with New case."
                } else {
                    "No cases you can read yet."
                };
                view! { <p id="cases-empty">{text}</p> }.into_any()
            }
            Some(Ok(cases)) => {
                let overdue = overdue.get().unwrap_or_default();
                view! { <CaseTable cases=cases overdue=overdue /> }.into_any()
            }
        }}
    }
}

#[component]
fn CaseTable(cases: Vec<Case>, overdue: Vec<i64>) -> impl IntoView {
    let rows = cases
        .into_iter()
        .map(|case| {
            let href = format!("/cases/{}", case.number);
            let is_overdue = overdue.contains(&case.number);
            view! {
                <tr data-case=case.number>
                    <td><a href=href.clone()>{case.reference}</a></td>
                    <td>
                        <a href=href>{case.title}</a>
                        {is_overdue.then(|| view! { " " <span class="badge overdue">"Status update overdue"</span> })}
                    </td>
                    <td><SeverityBadge severity=case.severity /></td>
                    <td>{case.phase.label()}</td>
                    <td class="number">{case.credential_count}</td>
                    <td class="number">{case.finding_count}</td>
                    <td><LocalTime time=case.updated_at /></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table id="cases">
            <thead>
                <tr>
                    <th scope="col">"Case"</th>
                    <th scope="col">"Title"</th>
                    <th scope="col">"Severity"</th>
                    <th scope="col">"Phase"</th>
                    <th scope="col" class="number">"Credentials"</th>
                    <th scope="col" class="number">"Findings"</th>
                    <th scope="col">"Updated"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
