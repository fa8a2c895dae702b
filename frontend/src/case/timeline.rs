//! The case timeline, shown in the time zone of the user's preference with its offset, the
//! control that sets that zone for every time in the app, and the form for entries written by
//! hand.

use leptos::prelude::*;
use rekey_types::{validate_time_zone_name, NewTimelineEntry, Preferences, TimelineEntry};

use super::recovery::{error_view, run};
use super::{show_loaded, CaseData};
use crate::api::{self, ApiError};
use crate::time::{format_local, shown_zone_name, zone_format};
use crate::use_session;

#[component]
pub fn TimelineSection(data: CaseData) -> impl IntoView {
    let entries = LocalResource::new(move || api::timeline(data.number));
    let zone = use_session().time_zone;

    view! {
        <section id="timeline-section" aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">"Timeline"</h2>
            <ZoneControl zone=zone />
            <p class="muted">
                "Times are stored in UTC and shown everywhere in "
                <span id="timeline-zone">{move || shown_zone_name().unwrap_or_else(|| "the browser's zone".to_string())}</span>
                "."
            </p>
            {show_loaded(entries, move |list| view! { <TimelineList entries=list /> })}
            <EntryForm number=data.number reload=move || entries.refetch() />
            <p>
                <button type="button" id="timeline-refresh" class="secondary" on:click=move |_| entries.refetch()>
                    "Refresh timeline"
                </button>
            </p>
        </section>
    }
}

#[component]
fn TimelineList(entries: Vec<TimelineEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="muted">"Nothing on the timeline yet."</p> }.into_any();
    }
    let items = entries
        .into_iter()
        .map(|entry| {
            let at = entry.at;
            let shown = move || format_local(at);
            view! {
                <li class=format!("timeline-entry timeline-{}", entry.category.as_str()) data-source=entry.source.clone()>
                    <time class="timeline-time" datetime=at.to_rfc3339()>{shown}</time>
                    " "
                    <span class="timeline-category muted">{entry.category.label()}</span>
                    " "
                    <strong class="timeline-title">{entry.title}</strong>
                    {(!entry.detail.is_empty()).then(|| format!(": {}", entry.detail))}
                    {entry.actor.map(|actor| view! { <span class="muted">" (" {actor} ")"</span> })}
                </li>
            }
        })
        .collect_view();
    view! { <ol id="timeline">{items}</ol> }.into_any()
}

/// Sets the time zone of the user's preferences, which every time in the app is shown in.
#[component]
fn ZoneControl(zone: RwSignal<Option<String>>) -> impl IntoView {
    let value = RwSignal::new(String::new());
    Effect::new(move || value.set(zone.get().unwrap_or_default()));
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let text = value.get_untracked().trim().to_string();
        if !text.is_empty() {
            let known = validate_time_zone_name(&text).is_ok() && zone_format(&text).is_some();
            if !known {
                let message = format!("'{text}' is not a time zone this browser knows; use an IANA name such as Europe/Berlin, or leave it empty for the browser's zone.");
                error.set(Some(ApiError::invalid("time_zone", message)));
                return;
            }
        }
        let chosen = (!text.is_empty()).then_some(text);
        let body = Preferences {
            time_zone: chosen.clone(),
        };
        run(pending, error, move || zone.set(chosen.clone()), async move {
            api::save_preferences(&body).await
        });
    };

    view! {
        <form id="timezone-form" class="inline-form" on:submit=submit novalidate>
            <label for="timezone-input">"Your time zone (IANA name; empty for the browser's zone) "</label>
            <input id="timezone-input" type="text" placeholder="Europe/Berlin" bind:value=value />
            " "
            <button id="timezone-save" type="submit" class="secondary">"Save time zone"</button>
            {error_view(error, move || ())}
        </form>
    }
}

#[component]
fn EntryForm(number: i64, reload: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let occurred_at = RwSignal::new(String::new());
    let title = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if let Err(message) = rekey_types::parse_zoned_time(&occurred_at.get_untracked()) {
            error.set(Some(ApiError::invalid("occurred_at", message)));
            return;
        }
        let body = NewTimelineEntry {
            occurred_at: occurred_at.get_untracked(),
            title: title.get_untracked(),
            description: description.get_untracked(),
        };
        let saved = move || {
            title.set(String::new());
            description.set(String::new());
            reload();
        };
        run(pending, error, saved, async move {
            api::add_timeline_entry(number, &body).await
        });
    };

    view! {
        <form id="timeline-form" class="inline-form" on:submit=submit novalidate>
            <h3>"Add a timeline entry"</h3>
            <label>
                "When, with its zone "
                <input id="timeline-occurred-at" type="text" placeholder="2023-07-10T14:20:00+02:00" bind:value=occurred_at />
            </label>
            " "
            <label>"What happened " <input id="timeline-title" type="text" bind:value=title /></label>
            " "
            <label>"Details " <input id="timeline-description" type="text" bind:value=description /></label>
            " "
            <button id="timeline-add" type="submit" aria-disabled=move || pending.get().then_some("true")>"Add entry"</button>
            {error_view(error, reload)}
        </form>
    }
}
