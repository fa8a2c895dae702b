//! `/playbooks`: the stored playbook templates. Administrators edit them here; new cases get
//! the tasks of the default one.

use leptos::prelude::*;
use rekey_types::{Phase, PlaybookInput, PlaybookStep, PlaybookTemplate, UserRole};

use crate::api::{self, ApiError};
use crate::case::show_loaded;
use crate::{set_title, use_session};

/// Formats steps one per line as `phase | title | description`, the form the editor parses.
fn steps_text(steps: &[PlaybookStep]) -> String {
    steps
        .iter()
        .map(|step| {
            format!(
                "{} | {} | {}",
                step.phase.as_str(),
                step.title,
                step.description
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses steps written one per line as `phase | title | description`, the description being
/// optional; the error names the first line that does not parse.
fn parse_steps(text: &str) -> Result<Vec<PlaybookStep>, ApiError> {
    let mut steps = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, '|').map(str::trim);
        let phase = parts.next().unwrap_or_default();
        let title = parts.next().unwrap_or_default();
        let description = parts.next().unwrap_or_default();
        let Some(phase) = Phase::parse(phase) else {
            let message = format!(
                "Line {}: '{phase}' is not a phase; start the line with one of {}.",
                index + 1,
                Phase::expected()
            );
            return Err(ApiError::invalid("steps", message));
        };
        if title.is_empty() {
            let message = format!(
                "Line {}: the title is missing; write phase | title.",
                index + 1
            );
            return Err(ApiError::invalid("steps", message));
        }
        steps.push(PlaybookStep {
            phase,
            title: title.to_string(),
            description: description.to_string(),
        });
    }
    Ok(steps)
}

#[component]
pub fn PlaybooksPage() -> impl IntoView {
    set_title("Playbooks");
    let playbooks = LocalResource::new(api::playbooks);
    let reload = move || playbooks.refetch();
    let session = use_session();
    let is_admin = move || {
        session.user.with(|user| {
            user.as_ref()
                .is_some_and(|user| user.role == UserRole::Admin)
        })
    };

    view! {
        <h1>"Playbooks"</h1>
        <p>
            "Each new case gets one checklist task per step of the default playbook. Steps are \
             written one per line as "
            <code>"phase | title | description"</code>
            "."
        </p>
        {show_loaded(playbooks, move |list| {
            list.into_iter()
                .map(|playbook| view! { <PlaybookEditor playbook=Some(playbook) reload=reload /> })
                .collect_view()
        })}
        <Show when=is_admin>
            <h2>"New playbook"</h2>
            <PlaybookEditor playbook=None reload=reload />
        </Show>
    }
}

/// One playbook with its steps, as a form that administrators can save. With no playbook it
/// creates one.
#[component]
fn PlaybookEditor(
    playbook: Option<PlaybookTemplate>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let session = use_session();
    let editable = move || {
        session.user.with(|user| {
            user.as_ref()
                .is_some_and(|user| user.role == UserRole::Admin)
        })
    };
    let id = playbook.as_ref().map(|playbook| playbook.id);
    let version = playbook.as_ref().map(|playbook| playbook.version);
    let name = RwSignal::new(
        playbook
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default(),
    );
    let description = RwSignal::new(
        playbook
            .as_ref()
            .map(|p| p.description.clone())
            .unwrap_or_default(),
    );
    let is_default = RwSignal::new(playbook.as_ref().is_some_and(|p| p.is_default));
    let steps = RwSignal::new(
        playbook
            .as_ref()
            .map(|p| steps_text(&p.steps))
            .unwrap_or_default(),
    );
    let step_count = playbook.as_ref().map(|p| p.steps.len()).unwrap_or_default();
    let error = RwSignal::new(None::<ApiError>);
    let saved = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let parsed = match parse_steps(&steps.get_untracked()) {
            Ok(parsed) => parsed,
            Err(invalid) => {
                error.set(Some(invalid));
                return;
            }
        };
        let body = PlaybookInput {
            name: name.get_untracked(),
            description: description.get_untracked(),
            is_default: is_default.get_untracked(),
            steps: parsed,
            version,
        };
        leptos::task::spawn_local(async move {
            let result = match id {
                Some(id) => api::replace_playbook(id, &body).await,
                None => api::create_playbook(&body).await,
            };
            match result {
                Ok(_) => {
                    error.set(None);
                    saved.set(true);
                    reload();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };
    let heading = playbook.as_ref().map(|playbook| {
        let marker = playbook.is_default.then_some(" (default)");
        view! { <h2 class="playbook-name">{playbook.name.clone()}{marker}</h2> }
    });

    view! {
        <form class="inline-form playbook-editor" data-playbook=id on:submit=submit novalidate>
            {heading}
            <p class="muted playbook-steps-count">{format!("{step_count} step(s)")}</p>
            <label>"Name " <input type="text" class="playbook-name-input" bind:value=name prop:readonly=move || !editable() /></label>
            " "
            <label>"Description " <input type="text" class="playbook-description" bind:value=description prop:readonly=move || !editable() /></label>
            " "
            <label><input type="checkbox" class="playbook-default" bind:checked=is_default prop:disabled=move || !editable() />" New cases get this playbook"</label>
            <label class="playbook-steps-label">
                "Steps"
                <textarea class="playbook-steps" rows="12" bind:value=steps prop:readonly=move || !editable()></textarea>
            </label>
            <Show when=editable>
                <button type="submit" class="playbook-save">"Save playbook"</button>
            </Show>
            <Show when=move || saved.get()>
                <p class="success" role="status">"Saved."</p>
            </Show>
            {crate::case::error_view(error, reload)}
        </form>
    }
}
