//! Evidence of a case: upload form, list, downloads, hash checks, legal hold, links and the
//! chain of custody.

use leptos::html;
use leptos::prelude::*;
use rekey_types::{Evidence, EvidenceDetail, EvidenceLink, EvidenceLinkKind, LegalHoldChange};

use super::imports::{format_size, SHORT_HASH_LEN};
use super::{show_loaded, CaseData};
use crate::api::{self, ApiError, ApiResult};
use crate::time::LocalTime;

#[component]
pub fn EvidenceSection(data: CaseData) -> impl IntoView {
    let number = data.number;
    let evidence = LocalResource::new(move || api::evidence(number));
    view! {
        <section id="evidence-section" aria-labelledby="evidence-heading">
            <h2 id="evidence-heading">"Evidence"</h2>
            <p class="hint">
                "Files kept with the case: screenshots, exports, disk images. Each is stored under \
                 its SHA-256, which is checked again before every download. Imported trail files \
                 are kept here automatically."
            </p>
            <Show when=move || data.can_write.get()>
                <EvidenceForm number=number evidence=evidence />
            </Show>
            {show_loaded(evidence, move |items| view! { <EvidenceTable data=data items=items evidence=evidence /> })}
        </section>
    }
}

#[component]
fn EvidenceForm(number: i64, evidence: LocalResource<ApiResult<Vec<Evidence>>>) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    let description = RwSignal::new(String::new());
    let source = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let Some(element) = input.get_untracked() else {
            return;
        };
        let Some(file) = element.files().and_then(|files| files.get(0)) else {
            error.set(Some(ApiError::invalid("file", "No file selected; choose the file to keep as evidence.")));
            return;
        };
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::upload_evidence(number, &file, &description.get_untracked(), &source.get_untracked()).await;
            pending.set(false);
            match result {
                Ok(_) => {
                    error.set(None);
                    element.set_value("");
                    description.set(String::new());
                    source.set(String::new());
                    evidence.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    view! {
        <form id="evidence-form" class="inline-form" on:submit=submit novalidate>
            <div class="field">
                <label for="evidence-file">"File"</label>
                <input id="evidence-file" name="file" type="file" node_ref=input />
            </div>
            <div class="field">
                <label for="evidence-description">"Description"</label>
                <input id="evidence-description" type="text" maxlength="5000"
                    prop:value=move || description.get()
                    on:input=move |ev| description.set(event_target_value(&ev)) />
            </div>
            <div class="field">
                <label for="evidence-source">"Source"</label>
                <input id="evidence-source" type="text" maxlength="500" placeholder="Where the file came from"
                    prop:value=move || source.get()
                    on:input=move |ev| source.set(event_target_value(&ev)) />
            </div>
            <button id="evidence-upload" type="submit" aria-disabled=move || pending.get().then_some("true")>
                {move || if pending.get() { "Uploading…" } else { "Upload evidence" }}
            </button>
            <div id="evidence-status" role="status" aria-live="polite">
                {move || error.get().map(|e| view! { <p id="evidence-error" class="form-error">{e.detail.message}</p> })}
            </div>
        </form>
    }
}

#[component]
fn EvidenceTable(data: CaseData, items: Vec<Evidence>, evidence: LocalResource<ApiResult<Vec<Evidence>>>) -> impl IntoView {
    if items.is_empty() {
        return view! { <p id="evidence-empty" class="empty">"No evidence yet."</p> }.into_any();
    }
    let rows = items
        .into_iter()
        .map(|item| view! { <EvidenceRow data=data item=item evidence=evidence /> })
        .collect_view();
    view! {
        <table id="evidence-table">
            <thead>
                <tr>
                    <th scope="col">"File"</th>
                    <th scope="col">"Size and type"</th>
                    <th scope="col">"SHA-256"</th>
                    <th scope="col">"Kept"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

fn link_summary(links: &[EvidenceLink]) -> String {
    links
        .iter()
        .map(|link| format!("{} {}", link.kind.label(), link.target_id))
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
fn EvidenceRow(data: CaseData, item: Evidence, evidence: LocalResource<ApiResult<Vec<Evidence>>>) -> impl IntoView {
    let number = data.number;
    let id = item.id;
    let version = item.version;
    let legal_hold = item.legal_hold;
    let check = RwSignal::new(None::<Result<bool, String>>);
    let custody = RwSignal::new(None::<ApiResult<EvidenceDetail>>);
    let action_error = RwSignal::new(None::<String>);
    let short_hash: String = item.sha256.chars().take(SHORT_HASH_LEN).collect();

    let verify = move |_| {
        leptos::task::spawn_local(async move {
            let result = api::verify_evidence(number, id).await;
            check.set(Some(result.map(|c| c.intact).map_err(|e| e.detail.message)));
        });
    };
    let show_custody = move |_| {
        if custody.get_untracked().is_some() {
            custody.set(None);
            return;
        }
        leptos::task::spawn_local(async move {
            custody.set(Some(api::evidence_detail(number, id).await));
        });
    };
    let toggle_hold = move |_| {
        leptos::task::spawn_local(async move {
            let body = LegalHoldChange {
                legal_hold: !legal_hold,
                version,
                reason: String::new(),
            };
            match api::change_legal_hold(number, id, &body).await {
                Ok(_) => evidence.refetch(),
                Err(error) => action_error.set(Some(error.detail.message)),
            }
        });
    };

    let mismatch = item.claimed_media_type.clone().map(|claimed| {
        view! { <span class="badge warning" title="The file name suggests another type than its content">{format!("named as {claimed}")}</span> }
    });
    let links = (!item.links.is_empty()).then(|| view! { <p class="hint">"Linked to " {link_summary(&item.links)}</p> });
    let check_view = move || {
        check.get().map(|result| match result {
            Ok(true) => view! { <span class="status-ok evidence-check">"Hash matches"</span> }.into_any(),
            Ok(false) => view! { <span class="status-failed evidence-check">"Hash mismatch"</span> }.into_any(),
            Err(message) => view! { <span class="form-error evidence-check">{message}</span> }.into_any(),
        })
    };
    let custody_view = move || {
        custody.get().map(|detail| match detail {
            Err(error) => view! { <p class="form-error">{error.detail.message}</p> }.into_any(),
            Ok(detail) => {
                let entries = detail
                    .custody
                    .into_iter()
                    .map(|entry| {
                        view! {
                            <li>
                                <LocalTime time=entry.occurred_at /> " · " {entry.action.label()} " by " {entry.actor}
                                {entry.client_address.map(|address| format!(" from {address}"))}
                                {(!entry.details.is_empty()).then(|| format!(": {}", entry.details))}
                            </li>
                        }
                    })
                    .collect_view();
                view! { <ol class="custody" aria-label="Chain of custody">{entries}</ol> }.into_any()
            }
        })
    };

    view! {
        <tr data-evidence=id>
            <td>
                <strong class="evidence-name">{item.original_name.clone()}</strong>
                {(!item.description.is_empty()).then(|| view! { <p>{item.description.clone()}</p> })}
                {(!item.source.is_empty()).then(|| view! { <p class="hint">"Source: " {item.source.clone()}</p> })}
                {links}
                {custody_view}
            </td>
            <td>{format_size(item.size)} <br /> <code>{item.media_type.clone()}</code> " " {mismatch}</td>
            <td><code title=item.sha256.clone()>{short_hash} "…"</code></td>
            <td>
                <LocalTime time=item.uploaded_at /> <br /> {item.uploaded_by.clone()}
                {legal_hold.then(|| view! { <br /> <span class="badge">"Legal hold"</span> })}
            </td>
            <td class="actions">
                <a class="button secondary" href=api::evidence_content_url(number, id) download=item.original_name.clone() rel="external">"Download"</a>
                <Show when=move || data.can_write.get()>
                    <button type="button" class="secondary evidence-verify" on:click=verify>"Verify hash"</button>
                </Show>
                <button type="button" class="secondary evidence-custody" on:click=show_custody>"Custody"</button>
                <Show when=move || data.is_lead()>
                    <button type="button" class="secondary" on:click=toggle_hold>
                        {if legal_hold { "Lift legal hold" } else { "Place legal hold" }}
                    </button>
                </Show>
                <Show when=move || data.can_write.get()>
                    <LinkForm data=data id=id evidence=evidence />
                </Show>
                {check_view}
                {move || action_error.get().map(|message| view! { <p class="form-error">{message}</p> })}
            </td>
        </tr>
    }
}

/// Records of the case that evidence can be linked to, as `(id, label)`, for one kind. Timeline
/// entries are not listed, because the timeline does not carry their ids; they are linked by id.
fn link_targets(data: CaseData, kind: EvidenceLinkKind) -> Option<Vec<(i64, String)>> {
    let targets = match kind {
        EvidenceLinkKind::Finding => data.findings.get()?.ok()?.into_iter().map(|finding| {
            (finding.id, format!("{} at {}", finding.event_name, crate::time::format_utc(finding.event_time)))
        }).collect(),
        EvidenceLinkKind::ContainmentAction => data
            .containment
            .get()?
            .ok()?
            .into_iter()
            .flat_map(|credential| {
                let label = credential.label.clone();
                credential.actions.into_iter().map(move |action| (action.id, format!("{}: {}", label, action.kind.label())))
            })
            .collect(),
        EvidenceLinkKind::AffectedResource => data
            .resources
            .get()?
            .ok()?
            .into_iter()
            .map(|resource| (resource.id, format!("{} {}", resource.resource_type, resource.resource_id)))
            .collect(),
        EvidenceLinkKind::TimelineEntry => return None,
    };
    Some(targets)
}

/// Links a piece of evidence to a record of the case: chosen from a list, or by id for timeline
/// entries.
#[component]
fn LinkForm(data: CaseData, id: i64, evidence: LocalResource<ApiResult<Vec<Evidence>>>) -> impl IntoView {
    let number = data.number;
    let kind = RwSignal::new(EvidenceLinkKind::Finding);
    let target = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let kind = kind.get_untracked();
        let Ok(target_id) = target.get_untracked().trim().parse::<i64>() else {
            error.set(Some("Choose the record to link, or give its id, such as 12.".to_string()));
            return;
        };
        leptos::task::spawn_local(async move {
            match api::link_evidence(number, id, &EvidenceLink { kind, target_id }).await {
                Ok(_) => evidence.refetch(),
                Err(failure) => error.set(Some(failure.detail.message)),
            }
        });
    };
    let kinds = EvidenceLinkKind::ALL
        .iter()
        .map(|kind| view! { <option value=kind.as_str()>{kind.label()}</option> })
        .collect_view();
    let target_input = move || match link_targets(data, kind.get()) {
        Some(targets) => {
            let options = targets
                .into_iter()
                .map(|(target_id, label)| view! { <option value=target_id.to_string()>{label}</option> })
                .collect_view();
            view! {
                <select class="evidence-link-target" aria-label="Record"
                    on:change=move |ev| target.set(event_target_value(&ev))>
                    <option value="">"Choose…"</option>
                    {options}
                </select>
            }
            .into_any()
        }
        None => view! {
            <input type="text" inputmode="numeric" size="5" aria-label="Record id" prop:value=move || target.get()
                on:input=move |ev| target.set(event_target_value(&ev)) />
        }
        .into_any(),
    };
    view! {
        <form class="evidence-link" on:submit=submit novalidate>
            <label>
                "Link to "
                <select on:change=move |ev| {
                    if let Some(chosen) = EvidenceLinkKind::parse(&event_target_value(&ev)) {
                        kind.set(chosen);
                        target.set(String::new());
                    }
                }>{kinds}</select>
            </label>
            {target_input}
            <button type="submit" class="secondary">"Link"</button>
            {move || error.get().map(|message| view! { <p class="form-error">{message}</p> })}
        </form>
    }
}
