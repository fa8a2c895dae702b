//! `/dashboard`: open cases by phase and severity, overdue status updates, and the time to
//! contain and recover of closed cases over time.

use leptos::prelude::*;
use rekey_types::{format_duration, ClosedCaseTimes, Dashboard, Phase, Severity};

use crate::api;
use crate::set_title;
use crate::time::LocalTime;
use crate::widgets::{LoadError, Loading, SeverityBadge};

#[component]
pub fn DashboardPage() -> impl IntoView {
    set_title("Dashboard");
    let board = LocalResource::new(api::dashboard);
    view! {
        <h1>"Dashboard"</h1>
        {move || match board.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(error)) => view! { <LoadError error=error /> }.into_any(),
            Some(Ok(board)) => view! { <DashboardBody board=board /> }.into_any(),
        }}
    }
}

#[component]
fn DashboardBody(board: Dashboard) -> impl IntoView {
    let open_phases: Vec<Phase> = Phase::ALL.iter().copied().filter(|p| *p != Phase::PostIncident && *p != Phase::Closed).collect();
    let header = Severity::ALL
        .iter()
        .map(|severity| view! { <th scope="col">{severity.as_str()}</th> })
        .collect_view();
    let rows = open_phases
        .iter()
        .map(|phase| {
            let cells = Severity::ALL
                .iter()
                .map(|severity| {
                    let count = board
                        .open_cases
                        .iter()
                        .find(|c| c.phase == *phase && c.severity == *severity)
                        .map_or(0, |c| c.cases);
                    view! { <td data-phase=phase.as_str() data-severity=severity.as_str()>{count}</td> }
                })
                .collect_view();
            view! { <tr><th scope="row">{phase.label()}</th>{cells}</tr> }
        })
        .collect_view();

    let overdue = if board.overdue_updates.is_empty() {
        view! { <p id="dashboard-no-overdue">"No status update is overdue."</p> }.into_any()
    } else {
        let items = board
            .overdue_updates
            .iter()
            .map(|case| view! {
                <li>
                    <a href=format!("/cases/{}", case.number)>{case.reference.clone()}</a> " " {case.title.clone()} " "
                    <SeverityBadge severity=case.severity /> " · due " <LocalTime time=case.due_at />
                </li>
            })
            .collect_view();
        view! { <ul id="dashboard-overdue">{items}</ul> }.into_any()
    };

    view! {
        <section aria-labelledby="open-heading">
            <h2 id="open-heading">"Open cases: " <span id="dashboard-open-total">{board.open_total}</span></h2>
            <table id="dashboard-open">
                <thead><tr><th scope="col">"Phase"</th>{header}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
        <section aria-labelledby="overdue-heading">
            <h2 id="overdue-heading">"Overdue status updates"</h2>
            {overdue}
        </section>
        <section aria-labelledby="times-heading">
            <h2 id="times-heading">"Time to contain and recover"</h2>
            <p class="hint">
                "Closed cases in the order they reached the post-incident phase. Time to contain runs from \
                 opening the case to the end of containment, time to recover to the end of recovery."
            </p>
            <TimesChart cases=board.closed_cases.clone() />
            <TimesTable cases=board.closed_cases />
        </section>
    }
}

const CHART_WIDTH: f64 = 640.0;
const CHART_HEIGHT: f64 = 220.0;
const CHART_LEFT: f64 = 56.0;
const CHART_BOTTOM: f64 = 28.0;

/// Two bars per closed case, time to contain and time to recover, in hours.
#[component]
fn TimesChart(cases: Vec<ClosedCaseTimes>) -> impl IntoView {
    if cases.is_empty() {
        return view! { <p id="dashboard-no-closed">"No case has been closed yet."</p> }.into_any();
    }
    let hours = |seconds: Option<i64>| seconds.unwrap_or(0).max(0) as f64 / 3600.0;
    let top = cases
        .iter()
        .flat_map(|c| [hours(c.seconds_to_contain), hours(c.seconds_to_recover)])
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let plot_height = CHART_HEIGHT - CHART_BOTTOM - 8.0;
    let slot = (CHART_WIDTH - CHART_LEFT) / cases.len() as f64;
    let bar = (slot / 3.0).min(28.0);
    let bars = cases
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let x = CHART_LEFT + slot * index as f64 + slot / 2.0 - bar;
            let contain = hours(case.seconds_to_contain) / top * plot_height;
            let recover = hours(case.seconds_to_recover) / top * plot_height;
            let base = CHART_HEIGHT - CHART_BOTTOM;
            view! {
                <g>
                    <rect class="bar-contain" x=x y=base - contain width=bar height=contain>
                        <title>{format!("{}: contained in {}", case.reference, case.seconds_to_contain.map(format_duration).unwrap_or_default())}</title>
                    </rect>
                    <rect class="bar-recover" x=x + bar y=base - recover width=bar height=recover>
                        <title>{format!("{}: recovered in {}", case.reference, case.seconds_to_recover.map(format_duration).unwrap_or_default())}</title>
                    </rect>
                    <text x=x + bar y=CHART_HEIGHT - 8.0 text-anchor="middle" class="axis-label">{case.reference.clone()}</text>
                </g>
            }
        })
        .collect_view();
    view! {
        <svg id="dashboard-chart" class="chart" viewBox=format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}") role="img"
            aria-label="Time to contain and time to recover of closed cases, in hours">
            <line x1=CHART_LEFT y1="8" x2=CHART_LEFT y2=CHART_HEIGHT - CHART_BOTTOM class="axis" />
            <line x1=CHART_LEFT y1=CHART_HEIGHT - CHART_BOTTOM x2=CHART_WIDTH y2=CHART_HEIGHT - CHART_BOTTOM class="axis" />
            <text x="4" y="16" class="axis-label">{format!("{top:.1} h")}</text>
            <text x="4" y=CHART_HEIGHT - CHART_BOTTOM class="axis-label">"0 h"</text>
            {bars}
        </svg>
        <p class="legend"><span class="swatch bar-contain"></span>" Time to contain " <span class="swatch bar-recover"></span>" Time to recover"</p>
    }
    .into_any()
}

#[component]
fn TimesTable(cases: Vec<ClosedCaseTimes>) -> impl IntoView {
    let rows = cases
        .into_iter()
        .map(|case| {
            let duration = |seconds: Option<i64>| seconds.map(format_duration).unwrap_or_else(|| "–".to_string());
            view! {
                <tr>
                    <td><a href=format!("/cases/{}/report", case.number)>{case.reference}</a> " " {case.title}</td>
                    <td><SeverityBadge severity=case.severity /></td>
                    <td><LocalTime time=case.closed_at /></td>
                    <td>{duration(case.seconds_to_contain)}</td>
                    <td>{duration(case.seconds_to_recover)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table id="dashboard-closed">
            <thead>
                <tr>
                    <th scope="col">"Case"</th><th scope="col">"Severity"</th><th scope="col">"Closed"</th>
                    <th scope="col">"Time to contain"</th><th scope="col">"Time to recover"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
