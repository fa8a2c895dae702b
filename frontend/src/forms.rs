//! Form building blocks: labelled inputs that show the error a check or the server reported
//! for their request field.
//!
//! A form keeps one `FormError`, whose message is shown above the submit button. When the
//! error's field names one of the form's inputs, that input is also marked `aria-invalid` and
//! the message is repeated under it, linked with `aria-describedby`.

use leptos::prelude::*;

use crate::api::ApiError;

/// The error a form shows, or `None`.
pub type FormError = RwSignal<Option<ApiError>>;

/// Tells whether `error` is about the request field `field`. The server names fields as JSON
/// paths, so `credential.access_key_id` also matches `access_key_id`.
fn error_is_for(error: &ApiError, field: &str) -> bool {
    match error.detail.field.as_deref() {
        Some(name) => name == field || name.ends_with(&format!(".{field}")),
        None => false,
    }
}

/// Returns the error message for `field`, tracking `error`.
fn field_message(error: FormError, field: &'static str) -> Option<String> {
    error.with(|error| {
        error
            .as_ref()
            .filter(|error| error_is_for(error, field))
            .map(|error| error.message().to_string())
    })
}

/// Reactive `aria-invalid` value for an input bound to `field`.
pub fn invalid_attr(error: FormError, field: &'static str) -> impl Fn() -> Option<&'static str> {
    move || field_message(error, field).map(|_| "true")
}

/// Reactive `aria-describedby` value: the hint, plus the error message while one is shown.
pub fn described_by(
    error: FormError,
    field: &'static str,
    id: &'static str,
    has_hint: bool,
) -> impl Fn() -> Option<String> {
    move || {
        let mut ids = Vec::new();
        if has_hint {
            ids.push(format!("{id}-hint"));
        }
        if field_message(error, field).is_some() {
            ids.push(format!("{id}-error"));
        }
        (!ids.is_empty()).then(|| ids.join(" "))
    }
}

/// Message under an input, with id `{id}-error`, shown while the form error is about `field`.
#[component]
pub fn FieldError(id: &'static str, field: &'static str, error: FormError) -> impl IntoView {
    move || {
        field_message(error, field).map(|message| {
            view! { <p class="field-error" id=format!("{id}-error")>{message}</p> }
        })
    }
}

/// The form's error message, with id `{id}`, announced by screen readers when it appears.
#[component]
pub fn FormErrorMessage(id: &'static str, error: FormError) -> impl IntoView {
    view! {
        <div id=id class="form-error" role="alert">
            {move || error.with(|error| error.as_ref().map(|error| error.message().to_string()))}
        </div>
    }
}

/// A labelled single-line text input bound to `value`.
#[component]
pub fn TextField(
    /// Element id of the input; the error message gets `{id}-error`, the hint `{id}-hint`.
    id: &'static str,
    label: &'static str,
    /// Request field the input fills, matched against the error's `field`.
    field: &'static str,
    value: RwSignal<String>,
    error: FormError,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] placeholder: Option<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(default = "text")] input_type: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label} {(!required).then_some(view! { <span class="optional">" (optional)"</span> })}</label>
            {hint.map(|hint| view! { <p class="hint" id=format!("{id}-hint")>{hint}</p> })}
            <input
                id=id
                name=field
                type=input_type
                placeholder=placeholder
                autocomplete=autocomplete
                required=required
                aria-invalid=invalid_attr(error, field)
                aria-describedby=described_by(error, field, id, hint.is_some())
                bind:value=value
            />
            <FieldError id=id field=field error=error />
        </div>
    }
}

/// A labelled multi-line text input bound to `value`.
#[component]
pub fn TextArea(
    id: &'static str,
    label: &'static str,
    field: &'static str,
    value: RwSignal<String>,
    error: FormError,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label} <span class="optional">" (optional)"</span></label>
            {hint.map(|hint| view! { <p class="hint" id=format!("{id}-hint")>{hint}</p> })}
            <textarea
                id=id
                name=field
                rows="4"
                aria-invalid=invalid_attr(error, field)
                aria-describedby=described_by(error, field, id, hint.is_some())
                bind:value=value
            ></textarea>
            <FieldError id=id field=field error=error />
        </div>
    }
}

/// A labelled `<select>` whose options are `(wire name, label)` pairs, bound to the wire name
/// in `value`. With `empty_label`, a first option with the empty value means "not set".
#[component]
pub fn SelectField(
    id: &'static str,
    label: &'static str,
    field: &'static str,
    options: Vec<(&'static str, &'static str)>,
    value: RwSignal<String>,
    error: FormError,
    #[prop(optional)] empty_label: Option<&'static str>,
) -> impl IntoView {
    let options = options
        .into_iter()
        .map(|(wire, text)| view! { <option value=wire>{text}</option> })
        .collect_view();
    view! {
        <div class="field">
            <label for=id>
                {label}
                {empty_label.is_some().then_some(view! { <span class="optional">" (optional)"</span> })}
            </label>
            <select
                id=id
                name=field
                aria-invalid=invalid_attr(error, field)
                aria-describedby=described_by(error, field, id, false)
                bind:value=value
            >
                {empty_label.map(|text| view! { <option value="">{text}</option> })}
                {options}
            </select>
            <FieldError id=id field=field error=error />
        </div>
    }
}

/// Returns the trimmed text, or `None` when it is empty.
pub fn optional_text(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}
