//! `/cases/:number`: one case with its credentials, trail imports, findings, stakeholders,
//! notifications and members.
//!
//! Forms and buttons that change the case are shown only to members whose role may write,
//! which are leads and analysts. Viewers, and managers who are not members, only read it.
//! Stakeholder accounts see the overview and only the sections a lead shared with them, with no
//! controls, and the page requests no other section.

mod communication;
mod containment;
mod credentials;
mod derived;
mod evidence;
mod findings;
pub(crate) mod imports;
mod invitations;
mod members;
mod playbook;
mod recovery;
mod stakeholders;
mod timeline;

use std::future::Future;
pub(crate) use recovery::error_view;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use rekey_types::{
    parse_case_reference, AffectedResource, Case, CaseMember, CaseRole, Credential,
    CredentialContainment, Finding, Notification, Phase, PhaseChange, Stakeholder, TrailImport,
};

use crate::api::{self, ApiError, ApiResult};
use crate::time::{format_local, format_utc, shown_zone_name, LocalTime};
pub use crate::widgets::show_loaded;
use crate::widgets::{LoadError, Loading, PhaseProgress, SeverityBadge};
use crate::{set_title, use_session};

/// Sections of the case page below the overview, in page order: the wire name that
/// `SHAREABLE_SECTIONS` and `Case::shared_sections` use, the element id of the section and its
/// short title for links and checkboxes.
const SECTIONS: &[(&str, &str, &str)] = &[
    ("tasks", "playbook-section", "Playbook"),
    ("credentials", "credentials-section", "Credentials"),
    ("containment", "containment-section", "Containment"),
    ("impacts", "impact-section", "Impact"),
    ("imports", "imports-section", "Trail imports"),
    ("findings", "findings-section", "Findings"),
    ("resources", "resources-section", "Resources"),
    ("stakeholders", "stakeholders-section", "Stakeholders"),
    ("notifications", "notifications-section", "Notifications"),
    ("status-updates", "status-updates-section", "Status updates"),
    ("legal-clocks", "legal-clocks-section", "Legal deadlines"),
    ("communications", "communications-section", "Communications log"),
    ("members", "members-section", "Members"),
    ("timeline", "timeline-section", "Timeline"),
];

/// Sections that only the response team reads, never shared with stakeholder accounts, with
/// their element id and short title.
const TEAM_SECTIONS: &[(&str, &str)] = &[("evidence-section", "Evidence")];

/// Returns the short title of the section with wire name `name`, or the name itself for a
/// section this app does not know.
pub fn section_label(name: &str) -> &str {
    SECTIONS
        .iter()
        .find(|(wire, _, _)| *wire == name)
        .map_or(name, |(_, _, label)| label)
}

/// The sections below the overview that the signed-in user reads.
#[derive(Debug, Clone, PartialEq)]
pub enum VisibleSections {
    /// Every section, for everyone except stakeholder accounts.
    All,
    /// The wire names of the sections a lead shared with a stakeholder account.
    Shared(Vec<String>),
}

impl VisibleSections {
    fn of(case: &Case) -> Self {
        match &case.shared_sections {
            Some(names) => VisibleSections::Shared(names.clone()),
            None => VisibleSections::All,
        }
    }

    pub fn shows(&self, name: &str) -> bool {
        match self {
            VisibleSections::All => true,
            VisibleSections::Shared(names) => names.iter().any(|shared| shared == name),
        }
    }
}

/// Tells whether `sections` is known and contains `name`, tracking changes.
fn section_shown(sections: Memo<Option<VisibleSections>>, name: &str) -> bool {
    sections.with(|sections| {
        sections
            .as_ref()
            .is_some_and(|sections| sections.shows(name))
    })
}

/// Loads the section `name` when the user reads it. The server rejects a section that is not
/// shared and records each rejection in the audit log, so a section the user does not read is
/// never requested. Its resource contains an error instead, and the page does not show the
/// section.
///
/// Call it after the case has loaded. It reads `sections` once, because the API offers no way to
/// change the sections shared with a member.
fn load_section<T, Fut>(
    sections: Memo<Option<VisibleSections>>,
    name: &'static str,
    fetch: impl Fn() -> Fut + 'static,
) -> LocalResource<ApiResult<T>>
where
    T: 'static,
    Fut: Future<Output = ApiResult<T>> + 'static,
{
    let readable = sections.with_untracked(|sections| {
        sections
            .as_ref()
            .is_some_and(|sections| sections.shows(name))
    });
    LocalResource::new(move || {
        let request = readable.then(&fetch);
        async move {
            match request {
                Some(request) => request.await,
                None => Err(ApiError::invalid(
                    name,
                    format!(
                        "The {} section is not shared with you, so it was not loaded.",
                        section_label(name)
                    ),
                )),
            }
        }
    })
}

