//! Trail imports of a case: upload form and past imports.

use leptos::html;
use leptos::prelude::*;
use rekey_types::{ImportStatus, ImportedFile, TrailImport};
use web_sys::File;

use super::{show_loaded, CaseData};
use crate::api::{self, ApiError};
use crate::time::LocalTime;

/// Characters of a SHA-256 shown in tables; the full hash is in the tooltip.
pub(crate) const SHORT_HASH_LEN: usize = 12;

/// State of the upload form.
#[derive(Clone)]
enum UploadState {
    Idle,
    Uploading { file_count: usize },
    Done(TrailImport),
    Failed(ApiError),
}

/// Formats a byte count with binary units, such as `1.5 MiB`.
pub(crate) fn format_size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for next_unit in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next_unit;
    }
    format!("{value:.1} {unit}")
}

fn selected_files(input: &web_sys::HtmlInputElement) -> Vec<File> {
    let Some(list) = input.files() else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|index| list.get(index))
        .collect()
}

#[component]
pub fn ImportsSection(data: CaseData) -> impl IntoView {
    view! {
        <section id="imports-section" aria-labelledby="imports-heading">
            <h2 id="imports-heading">"Trail imports"</h2>
            <p class="hint">
                "Audit-log exports: CloudTrail or Huawei Cloud Trace Service JSON, JSON Lines or \
                 lookup-events output, plain, .gz or a .zip of them. Rekey keeps the calls made \
                 with this case's credentials from the compromise time on, and flags the \
                 sensitive ones as findings."
            </p>
            <Show when=move || data.can_write.get()>
                <ImportForm data=data />
            </Show>
            <RunningImports data=data />
            <h3>"Past imports"</h3>
            {show_loaded(data.imports, |imports| view! { <ImportTable imports=imports /> })}
        </section>
    }
}

#[component]
fn ImportForm(data: CaseData) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    let state = RwSignal::new(UploadState::Idle);
    let uploading = move || matches!(state.get(), UploadState::Uploading { .. });

    // Sends the selected files; `keep_readable` imports what can be read of files that break.
    let start = move |keep_readable: bool| {
        if matches!(state.get_untracked(), UploadState::Uploading { .. }) {
            return;
        }
        let Some(input) = input.get_untracked() else {
            return;
        };
        let files = selected_files(&input);
        if files.is_empty() {
            state.set(UploadState::Failed(ApiError::invalid(
                "files",
                "No file selected; choose one or more trail files to import.",
            )));
            return;
        }
        state.set(UploadState::Uploading {
            file_count: files.len(),
        });
        leptos::task::spawn_local(async move {
            match api::import_trail(data.number, &files, keep_readable).await {
                Ok(import) => {
                    input.set_value("");
                    state.set(UploadState::Done(import));
                    data.findings.refetch();
                    // New trail events may show a use after containment.
                    data.containment.refetch();
                    // Findings that name a resource add affected resources.
                    data.resources.refetch();
                    // Calls that created credentials propose them on the case.
                    data.credentials.refetch();
                    data.case.refetch();
                }
                Err(error) => state.set(UploadState::Failed(error)),
            }
            // A failed import is listed too, with its error.
            data.imports.refetch();
        });
    };
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        start(false);
    };
    let discard = move |_| {
        if let Some(input) = input.get_untracked() {
            input.set_value("");
        }
        state.set(UploadState::Idle);
    };
    // A file that could not be read leaves a choice: import what could be read, or nothing.
    let choice = move || {
        let UploadState::Failed(error) = state.get() else {
            return None;
        };
        error.detail.message.contains("Nothing was imported").then(|| {
            view! {
                <div id="import-choice" class="inline-actions">
                    <button id="import-keep-readable" type="button" on:click=move |_| start(true)>
                        "Import the readable part"
                    </button>
                    <button id="import-discard" type="button" class="secondary" on:click=discard>"Discard"</button>
                </div>
            }
        })
    };

    let status = move || match state.get() {
        UploadState::Idle => ().into_any(),
        UploadState::Uploading { file_count } => {
            let files = if file_count == 1 { "file" } else { "files" };
            view! { <p id="import-progress" class="loading">{format!("Importing… ({file_count} {files})")}</p> }
                .into_any()
        }
        UploadState::Done(import) => view! { <ImportResult import=import /> }.into_any(),
        UploadState::Failed(error) => {
            view! { <p id="import-error" class="form-error">{error.detail.message}</p> }.into_any()
        }
    };
    let invalid = move || matches!(state.get(), UploadState::Failed(_)).then_some("true");

    view! {
        <form id="import-form" class="inline-form" on:submit=submit novalidate>
            <div class="field">
                <label for="import-files">"Trail files"</label>
                <input
                    id="import-files"
                    name="files"
                    type="file"
                    multiple
                    accept=".json,.gz,.jsonl,.zip"
                    aria-invalid=invalid
                    aria-describedby="import-status"
                    node_ref=input
                />
            </div>
            <button id="import-submit" type="submit" aria-disabled=move || uploading().then_some("true")>
                "Import"
            </button>
            <div id="import-status" role="status" aria-live="polite">{status}</div>
            {choice}
        </form>
    }
}

