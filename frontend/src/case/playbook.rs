//! The case's playbook: its checklist tasks grouped by phase, each with buttons to start,
//! finish, skip (with a reason) or reopen it.

use leptos::prelude::*;
use rekey_types::{parse_zoned_time, Phase, Task, TaskStatus, TaskUpdate};

use super::{show_loaded, CaseData};
use crate::api::{self, ApiError, ApiResult};
use crate::time::LocalTime;
use crate::use_session;

type TaskList = LocalResource<ApiResult<Vec<Task>>>;

#[component]
pub fn PlaybookSection(data: CaseData) -> impl IntoView {
    let tasks: TaskList = LocalResource::new(move || api::tasks(data.number));
    view! {
        <section id="playbook-section" aria-labelledby="playbook-heading">
            <h2 id="playbook-heading">"Playbook"</h2>
            {show_loaded(tasks, move |list| view! { <Checklist number=data.number tasks=list resource=tasks /> })}
        </section>
    }
}

#[component]
fn Checklist(number: i64, tasks: Vec<Task>, resource: TaskList) -> impl IntoView {
    if tasks.is_empty() {
        return view! {
            <p id="playbook-empty" class="muted">
                "This case has no checklist, because no playbook was the default when it was created."
            </p>
        }
        .into_any();
    }
    Phase::ALL
        .iter()
        .copied()
        .filter(|phase| *phase != Phase::Closed)
        .map(|phase| {
            let in_phase: Vec<Task> = tasks.iter().filter(|task| task.phase == phase).cloned().collect();
            let finished = in_phase.iter().filter(|task| !task.status.is_open()).count();
            let total = in_phase.len();
            let items = in_phase
                .into_iter()
                .map(|task| view! { <TaskItem number=number task=task resource=resource /> })
                .collect_view();
            view! {
                <div class="task-phase" data-phase=phase.as_str()>
                    <h3>
                        {phase.label()}
                        " "
                        <span class="muted task-count">{format!("{finished} of {total} finished")}</span>
                    </h3>
                    <ul class="task-list">{items}</ul>
                </div>
            }
        })
        .collect_view()
        .into_any()
}

/// Renders who finished the task and when, its assignee, due time and skip reason.
fn task_facts(task: &Task) -> impl IntoView {
    let finished = match (&task.finished_by, task.finished_at) {
        (Some(by), Some(at)) => {
            let verb = if task.status == TaskStatus::Skipped {
                "Skipped by "
            } else {
                "Done by "
            };
            Some(
                view! { <span class="task-finished">{verb}{by.clone()}", "<LocalTime time=at /></span> },
            )
        }
        _ => None,
    };
    let assignee = task
        .assignee_name
        .clone()
        .map(|name| view! { <span class="task-assignee">"Assigned to "{name}</span> });
    let due = task
        .due_at
        .map(|time| view! { <span class="task-due">"Due "<LocalTime time=time /></span> });
    let reason = task
        .skip_reason
        .clone()
        .map(|reason| view! { <span class="task-skip-reason-text">"Reason: "{reason}</span> });
    view! { <div class="task-facts">{finished}{assignee}{due}{reason}</div> }
}