/// The case and what the signed-in user may do with it, loaded before any section.
#[derive(Clone, Copy)]
struct CaseAccess {
    case: LocalResource<ApiResult<Case>>,
    my_role: Memo<Option<CaseRole>>,
    sections: Memo<Option<VisibleSections>>,
    can_write: Memo<bool>,
}

impl CaseAccess {
    fn load(number: i64) -> Self {
        let case = LocalResource::new(move || api::case(number));
        // A refetch keeps the previous role and sections until the new case arrives, so the
        // forms and sections do not disappear and come back after every change.
        let my_role = Memo::new(
            move |previous: Option<&Option<CaseRole>>| match case.get() {
                Some(Ok(case)) => case.my_role,
                Some(Err(_)) => None,
                None => previous.copied().flatten(),
            },
        );
        let sections = Memo::new(move |previous: Option<&Option<VisibleSections>>| {
            case.with(|case| match case {
                Some(Ok(case)) => Some(VisibleSections::of(case)),
                Some(Err(_)) => None,
                None => previous.cloned().flatten(),
            })
        });
        let can_write = Memo::new(move |_| {
            let role_may_write = my_role.get().is_some_and(CaseRole::can_write);
            role_may_write && sections.with(|sections| sections == &Some(VisibleSections::All))
        });
        CaseAccess {
            case,
            my_role,
            sections,
            can_write,
        }
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
    pub members: LocalResource<ApiResult<Vec<CaseMember>>>,
    /// The signed-in user's role in the case; `None` when they read it without membership.
    pub my_role: Memo<Option<CaseRole>>,
    /// The sections the signed-in user reads; `None` until the case has loaded, and while it
    /// cannot be read.
    pub sections: Memo<Option<VisibleSections>>,
    /// True when the signed-in user may change the case, so its forms and buttons are shown.
    /// Stakeholder accounts never may, whatever their case role.
    pub can_write: Memo<bool>,
    pub containment: LocalResource<ApiResult<Vec<CredentialContainment>>>,
    pub resources: LocalResource<ApiResult<Vec<AffectedResource>>>,
}

impl CaseData {
    /// Starts loading the sections that the signed-in user reads. Call it once the case has
    /// loaded, because only the case lists the sections a stakeholder account may read.
    fn load_sections(number: i64, access: CaseAccess) -> Self {
        let sections = access.sections;
        CaseData {
            number,
            case: access.case,
            my_role: access.my_role,
            sections,
            can_write: access.can_write,
            members: load_section(sections, "members", move || api::members(number)),
            credentials: load_section(sections, "credentials", move || api::credentials(number)),
            imports: load_section(sections, "imports", move || api::imports(number)),
            findings: load_section(sections, "findings", move || api::findings(number)),
            stakeholders: load_section(sections, "stakeholders", move || api::stakeholders(number)),
            notifications: load_section(sections, "notifications", move || {
                api::notifications(number)
            }),
            containment: load_section(sections, "containment", move || api::containment(number)),
            resources: load_section(sections, "resources", move || api::resources(number)),
        }
    }

    /// Tells whether the section `name` is shown, tracking changes.
    pub fn shows(self, name: &str) -> bool {
        section_shown(self.sections, name)
    }

    /// Tells whether the signed-in user leads the case, and so may invite stakeholders.
    pub fn is_lead(self) -> bool {
        self.my_role.get() == Some(CaseRole::Lead) && !self.is_stakeholder()
    }

