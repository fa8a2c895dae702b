//! `/cases/:number`: one case with its credentials, trail imports, findings, stakeholders and
//! notifications.

mod communication;
mod credentials;
mod findings;
mod imports;
mod stakeholders;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use rekey_types::{
    parse_case_reference, Case, Credential, Finding, Notification, Phase, PhaseChange, Stakeholder,
    TrailImport,
};

use crate::api::{self, ApiResult};
use crate::set_title;
use crate::time::{format_local, format_utc, local_zone_name, LocalTime};
use crate::widgets::{LoadError, Loading, PhaseProgress, SeverityBadge};

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

/// Everything loaded for one case page. A section refetches the parts its changes affect,
/// such as the case's counts after a credential is added.
#[derive(Clone, Copy)]
pub struct CaseData {
    pub number: i64,
    pub case: LocalResource<ApiResult<Case>>,
    pub credentials: LocalResource<ApiResult<Vec<Credential>>>,
    pub imports: LocalResource<ApiResult<Vec<TrailImport>>>,
    pub findings: LocalResource<ApiResult<Vec<Finding>>>,
    pub stakeholders: LocalResource<ApiResult<Vec<Stakeholder>>>,
    pub notifications: LocalResource<ApiResult<Vec<Notification>>>,
}

impl CaseData {
    fn load(number: i64) -> Self {
        CaseData {
            number,
            case: LocalResource::new(move || api::case(number)),
            credentials: LocalResource::new(move || api::credentials(number)),
            imports: LocalResource::new(move || api::imports(number)),
            findings: LocalResource::new(move || api::findings(number)),
            stakeholders: LocalResource::new(move || api::stakeholders(number)),
            notifications: LocalResource::new(move || api::notifications(number)),
        }
    }
}

#[component]
pub fn CasePage() -> impl IntoView {
    let params = use_params_map();
    let number = Memo::new(move |_| {
        params.with(|params| {
            params
                .get("number")
                .and_then(|value| parse_case_reference(&value))
        })
    });

    // Rebuilt when the number changes, so no section shows another case's data.
    move || match number.get() {
        Some(number) => view! { <CaseView number=number /> }.into_any(),
        None => {
            set_title("Case not found");
            view! {
                <h1>"Case not found"</h1>
                <p>"This address names no case. " <a href="/">"Go to the case list"</a> "."</p>
            }
            .into_any()
        }
    }
}

/// Whether the case itself has loaded. The case page is rebuilt only when this
/// changes, so a phase change updates the overview in place and keyboard focus stays on the
/// phase button. The sections are shown only for a case that loaded.
#[derive(Clone, PartialEq)]
enum LoadState {
    Loading,
    Loaded,
    Failed(crate::api::ApiError),
}

#[component]
fn CaseView(number: i64) -> impl IntoView {
    set_title(&rekey_types::case_reference(number));
    let data = CaseData::load(number);
    let comms = communication::CommunicationData::load(number);
    let load_state = Memo::new(move |_| match data.case.get() {
        None => LoadState::Loading,
        Some(Ok(_)) => LoadState::Loaded,
        Some(Err(error)) => LoadState::Failed(error),
    });

    move || match load_state.get() {
        LoadState::Loading => view! { <Loading /> }.into_any(),
        LoadState::Failed(error) if error.status == Some(404) => {
            set_title("Case not found");
            view! {
                <h1>"Case not found"</h1>
                <LoadError error=error />
                <p><a href="/">"Go to the case list"</a></p>
            }
            .into_any()
        }
        LoadState::Failed(error) => view! { <LoadError error=error /> }.into_any(),
        LoadState::Loaded => view! {
            <Overview data=data />
            <communication::OverdueFlag comms=comms />
            <nav class="section-nav" aria-label="Sections of this case">
                <a href="#credentials-section" rel="external">"Credentials"</a>
                <a href="#imports-section" rel="external">"Trail imports"</a>
                <a href="#findings-section" rel="external">"Findings"</a>
                <a href="#stakeholders-section" rel="external">"Stakeholders"</a>
                <a href="#notifications-section" rel="external">"Notifications"</a>
                <a href="#status-updates-section" rel="external">"Status updates"</a>
                <a href="#legal-clocks-section" rel="external">"Legal deadlines"</a>
                <a href="#communications-section" rel="external">"Communications log"</a>
            </nav>
            <credentials::CredentialsSection data=data />
            <imports::ImportsSection data=data />
            <findings::FindingsSection data=data />
            <stakeholders::StakeholdersSection data=data />
            <stakeholders::NotificationsSection data=data />
            <communication::StatusUpdatesSection data=data comms=comms />
            <communication::LegalClocksSection comms=comms />
            <communication::CommunicationsLogSection comms=comms />
        }
        .into_any(),
    }
}