/// Counts of a finished import.
#[component]
fn ImportResult(import: TrailImport) -> impl IntoView {
    view! {
        <div id="import-result" class="success">
            <p>"Import finished."</p>
            {import.error.clone().map(|note| view! { <p id="import-skipped" class="notice">{note}</p> })}
            <dl class="counts">
                <dt>"Events read"</dt>
                <dd id="import-events-read">{import.events_read}</dd>
                <dt>"Matched the case's credentials"</dt>
                <dd id="import-events-matched">{import.events_matched}</dd>
                <dt>"New events"</dt>
                <dd id="import-events-new">{import.events_new}</dd>
                <dt>"New findings"</dt>
                <dd id="import-findings-new">{import.findings_new}</dd>
            </dl>
        </div>
    }
}

#[component]
fn FileList(files: Vec<ImportedFile>) -> impl IntoView {
    let items = files
        .into_iter()
        .map(|file| {
            let short_hash: String = file.sha256.chars().take(SHORT_HASH_LEN).collect();
            view! {
                <li>
                    {file.name} " (" {format_size(file.size)} ", SHA-256 "
                    <code title=file.sha256>{short_hash} "…"</code> ")"
                </li>
            }
        })
        .collect_view();
    view! { <ul class="files">{items}</ul> }
}

#[component]
fn ImportTable(imports: Vec<TrailImport>) -> impl IntoView {
    let empty = imports.is_empty();
    let rows = imports
        .into_iter()
        .map(|import| {
            let status_class = match import.status {
                ImportStatus::Completed => "status-ok",
                ImportStatus::Failed => "status-failed",
            };
            view! {
                <tr data-import=import.id>
                    <td><LocalTime time=import.created_at /></td>
                    <td>{import.created_by}</td>
                    <td><FileList files=import.files /></td>
                    <td class=status_class>{import.status.label()}</td>
                    <td class="number">{import.events_read}</td>
                    <td class="number">{import.events_matched}</td>
                    <td class="number">{import.events_new}</td>
                    <td class="number">{import.findings_new}</td>
                    <td>{import.error.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table id="imports">
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"By"</th>
                        <th scope="col">"Files"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col" class="number">"Events read"</th>
                        <th scope="col" class="number">"Matched"</th>
                        <th scope="col" class="number">"New"</th>
                        <th scope="col" class="number">"New findings"</th>
                        <th scope="col">"Error"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {empty.then(|| view! { <p id="imports-empty" class="muted">"No trail imported yet."</p> })}
    }
}

/// Imports of the case that are running on the server, polled every second while the section
/// is shown. An import goes on when the analyst leaves the page, so it is listed on return.
#[component]
fn RunningImports(data: CaseData) -> impl IntoView {
    let number = data.number;
    let running = RwSignal::new(Vec::<rekey_types::RunningImport>::new());
    let poll = move || {
        leptos::task::spawn_local(async move {
            let Ok(now) = api::running_imports(number).await else {
                return;
            };
            let finished = !running.get_untracked().is_empty() && now.len() < running.get_untracked().len();
            running.set(now);
            if finished {
                data.imports.refetch();
                data.findings.refetch();
                data.credentials.refetch();
            }
        });
    };
    poll();
    if let Ok(handle) = set_interval_with_handle(poll, std::time::Duration::from_secs(1)) {
        on_cleanup(move || handle.clear());
    }
    move || {
        let imports = running.get();
        (!imports.is_empty()).then(|| {
            let items = imports
                .into_iter()
                .map(|import| {
                    let total = import.bytes_total.max(1);
                    let percent = (import.bytes_read.min(total) * 100 / total) as i64;
                    let label = if import.storing {
                        format!("all {} events read; storing the kept events…", import.events_read)
                    } else {
                        format!(
                            "{} of {} read, {} events",
                            format_size(import.bytes_read as i64),
                            format_size(import.bytes_total as i64),
                            import.events_read
                        )
                    };
                    view! {
                        <li>
                            {import.files.join(", ")} " · started by " {import.started_by} " at "
                            <LocalTime time=import.started_at />
                            <br />
                            <progress max="100" value=percent aria-label="Import progress">{format!("{percent} %")}</progress>
                            " " <span class="import-running-label">{label}</span>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <div id="imports-running" role="status" aria-live="polite">
                    <h3>"Running imports"</h3>
                    <ul>{items}</ul>
                </div>
            }
        })
    }
}
