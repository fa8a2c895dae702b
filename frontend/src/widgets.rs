//! Small views shared by several pages.

use leptos::prelude::*;
use rekey_types::{Phase, Severity};

use crate::api::{ApiError, ApiResult};

/// Severity as a coloured badge, such as "P1 critical".
#[component]
pub fn SeverityBadge(severity: Severity) -> impl IntoView {
    let class = format!("badge severity-{}", severity.as_str().to_ascii_lowercase());
    view! { <span class=class>{severity.label()}</span> }
}

/// The six phases as an ordered list, with the current one marked `aria-current="step"`.
#[component]
pub fn PhaseProgress(phase: Phase) -> impl IntoView {
    let current = Phase::ALL.iter().position(|p| *p == phase).unwrap_or(0);
    let steps = Phase::ALL
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let state = if index < current {
                "done"
            } else if index == current {
                "current"
            } else {
                "upcoming"
            };
            let state_text = match state {
                "done" => " (done)",
                "current" => " (current)",
                _ => "",
            };
            view! {
                <li class=state aria-current=(index == current).then_some("step")>
                    <span class="step-number" aria-hidden="true">{index + 1}</span>
                    <span class="step-label">{step.label()}</span>
                    <span class="visually-hidden">{state_text}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <ol id="phase-progress" class="phase-progress" aria-label="Response phase">
            {steps}
        </ol>
    }
}

/// Message for a request that failed while loading part of a page.
#[component]
pub fn LoadError(error: ApiError) -> impl IntoView {
    view! { <p class="notice error" role="alert">{error.detail.message}</p> }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="loading" aria-live="polite">"Loading…"</p> }
}

/// Moves keyboard focus to the element with `id`, such as a section heading with
/// `tabindex="-1"` after the button that had focus was removed. Does nothing when the element is
/// missing.
pub fn focus_element(id: &str) {
    use wasm_bindgen::JsCast;
    if let Some(element) = document()
        .get_element_by_id(id)
        .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = element.focus();
    }
}

/// Shows the content of a loaded resource, "Loading…" before it arrives, or its error.
pub fn show_loaded<T, V>(
    resource: LocalResource<ApiResult<T>>,
    render: impl Fn(T) -> V + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + 'static,
    V: IntoView + 'static,
{
    move || match resource.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(error)) => view! { <LoadError error=error /> }.into_any(),
        Some(Ok(value)) => render(value).into_any(),
    }
}
