//! Impact records, affected resources with their owners, and the recovery actions for each
//! resource.

use leptos::prelude::*;
use rekey_types::{
    AffectedResource, ImpactInput, ImpactKind, ImpactRecord, ImpactSeverity, NewRecoveryAction,
    RecoveryAction, RecoveryActionUpdate, RecoveryKind, RecoveryStatus, ResourceInput,
};

use super::{show_loaded, CaseData};
use crate::api::{self, ApiError, ApiResult};
use crate::forms::optional_text;
use crate::time::LocalTime;

/// Shows an API error, and for a stale version a button that reloads the section's data.
pub(crate) fn error_view(
    error: RwSignal<Option<ApiError>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let stale =
        move || error.with(|e| e.as_ref().is_some_and(|e| e.detail.code == "stale_version"));
    view! {
        <div class="form-error" role="alert">
            {move || error.get().map(|e| e.detail.message)}
            <Show when=stale>
                " "
                <button type="button" class="secondary reload" on:click=move |_| reload()>"Reload"</button>
            </Show>
        </div>
    }
}

/// Runs a request unless one is pending, then clears the error and reloads, or shows the error.
pub(super) fn run<T: 'static>(
    pending: RwSignal<bool>,
    error: RwSignal<Option<ApiError>>,
    reload: impl Fn() + 'static,
    request: impl std::future::Future<Output = ApiResult<T>> + 'static,
) {
    if pending.get_untracked() {
        return;
    }
    pending.set(true);
    leptos::task::spawn_local(async move {
        let result = request.await;
        pending.set(false);
        match result {
            Ok(_) => {
                error.set(None);
                reload();
            }
            Err(failure) => error.set(Some(failure)),
        }
    });
}

#[component]
pub fn ImpactSection(data: CaseData) -> impl IntoView {
    let impacts = LocalResource::new(move || api::impacts(data.number));
    view! {
        <section id="impact-section" aria-labelledby="impact-heading">
            <h2 id="impact-heading">"Impact"</h2>
            {show_loaded(impacts, |records| view! { <ImpactList records=records /> })}
            <ImpactForm number=data.number reload=move || impacts.refetch() />
        </section>
    }
}

#[component]
fn ImpactList(records: Vec<ImpactRecord>) -> impl IntoView {
    if records.is_empty() {
        return view! { <p id="impacts-empty" class="muted">"Impact not yet assessed."</p> }
            .into_any();
    }
    let items = records
        .into_iter()
        .map(|record| {
            let severity = record.severity.map(|s| format!(", severity {}", s.label()));
            let users = record.users_affected.map(|count| format!(", {count} user(s) affected"));
            view! {
                <li class="impact" data-kind=record.kind.as_str()>
                    <strong>{record.kind.label()}</strong>
                    {severity}
                    {users}
                    {(!record.description.is_empty()).then(|| format!(": {}", record.description))}
                    <span class="muted">" (" {record.created_by} ", " <LocalTime time=record.created_at /> ")"</span>
                </li>
            }
        })
        .collect_view();
    view! { <ul id="impacts">{items}</ul> }.into_any()
}

#[component]
fn ImpactForm(number: i64, reload: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let kind = RwSignal::new(ImpactKind::EndUserImpact.as_str().to_string());
    let severity = RwSignal::new(String::new());
    let users = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);

    let record_none = move |_| {
        let body = ImpactInput {
            kind: ImpactKind::NoEndUserImpact,
            description: "No end-user impact found.".to_string(),
            users_affected: None,
            severity: None,
            version: None,
        };
        run(pending, error, reload, async move {
            api::add_impact(number, &body).await
        });
    };
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(kind) = ImpactKind::parse(&kind.get_untracked()) else {
            return;
        };
        let users_affected =
            match optional_text(&users.get_untracked()).map(|text| text.parse::<i64>()) {
                None => None,
                Some(Ok(count)) => Some(count),
                Some(Err(_)) => {
                    error.set(Some(ApiError::invalid(
                        "users_affected",
                        "Users affected must be a whole number.",
                    )));
                    return;
                }
            };
        let body = ImpactInput {
            kind,
            description: description.get_untracked(),
            users_affected,
            severity: ImpactSeverity::parse(&severity.get_untracked()),
            version: None,
        };
        run(pending, error, reload, async move {
            api::add_impact(number, &body).await
        });
    };
    let kinds = ImpactKind::ALL
        .iter()
        .map(|k| view! { <option value=k.as_str()>{k.label()}</option> })
        .collect_view();
    let severities = ImpactSeverity::ALL
        .iter()
        .map(|s| view! { <option value=s.as_str()>{s.label()}</option> })
        .collect_view();

    view! {
        <p>
            <button id="impact-none" type="button" class="secondary" on:click=record_none>
                "Record: no end-user impact"
            </button>
        </p>
        <form id="impact-form" class="inline-form" on:submit=submit novalidate>
            <h3>"Record an impact"</h3>
            <label>"Kind " <select id="impact-kind" bind:value=kind>{kinds}</select></label>
            " "
            <label>
                "Severity "
                <select id="impact-severity" bind:value=severity>
                    <option value="">"None"</option>
                    {severities}
                </select>
            </label>
            " "
            <label>"Users affected " <input id="impact-users" type="text" inputmode="numeric" bind:value=users /></label>
            " "
            <label>"Description " <input id="impact-description" type="text" bind:value=description /></label>
            " "
            <button id="impact-add" type="submit" aria-disabled=move || pending.get().then_some("true")>"Record impact"</button>
            {error_view(error, reload)}
        </form>
    }
}