    /// Tells whether the signed-in user reads the case through a stakeholder account.
    pub fn is_stakeholder(self) -> bool {
        self.sections
            .with(|sections| matches!(sections, Some(VisibleSections::Shared(_))))
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
    let session = use_session();
    let access = CaseAccess::load(number);
    let load_state = Memo::new(move |_| match access.case.get() {
        None => LoadState::Loading,
        Some(Ok(_)) => LoadState::Loaded,
        Some(Err(error)) => LoadState::Failed(error),
    });

    move || match load_state.get() {
        LoadState::Loading => view! { <Loading /> }.into_any(),
        // Administrators manage the members of every case but read only the cases they are
        // members of, so the server returns 404 for the case itself.
        LoadState::Failed(error) if error.status == Some(404) && session.is_admin() => {
            view! { <AdminMembersView number=number case=access.case /> }.into_any()
        }
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
        // The sections load only now, and again when a case that could not be read becomes
        // readable, such as after an administrator adds themselves as a member.
        LoadState::Loaded => {
            let data = CaseData::load_sections(number, access);
            let comms = communication::CommunicationData::load(number);
            let member_access = members::MemberAccess {
                number,
                members: data.members,
                can_manage: Signal::derive(move || {
                    data.my_role.get() == Some(CaseRole::Lead) || session.is_admin()
                }),
                case: data.case,
            };
            view! {
                <Overview data=data />
                <Show when=move || data.shows("status-updates")>
                    <communication::OverdueFlag comms=comms />
                </Show>
                <Show when=move || data.shows("containment")>
                    <containment::ContainmentAlert data=data />
                </Show>
                <SectionNav data=data />
                <Show when=move || data.shows("tasks")>
                    <playbook::PlaybookSection data=data />
                </Show>
                <Show when=move || data.shows("credentials")>
                    <credentials::CredentialsSection data=data />
                    <Show when=move || data.can_write.get()>
                        <derived::ProposedCredentialsSection data=data />
                    </Show>
                </Show>
                <Show when=move || data.shows("containment")>
                    <containment::ContainmentSection data=data />
                </Show>
                <Show when=move || data.shows("impacts")>
                    <recovery::ImpactSection data=data />
                </Show>
                <Show when=move || data.shows("imports")>
                    <imports::ImportsSection data=data />
                </Show>
                <Show when=move || data.shows("findings")>
                    <findings::FindingsSection data=data />
                </Show>
                <Show when=move || data.shows("resources")>
                    <recovery::ResourcesSection data=data />
                </Show>
                <Show when=move || data.shows("stakeholders")>
                    <stakeholders::StakeholdersSection data=data />
                </Show>
                <Show when=move || data.shows("notifications")>
                    <stakeholders::NotificationsSection data=data />
                </Show>
                <Show when=move || data.shows("status-updates")>
                    <communication::StatusUpdatesSection data=data comms=comms />
                </Show>
                <Show when=move || data.shows("legal-clocks")>
                    <communication::LegalClocksSection comms=comms />
                </Show>
                <Show when=move || data.shows("communications")>
                    <communication::CommunicationsLogSection comms=comms />
                </Show>
                <Show when=move || data.shows("members")>
                    <members::MembersSection access=member_access />
                </Show>
                <Show when=move || data.shows("timeline")>
                    <timeline::TimelineSection data=data />
                </Show>
                <Show when=move || !data.is_stakeholder()>
                    <evidence::EvidenceSection data=data />
                </Show>
                <Show when=move || data.is_lead()>
                    <invitations::InvitationsSection number=number />
                </Show>
            }
            .into_any()
        }
    }
}

/// Links to the sections shown below the overview; absent when none is shown.
#[component]
fn SectionNav(data: CaseData) -> impl IntoView {
    let links = move || {
        let mut links: Vec<(&'static str, &'static str)> = SECTIONS
            .iter()
            .filter(|(name, _, _)| data.shows(name))
            .map(|(_, id, label)| (*id, *label))
            .collect();
        if !data.is_stakeholder() {
            links.extend(TEAM_SECTIONS.iter().copied());
        }
        if data.is_lead() {
            links.push(("invitations-section", "Invitations"));
        }
        links
    };
    move || {
        let links = links();
        (!links.is_empty()).then(|| {
            let anchors = links
                .into_iter()
                .map(|(id, label)| view! { <a href=format!("#{id}") rel="external">{label}</a> })
                .collect_view();
            view! { <nav class="section-nav" aria-label="Sections of this case">{anchors}</nav> }
        })
    }
}

/// Members of a case that an administrator may manage but not read. The case is refetched
/// after each change, so the full page appears once the administrator adds themselves.
#[component]
fn AdminMembersView(number: i64, case: LocalResource<ApiResult<Case>>) -> impl IntoView {
    let reference = rekey_types::case_reference(number);
    set_title(&format!("Members of {reference}"));
    let members = LocalResource::new(move || api::members(number));
    let access = members::MemberAccess {
        number,
        members,
        can_manage: Signal::derive(|| true),
        case,
    };

    move || match members.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(error)) => {
            set_title("Case not found");
            view! {
                <h1>"Case not found"</h1>
                <LoadError error=error />
                <p><a href="/">"Go to the case list"</a></p>
            }
            .into_any()
        }
        Some(Ok(_)) => view! {
            <h1 id="case-heading"><span class="reference">{reference.clone()}</span></h1>
            <p id="case-admin-only" class="notice">
                "You are not a member of this case. As an administrator you can manage its \
                 members, but you cannot read its content: add yourself as a member to read it."
            </p>
            <members::MembersSection access=access />
        }
        .into_any(),
    }
}