#[component]
fn TaskItem(number: i64, task: Task, resource: TaskList) -> impl IntoView {
    let session = use_session();
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);
    let skipping = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    let planning = RwSignal::new(false);
    let assignee = RwSignal::new(task.assignee.clone().unwrap_or_default());
    let due_at = RwSignal::new(
        task.due_at
            .map(|time| time.to_rfc3339())
            .unwrap_or_default(),
    );
    let (id, version, status) = (task.id, task.version, task.status);

    let send = move |update: TaskUpdate| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::update_task(number, id, &update).await;
            pending.set(false);
            match result {
                Ok(_) => {
                    error.set(None);
                    resource.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };
    let set_status = move |status: TaskStatus| {
        send(TaskUpdate {
            version,
            status: Some(status),
            ..TaskUpdate::default()
        })
    };
    let confirm_skip = move |_| {
        let text = reason.get_untracked().trim().to_string();
        if text.is_empty() {
            error.set(Some(ApiError::invalid(
                "skip_reason",
                "The reason is missing; say why this task is not done.",
            )));
            return;
        }
        send(TaskUpdate {
            version,
            status: Some(TaskStatus::Skipped),
            skip_reason: Some(text),
            ..TaskUpdate::default()
        })
    };
    let assign_to_me = move |_| {
        let Some(user) = session.user.get_untracked() else {
            return;
        };
        send(TaskUpdate {
            version,
            assignee: Some(user.username),
            ..TaskUpdate::default()
        })
    };
    let save_plan = move |_| {
        let due = due_at.get_untracked().trim().to_string();
        if !due.is_empty() {
            if let Err(message) = parse_zoned_time(&due) {
                error.set(Some(ApiError::invalid("due_at", message)));
                return;
            }
        }
        send(TaskUpdate {
            version,
            assignee: Some(assignee.get_untracked().trim().to_string()),
            due_at: Some(due),
            ..TaskUpdate::default()
        })
    };
    let stale =
        move || error.with(|e| e.as_ref().is_some_and(|e| e.detail.code == "stale_version"));
    let busy = move || pending.get().then_some("true");
    let facts = task_facts(&task);

    let buttons = if status.is_open() {
        view! {
            <Show when=move || status == TaskStatus::Todo>
                <button type="button" class="secondary task-start" aria-disabled=busy on:click=move |_| set_status(TaskStatus::InProgress)>"Start"</button>
            </Show>
            <button type="button" class="task-done" aria-disabled=busy on:click=move |_| set_status(TaskStatus::Done)>"Done"</button>
            <button type="button" class="secondary task-skip" on:click=move |_| skipping.update(|open| *open = !*open)>"Skip…"</button>
        }
        .into_any()
    } else {
        view! {
            <button type="button" class="secondary task-reopen" aria-disabled=busy on:click=move |_| set_status(TaskStatus::Todo)>"Reopen"</button>
        }
        .into_any()
    };

    view! {
        <li class="task" data-task=id data-status=status.as_str()>
            <div class="task-main">
                <span class=format!("task-status status-{}", status.as_str())>{status.label()}</span>
                " "
                <strong class="task-title">{task.title.clone()}</strong>
                <p class="muted task-description">{task.description.clone()}</p>
                {facts}
            </div>
            <div class="task-actions">
                {buttons}
                <button type="button" class="secondary task-assign-me" aria-disabled=busy on:click=assign_to_me>"Assign to me"</button>
                <button type="button" class="secondary task-plan" on:click=move |_| planning.update(|open| *open = !*open)>"Assignee and due…"</button>
            </div>
            <Show when=move || planning.get()>
                <div class="task-plan-form">
                    <label>
                        "Assignee (username, empty for none) "
                        <input type="text" class="task-assignee-input" bind:value=assignee />
                    </label>
                    " "
                    <label>
                        "Due, with its zone (empty for none) "
                        <input type="text" class="task-due-input" placeholder="2023-07-10T18:00:00+02:00" bind:value=due_at />
                    </label>
                    " "
                    <button type="button" class="task-plan-save" aria-disabled=busy on:click=save_plan>"Save"</button>
                </div>
            </Show>
            <Show when=move || skipping.get()>
                <div class="task-skip-form">
                    <label>
                        "Reason for skipping"
                        <input
                            type="text"
                            class="task-skip-reason"
                            prop:value=move || reason.get()
                            on:input=move |event| reason.set(event_target_value(&event))
                        />
                    </label>
                    <button type="button" class="task-skip-confirm" aria-disabled=busy on:click=confirm_skip>"Skip task"</button>
                </div>
            </Show>
            <div class="form-error task-error" role="alert">
                {move || error.get().map(|e| e.detail.message)}
                <Show when=stale>
                    " "
                    <button type="button" class="secondary task-reload" on:click=move |_| resource.refetch()>
                        "Reload the checklist"
                    </button>
                </Show>
            </div>
        </li>
    }
}