#[component]
pub fn ResourcesSection(data: CaseData) -> impl IntoView {
    let reload = move || data.resources.refetch();
    view! {
        <section id="resources-section" aria-labelledby="resources-heading">
            <h2 id="resources-heading">"Affected resources and recovery"</h2>
            <p class="muted">"Resources named by findings are added automatically."</p>
            {show_loaded(data.resources, move |resources| {
                if resources.is_empty() {
                    return view! { <p id="resources-empty" class="muted">"No affected resources yet."</p> }.into_any();
                }
                resources
                    .into_iter()
                    .map(|resource| view! { <ResourceCard number=data.number resource=resource reload=reload /> })
                    .collect_view()
                    .into_any()
            })}
            <ResourceForm number=data.number reload=reload />
        </section>
    }
}

/// The browser's current time in RFC 3339. chrono's clock is not available in WebAssembly
/// without its `wasmbind` feature, so the time comes from JavaScript's `Date`.
fn now_rfc3339() -> String {
    js_sys::Date::new_0().to_iso_string().into()
}

/// Builds the request that saves a resource unchanged except for the given owner fields.
fn resource_edit(
    resource: &AffectedResource,
    owner_name: String,
    owner_email: String,
    notified: Option<String>,
) -> ResourceInput {
    ResourceInput {
        resource_type: resource.resource_type.clone(),
        resource_id: resource.resource_id.clone(),
        name: resource.name.clone(),
        account_id: resource.account_id.clone(),
        region: resource.region.clone(),
        owner_name: optional_text(&owner_name),
        owner_email: optional_text(&owner_email),
        owner_notified_at: notified
            .or_else(|| resource.owner_notified_at.map(|time| time.to_rfc3339())),
        version: Some(resource.version),
    }
}

#[component]
fn ResourceCard(
    number: i64,
    resource: AffectedResource,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let owner_name = RwSignal::new(resource.owner_name.clone().unwrap_or_default());
    let owner_email = RwSignal::new(resource.owner_email.clone().unwrap_or_default());
    let kind = RwSignal::new(RecoveryKind::ALL[0].as_str().to_string());
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);
    let id = resource.id;
    let stored = StoredValue::new(resource.clone());

    let save_owner = move |notified: Option<String>| {
        let body = stored.with_value(|resource| {
            resource_edit(
                resource,
                owner_name.get_untracked(),
                owner_email.get_untracked(),
                notified,
            )
        });
        run(pending, error, reload, async move {
            api::replace_resource(number, id, &body).await
        });
    };
    let add_recovery = move |_| {
        let Some(kind) = RecoveryKind::parse(&kind.get_untracked()) else {
            return;
        };
        let body = NewRecoveryAction {
            kind,
            status: RecoveryStatus::Planned,
            notes: String::new(),
        };
        run(pending, error, reload, async move {
            api::add_recovery_action(number, id, &body).await
        });
    };
    let kinds = RecoveryKind::ALL
        .iter()
        .map(|k| view! { <option value=k.as_str()>{k.label()}</option> })
        .collect_view();
    let place = [resource.account_id.clone(), resource.region.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" / ");
    let notified = match resource.owner_notified_at {
        Some(time) => {
            view! { <span class="owner-notified">"Owner notified " <LocalTime time=time /></span> }
                .into_any()
        }
        None => view! { <span class="owner-not-notified muted">"Owner not yet notified"</span> }
            .into_any(),
    };
    let actions = resource
        .recovery_actions
        .iter()
        .cloned()
        .map(|action| view! { <RecoveryItem number=number action=action reload=reload /> })
        .collect_view();

    view! {
        <div class="affected-resource" data-resource=id data-resource-id=resource.resource_id.clone()>
            <h3>
                <code>{resource.resource_type.clone()}</code>
                " "
                {resource.name.clone()}
                " "
                <span class="muted">{place}</span>
            </h3>
            <p class="muted">
                {resource.resource_id.clone()}
                {format!(" · {} finding(s)", resource.finding_ids.len())}
            </p>
            <div class="owner">
                <label>"Owner " <input type="text" class="owner-name" bind:value=owner_name /></label>
                " "
                <label>"Owner email " <input type="email" class="owner-email" bind:value=owner_email /></label>
                " "
                <button type="button" class="secondary owner-save" on:click=move |_| save_owner(None)>"Save owner"</button>
                " "
                <button type="button" class="secondary owner-notified-now" on:click=move |_| save_owner(Some(now_rfc3339()))>
                    "Owner notified now"
                </button>
                " "
                {notified}
            </div>
            <h4>"Recovery actions"</h4>
            <ul class="recovery-actions">{actions}</ul>
            <label>"Recovery " <select class="recovery-kind" bind:value=kind>{kinds}</select></label>
            " "
            <button type="button" class="recovery-add" on:click=add_recovery>"Add recovery action"</button>
            {error_view(error, reload)}
        </div>
    }
}