/// Title, facts and phase of the loaded case.
#[component]
fn Overview(data: CaseData) -> impl IntoView {
    let case = Memo::new(move |_| data.case.get().and_then(Result::ok));
    // Reads one value of the loaded case, tracking changes.
    let read = move |field: fn(&Case) -> String| {
        move || case.with(|case| case.as_ref().map(field).unwrap_or_default())
    };

    Effect::new(move || {
        case.with(|case| {
            if let Some(case) = case {
                set_title(&format!("{} {}", case.reference, case.title));
            }
        })
    });

    let compromise_time = move || match case
        .with(|case| case.as_ref().and_then(|c| c.compromise_time))
    {
        Some(time) => {
            let zone = local_zone_name()
                .map(|zone| format!(" ({zone})"))
                .unwrap_or_default();
            view! {
                <time id="case-compromise-time-utc" datetime=time.to_rfc3339()>{format_utc(time)}</time>
                <br />
                <span id="case-compromise-time-local">{format!("{}{zone}", format_local(time))}</span>
            }
            .into_any()
        }
        None => view! { <span class="muted">"Not yet known"</span> }.into_any(),
    };
    let summary = read(|case| case.summary.clone());
    let phase = Memo::new(move |_| case.with(|case| case.as_ref().map(|case| case.phase)));
    let severity = move || case.with(|case| case.as_ref().map(|case| case.severity));
    let created_at = move || case.with(|case| case.as_ref().map(|case| case.created_at));
    let updated_at = move || case.with(|case| case.as_ref().map(|case| case.updated_at));

    view! {
        <div class="page-heading">
            <h1 id="case-heading">
                <span class="reference">{read(|case| case.reference.clone())}</span>
                " "
                <span id="case-title-text">{read(|case| case.title.clone())}</span>
            </h1>
        </div>
        {move || {
            let text = summary();
            if text.is_empty() {
                view! { <p class="muted">"No summary."</p> }.into_any()
            } else {
                view! { <p id="case-summary-text" class="summary">{text}</p> }.into_any()
            }
        }}
        {move || phase.get().map(|phase| view! { <PhaseProgress phase=phase /> })}
        <PhaseControl data=data phase=phase />
        <dl class="case-facts">
            <dt>"Severity"</dt>
            <dd id="case-severity-value">
                {move || severity().map(|severity| view! { <SeverityBadge severity=severity /> })}
            </dd>
            <dt>"Phase"</dt>
            <dd id="case-phase">{move || phase.get().map(|phase| phase.label())}</dd>
            <dt>"Detection source"</dt>
            <dd>{read(|case| case.detection_source.label().to_string())}</dd>
            <dt>"External reference"</dt>
            <dd>{read(|case| case.external_ref.clone().unwrap_or_else(|| "None".to_string()))}</dd>
            <dt>"Compromise time"</dt>
            <dd>{compromise_time}</dd>
            <dt>"Created"</dt>
            <dd>
                {read(|case| case.created_by.clone())}
                ", "
                {move || created_at().map(|time| view! { <LocalTime time=time /> })}
            </dd>
            <dt>"Updated"</dt>
            <dd>{move || updated_at().map(|time| view! { <LocalTime time=time /> })}</dd>
        </dl>
    }
}

/// The button that moves the case to its next phase; hidden once the case is closed.
#[component]
fn PhaseControl(data: CaseData, phase: Memo<Option<Phase>>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let next = Memo::new(move |_| phase.get().and_then(Phase::next));

    let advance = move |_| {
        let Some(next) = next.get_untracked() else {
            return;
        };
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::change_phase(data.number, &PhaseChange { phase: next }).await;
            pending.set(false);
            match result {
                Ok(case) => {
                    error.set(None);
                    data.case.set(Some(Ok(case)));
                    // A phase change may send stakeholders an update.
                    data.notifications.refetch();
                }
                Err(failure) => error.set(Some(failure.detail.message)),
            }
        });
    };

    view! {
        <div class="phase-control">
            <Show when=move || next.get().is_some()>
                <button
                    id="phase-advance"
                    type="button"
                    data-next-phase=move || next.get().map(|next| next.as_str())
                    aria-disabled=move || pending.get().then_some("true")
                    on:click=advance
                >
                    {move || next.get().map(|next| format!("Move to {}", next.label()))}
                </button>
            </Show>
            <div id="phase-error" class="form-error" role="alert">{move || error.get()}</div>
        </div>
    }
}
