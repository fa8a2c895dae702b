//! `/cases/new`: form that opens a case.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use rekey_types::{parse_zoned_time, DetectionSource, NewCase, Severity};

use crate::api::{self, ApiError};
use crate::forms::{optional_text, FormError, FormErrorMessage, SelectField, TextArea, TextField};
use crate::time::{format_local, format_utc};
use crate::{set_title, use_session};

/// Severity preselected on a new case: a leaked cloud credential is high until shown otherwise.
const DEFAULT_SEVERITY: Severity = Severity::P2;

/// Builds the request from the form's values, or the error of the first invalid one.
fn new_case_request(
    title: String,
    summary: String,
    severity: &str,
    detection_source: &str,
    external_ref: String,
    compromise_time: String,
    restricted: bool,
) -> Result<NewCase, ApiError> {
    let title = title.trim().to_string();
    if title.is_empty() {
        return Err(ApiError::invalid(
            "title",
            "The title is missing; describe the leak in a few words, such as \
             'Access key pushed to a public repository'.",
        ));
    }
    let severity = Severity::parse(severity).ok_or_else(|| {
        ApiError::invalid(
            "severity",
            format!("Choose a severity: {}.", Severity::expected()),
        )
    })?;
    let detection_source = DetectionSource::parse(detection_source).ok_or_else(|| {
        ApiError::invalid("detection_source", "Choose how the incident was detected.")
    })?;
    let compromise_time = optional_text(&compromise_time);
    if let Some(time) = &compromise_time {
        parse_zoned_time(time).map_err(|message| ApiError::invalid("compromise_time", message))?;
    }
    Ok(NewCase {
        title,
        summary: summary.trim().to_string(),
        severity,
        detection_source,
        external_ref: optional_text(&external_ref),
        compromise_time,
        restricted,
    })
}

#[component]
pub fn NewCasePage() -> impl IntoView {
    set_title("New case");
    let navigate = use_navigate();

    let title = RwSignal::new(String::new());
    let summary = RwSignal::new(String::new());
    let severity = RwSignal::new(DEFAULT_SEVERITY.as_str().to_string());
    let detection_source = RwSignal::new(DetectionSource::ALL[0].as_str().to_string());
    let external_ref = RwSignal::new(String::new());
    let compromise_time = RwSignal::new(String::new());
    let restricted = RwSignal::new(false);
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let request = new_case_request(
            title.get_untracked(),
            summary.get_untracked(),
            &severity.get_untracked(),
            &detection_source.get_untracked(),
            external_ref.get_untracked(),
            compromise_time.get_untracked(),
            restricted.get_untracked(),
        );
        let request = match request {
            Ok(request) => request,
            Err(invalid) => {
                error.set(Some(invalid));
                return;
            }
        };
        let navigate = navigate.clone();
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::create_case(&request).await;
            pending.set(false);
            match result {
                Ok(case) => {
                    error.set(None);
                    navigate(
                        &format!("/cases/{}", case.number),
                        NavigateOptions::default(),
                    );
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    // Shows how the typed compromise time reads in UTC and locally, so a wrong zone is seen
    // before the case is created.
    let time_preview = move || {
        compromise_time.with(|value| {
            optional_text(value)
                .and_then(|value| parse_zoned_time(&value).ok())
                .map(|time| {
                    format!(
                        "Reads as {} ({} local).",
                        format_utc(time),
                        format_local(time)
                    )
                })
        })
    };

    let severity_options = Severity::ALL
        .iter()
        .map(|s| (s.as_str(), s.label()))
        .collect();
    let source_options = DetectionSource::ALL
        .iter()
        .map(|s| (s.as_str(), s.label()))
        .collect();

    // The server rejects the request too. Hiding the form spares filling in one that would fail.
    let session = use_session();
    let may_not_create = move || session.role().is_some_and(|role| !role.can_create_cases());

    view! {
        <h1>"New case"</h1>
        <Show when=may_not_create>
            <p id="case-create-denied" class="notice">
                "Your account role ("
                {move || session.role().map(|role| role.label())}
                ") cannot open cases. Ask an incident lead or an administrator to open it and add you."
            </p>
        </Show>
        <form id="case-form" class="stacked" hidden=may_not_create on:submit=submit novalidate>
            <TextField id="case-title" label="Title" field="title" value=title error=error required=true />
            <TextArea id="case-summary" label="Summary" field="summary" value=summary error=error />
            <SelectField
                id="case-severity"
                label="Severity"
                field="severity"
                options=severity_options
                value=severity
                error=error
            />
            <SelectField
                id="case-detection-source"
                label="Detection source"
                field="detection_source"
                options=source_options
                value=detection_source
                error=error
            />
            <TextField
                id="case-external-ref"
                label="External ticket reference"
                field="external_ref"
                value=external_ref
                error=error
                placeholder="SEC-1234"
            />
            <TextField
                id="case-compromise-time"
                label="Compromise time"
                field="compromise_time"
                value=compromise_time
                error=error
                hint="RFC 3339 with a zone: Z for UTC or an offset such as +02:00. Every call made \
                      with the credential from this time on is treated as malicious. Leave empty \
                      if not yet known."
                placeholder="2023-07-10T12:20:00Z"
            />
            <p id="case-compromise-time-preview" class="hint" aria-live="polite">{time_preview}</p>
            <div class="field checkbox">
                <input
                    id="case-restricted"
                    type="checkbox"
                    prop:checked=move || restricted.get()
                    on:change=move |event| restricted.set(event_target_checked(&event))
                />
                <label for="case-restricted">"Restricted"</label>
                <p class="hint">
                    "Only members of the case see it; managers do not see it in lists or counts."
                </p>
            </div>
            <FormErrorMessage id="case-form-error" error=error />
            <div class="actions">
                <button id="case-create" type="submit" aria-disabled=move || pending.get().then_some("true")>
                    {move || if pending.get() { "Creating…" } else { "Create case" }}
                </button>
                <a href="/" class="button secondary">"Cancel"</a>
            </div>
        </form>
    }
}