#[component]
fn RecoveryItem(
    number: i64,
    action: RecoveryAction,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);
    let (id, version) = (action.id, action.version);
    let update = move |body: RecoveryActionUpdate| {
        run(pending, error, reload, async move {
            api::update_recovery_action(number, id, &body).await
        });
    };
    let finished = action.performed_by.clone().zip(action.done_at).map(
        |(by, at)| view! { <span class="muted">" by " {by} ", " <LocalTime time=at /></span> },
    );
    let cmdb = if action.cmdb_updated {
        " · CMDB updated"
    } else {
        " · CMDB not updated"
    };

    view! {
        <li class="recovery-action" data-recovery=id data-status=action.status.as_str()>
            <strong>{action.kind.label()}</strong>
            {format!(": {}", action.status.label())}
            {finished}
            {cmdb}
            " "
            <Show when=move || action.status != RecoveryStatus::Done>
                <button
                    type="button"
                    class="secondary recovery-done"
                    on:click=move |_| update(RecoveryActionUpdate { version, status: Some(RecoveryStatus::Done), ..Default::default() })
                >
                    "Mark done"
                </button>
            </Show>
            <Show when=move || !action.cmdb_updated>
                <button
                    type="button"
                    class="secondary recovery-cmdb"
                    on:click=move |_| update(RecoveryActionUpdate { version, cmdb_updated: Some(true), ..Default::default() })
                >
                    "CMDB updated"
                </button>
            </Show>
            {error_view(error, reload)}
        </li>
    }
}

#[component]
fn ResourceForm(number: i64, reload: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let resource_type = RwSignal::new(String::new());
    let resource_id = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let account_id = RwSignal::new(String::new());
    let region = RwSignal::new(String::new());
    let owner_name = RwSignal::new(String::new());
    let owner_email = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let body = ResourceInput {
            resource_type: resource_type.get_untracked(),
            resource_id: resource_id.get_untracked(),
            name: name.get_untracked(),
            account_id: optional_text(&account_id.get_untracked()),
            region: optional_text(&region.get_untracked()),
            owner_name: optional_text(&owner_name.get_untracked()),
            owner_email: optional_text(&owner_email.get_untracked()),
            owner_notified_at: None,
            version: None,
        };
        run(pending, error, reload, async move {
            api::add_resource(number, &body).await
        });
    };

    view! {
        <form id="resource-form" class="inline-form" on:submit=submit novalidate>
            <h3>"Add an affected resource"</h3>
            <label>"Type " <input id="resource-type" type="text" placeholder="ec2:instance" bind:value=resource_type /></label>
            " "
            <label>"Id or ARN " <input id="resource-id" type="text" bind:value=resource_id /></label>
            " "
            <label>"Name " <input id="resource-name" type="text" bind:value=name /></label>
            " "
            <label>"Account " <input id="resource-account" type="text" bind:value=account_id /></label>
            " "
            <label>"Region " <input id="resource-region" type="text" bind:value=region /></label>
            " "
            <label>"Owner " <input id="resource-owner-name" type="text" bind:value=owner_name /></label>
            " "
            <label>"Owner email " <input id="resource-owner-email" type="email" bind:value=owner_email /></label>
            " "
            <button id="resource-add" type="submit" aria-disabled=move || pending.get().then_some("true")>"Add resource"</button>
            {error_view(error, reload)}
        </form>
    }
}
