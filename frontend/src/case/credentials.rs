//! Leaked credentials of a case: table and add form.

use leptos::prelude::*;
use rekey_types::{
    looks_like_secret_key, secret_rejected_message, validate_access_key_id, validate_account_id,
    Credential, CredentialKind, NewCredential, PrincipalType,
};

use super::{show_loaded, CaseData};
use crate::api::{self, ApiError};
use crate::forms::{optional_text, FormError, FormErrorMessage, SelectField, TextArea, TextField};
use crate::time::LocalTime;

/// Form values of a new credential, as typed.
struct CredentialForm {
    kind: String,
    access_key_id: String,
    principal_type: String,
    principal_name: String,
    principal_id: String,
    account_id: String,
    notes: String,
}

/// Returns the error for the first text field that contains a word shaped like a secret access
/// key, so the secret never leaves the browser.
fn find_secret(fields: &[(&str, &str)]) -> Option<ApiError> {
    fields.iter().find_map(|(field, value)| {
        value
            .split_whitespace()
            .any(looks_like_secret_key)
            .then(|| ApiError::invalid(field, secret_rejected_message()))
    })
}

/// Builds the request from the form's values, or the error of the first invalid one.
fn new_credential_request(form: CredentialForm) -> Result<NewCredential, ApiError> {
    let kind = CredentialKind::parse(&form.kind)
        .ok_or_else(|| ApiError::invalid("kind", "Choose the kind of credential."))?;
    let principal_type = match form.principal_type.as_str() {
        "" => None,
        value => Some(PrincipalType::parse(value).ok_or_else(|| {
            ApiError::invalid(
                "principal_type",
                "Choose a principal type or leave it empty.",
            )
        })?),
    };
    let access_key_id = optional_text(&form.access_key_id);
    let principal_name = optional_text(&form.principal_name);
    let principal_id = optional_text(&form.principal_id);
    let account_id = optional_text(&form.account_id);

    if let Some(error) = find_secret(&[
        ("principal_name", principal_name.as_deref().unwrap_or("")),
        ("principal_id", principal_id.as_deref().unwrap_or("")),
        ("notes", &form.notes),
    ]) {
        return Err(error);
    }
    if let Some(id) = &access_key_id {
        validate_access_key_id(id)
            .map_err(|message| ApiError::invalid("access_key_id", message))?;
    }
    if let Some(id) = &account_id {
        validate_account_id(id).map_err(|message| ApiError::invalid("account_id", message))?;
    }
    let identified = [&access_key_id, &principal_name, &principal_id]
        .iter()
        .any(|value| value.is_some());
    if !identified {
        return Err(ApiError::invalid(
            "access_key_id",
            "Enter at least one identifier of the credential: its access key id, or the user or \
             role name or id it belongs to.",
        ));
    }
    Ok(NewCredential {
        kind,
        access_key_id,
        principal_type,
        principal_name,
        principal_id,
        account_id,
        notes: form.notes.trim().to_string(),
    })
}

#[component]
pub fn CredentialsSection(data: CaseData) -> impl IntoView {
    view! {
        <section id="credentials-section" aria-labelledby="credentials-heading">
            <h2 id="credentials-heading">"Leaked credentials"</h2>
            {show_loaded(data.credentials, |credentials| view! { <CredentialTable credentials=credentials /> })}
            <Show when=move || data.can_write.get()>
                <CredentialForm data=data />
            </Show>
        </section>
    }
}