/// Short note above the facts of a case the signed-in user may only read.
#[component]
fn ReadOnlyNote(data: CaseData) -> impl IntoView {
    let reason = move || match data.my_role.get() {
        _ if data.is_stakeholder() => {
            "You follow this case as a stakeholder: you read its overview and the sections the \
             case lead shared with you, and you cannot change it."
        }
        Some(CaseRole::Viewer) => {
            "You are a viewer of this case: you can read it but not change it. A lead of the case \
             can change your role."
        }
        _ => {
            "You read this case as a manager and are not one of its members, so you cannot \
              change it."
        }
    };
    view! {
        <p id="case-read-only" class="notice">
            <strong>"Read-only access. "</strong>
            {reason}
        </p>
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
            let zone = shown_zone_name()
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
            <Show when=move || !data.is_stakeholder()>
                <a id="case-report-link" class="button secondary" href=format!("/cases/{}/report", data.number)>
                    "Post-incident report"
                </a>
            </Show>
        </div>
        {move || {
            let text = summary();
            if text.is_empty() {
                view! { <p class="muted">"No summary."</p> }.into_any()
            } else {
                view! { <p id="case-summary-text" class="summary">{text}</p> }.into_any()
            }
        }}
        <Show when=move || !data.can_write.get()>
            <ReadOnlyNote data=data />
        </Show>
        {move || phase.get().map(|phase| view! { <PhaseProgress phase=phase /> })}
        <Show when=move || data.can_write.get()>
            <PhaseControl data=data phase=phase />
        </Show>
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
            <dt>"Access"</dt>
            <dd id="case-restricted-value">
                {move || {
                    if case.with(|case| case.as_ref().is_some_and(|case| case.restricted)) {
                        "Restricted: only members see it"
                    } else {
                        "Members, and managers read-only"
                    }
                }}
            </dd>
            <dt>"Your role"</dt>
            <dd id="case-my-role">
                {move || match data.my_role.get() {
                    _ if data.is_stakeholder() => "Stakeholder (read-only)",
                    Some(role) => role.label(),
                    None => "Not a member (read-only)",
                }}
            </dd>
        </dl>
    }
}

/// The button that moves the case to its next phase, hidden once the case is closed. When
/// the server rejects the move because tasks of the current phase are open, the control shows
/// them and offers a lead of the case or an administrator to move on anyway with a recorded
/// reason, since the server rejects a forced move by anyone else.
#[component]
fn PhaseControl(data: CaseData, phase: Memo<Option<Phase>>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    // Set when the server reported open tasks, so the form for a forced move is shown.
    let blocked = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    let next = Memo::new(move |_| phase.get().and_then(Phase::next));
    let session = use_session();
    let may_force = move || data.my_role.get() == Some(CaseRole::Lead) || session.is_admin();

    let request = move |force: bool| {
        let Some(next) = next.get_untracked() else {
            return;
        };
        if pending.get_untracked() {
            return;
        }
        let reason = reason.get_untracked().trim().to_string();
        if force && reason.is_empty() {
            error.set(Some("The reason is missing; say why the case moves on while tasks are open.".to_string()));
            return;
        }
        pending.set(true);
        let body = PhaseChange {
            phase: next,
            force,
            reason: force.then_some(reason),
        };
        leptos::task::spawn_local(async move {
            let result = api::change_phase(data.number, &body).await;
            pending.set(false);
            match result {
                Ok(case) => {
                    error.set(None);
                    blocked.set(false);
                    data.case.set(Some(Ok(case)));
                    // A phase change may send stakeholders an update.
                    data.notifications.refetch();
                }
                Err(failure) => {
                    blocked.set(failure.detail.field.as_deref() == Some("force"));
                    error.set(Some(failure.detail.message));
                }
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
                    on:click=move |_| request(false)
                >
                    {move || next.get().map(|next| format!("Move to {}", next.label()))}
                </button>
            </Show>
            <div id="phase-error" class="form-error" role="alert">{move || error.get()}</div>
            <Show when=move || blocked.get() && may_force()>
                <div id="phase-force-form" class="inline-form">
                    <label for="phase-force-reason">"Reason for moving on with open tasks (recorded with the change)"</label>
                    <input
                        id="phase-force-reason"
                        type="text"
                        prop:value=move || reason.get()
                        on:input=move |event| reason.set(event_target_value(&event))
                    />
                    <button
                        id="phase-force"
                        type="button"
                        aria-disabled=move || pending.get().then_some("true")
                        on:click=move |_| request(true)
                    >
                        "Move on anyway"
                    </button>
                </div>
            </Show>
        </div>
    }
}