#[component]
fn CredentialTable(credentials: Vec<Credential>) -> impl IntoView {
    let empty = credentials.is_empty();
    let rows = credentials
        .into_iter()
        .map(|credential| {
            let principal = match (credential.principal_type, &credential.principal_name) {
                (Some(kind), Some(name)) => format!("{}: {name}", kind.label()),
                (Some(kind), None) => kind.label().to_string(),
                (None, Some(name)) => name.clone(),
                (None, None) => String::new(),
            };
            view! {
                <tr data-credential=credential.id>
                    <td><code>{credential.access_key_id.unwrap_or_default()}</code></td>
                    <td>{credential.kind.label()}</td>
                    <td>{principal}</td>
                    <td><code>{credential.principal_id.unwrap_or_default()}</code></td>
                    <td><code>{credential.account_id.unwrap_or_default()}</code></td>
                    <td>
                        {credential.status.label()}
                        {credential.proposed.then(|| view! { <span class="proposed">" (proposed)"</span> })}
                    </td>
                    <td class="notes">{credential.notes}</td>
                    <td>{credential.created_by} ", " <LocalTime time=credential.created_at /></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table id="credentials">
                <thead>
                    <tr>
                        <th scope="col">"Access key id"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Principal"</th>
                        <th scope="col">"Principal id"</th>
                        <th scope="col">"Account"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Notes"</th>
                        <th scope="col">"Added"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {empty.then(|| view! { <p id="credentials-empty" class="muted">"No credentials recorded yet."</p> })}
    }
}

#[component]
fn CredentialForm(data: CaseData) -> impl IntoView {
    let kind = RwSignal::new(CredentialKind::default().as_str().to_string());
    let access_key_id = RwSignal::new(String::new());
    let principal_type = RwSignal::new(String::new());
    let principal_name = RwSignal::new(String::new());
    let principal_id = RwSignal::new(String::new());
    let account_id = RwSignal::new(String::new());
    let notes = RwSignal::new(String::new());
    let error: FormError = RwSignal::new(None);
    let pending = RwSignal::new(false);
    let added = RwSignal::new(None::<String>);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        added.set(None);
        let request = new_credential_request(CredentialForm {
            kind: kind.get_untracked(),
            access_key_id: access_key_id.get_untracked(),
            principal_type: principal_type.get_untracked(),
            principal_name: principal_name.get_untracked(),
            principal_id: principal_id.get_untracked(),
            account_id: account_id.get_untracked(),
            notes: notes.get_untracked(),
        });
        let request = match request {
            Ok(request) => request,
            Err(invalid) => {
                error.set(Some(invalid));
                return;
            }
        };
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = api::add_credential(data.number, &request).await;
            pending.set(false);
            match result {
                Ok(credential) => {
                    error.set(None);
                    let name = credential
                        .access_key_id
                        .or(credential.principal_name)
                        .or(credential.principal_id)
                        .unwrap_or_else(|| format!("#{}", credential.id));
                    added.set(Some(format!("Added credential {name}.")));
                    for field in [
                        access_key_id,
                        principal_name,
                        principal_id,
                        account_id,
                        notes,
                    ] {
                        field.set(String::new());
                    }
                    data.credentials.refetch();
                    data.containment.refetch();
                    data.case.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    let kind_options = CredentialKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label()))
        .collect();
    let principal_options = PrincipalType::ALL
        .iter()
        .map(|p| (p.as_str(), p.label()))
        .collect();

    view! {
        <form id="credential-form" class="inline-form" on:submit=submit novalidate>
            <h3>"Add a leaked credential"</h3>
            <p class="hint">"Record identifiers only. Rekey never stores the secret itself."</p>
            <div class="field-grid">
                <SelectField
                    id="credential-kind"
                    label="Kind"
                    field="kind"
                    options=kind_options
                    value=kind
                    error=error
                />
                <TextField
                    id="credential-access-key-id"
                    label="Access key id"
                    field="access_key_id"
                    value=access_key_id
                    error=error
                    placeholder="AKIAIOSFODNN7EXAMPLE"
                />
                <SelectField
                    id="credential-principal-type"
                    label="Principal type"
                    field="principal_type"
                    options=principal_options
                    value=principal_type
                    error=error
                    empty_label="Not known"
                />
                <TextField
                    id="credential-principal-name"
                    label="User or role name"
                    field="principal_name"
                    value=principal_name
                    error=error
                />
                <TextField
                    id="credential-principal-id"
                    label="User or role id"
                    field="principal_id"
                    value=principal_id
                    error=error
                    placeholder="AIDAEXAMPLE…"
                />
                <TextField
                    id="credential-account-id"
                    label="Account id"
                    field="account_id"
                    value=account_id
                    error=error
                    placeholder="123456789012"
                />
            </div>
            <TextArea id="credential-notes" label="Notes" field="notes" value=notes error=error />
            <FormErrorMessage id="credential-error" error=error />
            <p id="credential-added" class="success" role="status">{move || added.get()}</p>
            <button id="credential-add" type="submit" aria-disabled=move || pending.get().then_some("true")>
                {move || if pending.get() { "Adding…" } else { "Add credential" }}
            </button>
        </form>
    }
}
