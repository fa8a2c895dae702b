//! Leaked credentials of a case. Only identifiers are stored; a request that carries a secret
//! is rejected before anything is written.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use rekey_types::{
    contains_secret_key, secret_rejected_message, validate_access_key_id, validate_account_id,
    Credential, CredentialKind, CredentialStatus, NewCredential, PrincipalType,
};
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::{stored_value_error, CaseRef};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{now_millis, time_column};
use crate::error::{parse_json, Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new().route(
        "/cases/{number}/credentials",
        get(list_credentials).post(add_credential),
    )
}

/// Field names under which clients send secrets by mistake.
const SECRET_FIELDS: &[&str] = &[
    "secret",
    "secret_key",
    "secret_access_key",
    "secretaccesskey",
    "aws_secret_access_key",
    "session_token",
    "password",
    "token",
    "private_key",
];

/// Rejects a body that carries a secret, by field name or by the shape of a value.
fn reject_secrets(body: &Value) -> Result<()> {
    let Value::Object(fields) = body else {
        return Ok(());
    };
    for (name, value) in fields {
        if SECRET_FIELDS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(Error::invalid(name, format!("{name}: {}", secret_rejected_message())));
        }
        if let Value::String(text) = value {
            if contains_secret_key(text) {
                return Err(Error::invalid(name, format!("{name}: {}", secret_rejected_message())));
            }
        }
    }
    Ok(())
}

/// Trims an optional text field, treating blank as absent, and checks its length.
fn optional_text(field: &str, value: &Option<String>, max_chars: usize) -> Result<Option<String>> {
    let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max_chars {
        return Err(Error::invalid(field, format!("{field} is longer than {max_chars} characters")));
    }
    Ok(Some(value.to_string()))
}

struct ValidCredential {
    access_key_id: Option<String>,
    principal_name: Option<String>,
    principal_id: Option<String>,
    account_id: Option<String>,
    notes: String,
}

fn validate_credential(input: &NewCredential) -> Result<ValidCredential> {
    use crate::api::cases::plain_text;
    for (field, value) in [("principal_name", &input.principal_name), ("principal_id", &input.principal_id)] {
        if let Some(value) = value {
            plain_text(field, value, false)?;
        }
    }
    plain_text("notes", &input.notes, true)?;
    let access_key_id = optional_text("access_key_id", &input.access_key_id, 128)?;
    if let Some(key) = &access_key_id {
        validate_access_key_id(key).map_err(|message| Error::invalid("access_key_id", message))?;
    }
    let principal_name = optional_text("principal_name", &input.principal_name, 256)?;
    let principal_id = optional_text("principal_id", &input.principal_id, 256)?;
    let account_id = optional_text("account_id", &input.account_id, 64)?;
    if let Some(account) = &account_id {
        validate_account_id(account).map_err(|message| Error::invalid("account_id", message))?;
    }
    if input.kind == CredentialKind::AccessKey && access_key_id.is_none() {
        return Err(Error::invalid(
            "access_key_id",
            "access_key_id is missing; an access key is identified by its id, such as AKIAIOSFODNN7EXAMPLE",
        ));
    }
    if access_key_id.is_none() && principal_name.is_none() {
        return Err(Error::invalid(
            "principal_name",
            "give an access_key_id or a principal_name, so that trail events can be matched to the credential",
        ));
    }
    if input.notes.chars().count() > 5_000 {
        return Err(Error::invalid("notes", "notes are longer than 5,000 characters"));
    }
    Ok(ValidCredential {
        access_key_id,
        principal_name,
        principal_id,
        account_id,
        notes: input.notes.trim().to_string(),
    })
}

pub fn credential_from_row(row: &AnyRow) -> Result<Credential> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let principal_type: Option<String> = row.try_get("principal_type")?;
    let principal_type = match principal_type {
        Some(value) => Some(PrincipalType::parse(&value).ok_or_else(|| stored_value_error("principal_type", &value))?),
        None => None,
    };
    Ok(Credential {
        id: row.try_get("id")?,
        kind: CredentialKind::parse(&kind).ok_or_else(|| stored_value_error("kind", &kind))?,
        access_key_id: row.try_get("access_key_id")?,
        principal_type,
        principal_name: row.try_get("principal_name")?,
        principal_id: row.try_get("principal_id")?,
        account_id: row.try_get("account_id")?,
        status: CredentialStatus::parse(&status).ok_or_else(|| stored_value_error("status", &status))?,
        notes: row.try_get("notes")?,
        created_by: row.try_get("created_by")?,
        created_at: time_column(row, "created_at")?,
        derived_from: row.try_get("derived_from")?,
        proposed: row.try_get::<i64, _>("proposed")? != 0,
    })
}

pub const CREDENTIAL_SELECT: &str = "SELECT k.id, k.kind, k.access_key_id, k.principal_type, k.principal_name, \
    k.principal_id, k.account_id, k.status, k.notes, k.created_at, k.derived_from, k.proposed, \
    u.display_name AS created_by \
    FROM credentials k JOIN users u ON u.id = k.created_by";

pub(crate) async fn list_credentials(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<Credential>>> {
    let sql = format!("{CREDENTIAL_SELECT} WHERE k.case_id = $1 ORDER BY k.id");
    let rows = sqlx::query(&sql).bind(case.id).fetch_all(&state.db.pool).await?;
    let credentials = rows.iter().map(credential_from_row).collect::<Result<_>>()?;
    Ok(Json(credentials))
}

async fn add_credential(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    body: Bytes,
) -> Result<(StatusCode, Json<Credential>)> {
    // Secrets are looked for before the body is parsed into the typed request, so that an
    // unknown field such as "secret_access_key" gets the explanation rather than a generic
    // "unknown field" message.
    let raw: Value = parse_json(&body)?;
    reject_secrets(&raw)?;
    let input: NewCredential = parse_json(&body)?;
    let valid = validate_credential(&input)?;

    let duplicate = match &valid.access_key_id {
        Some(key) => sqlx::query("SELECT id FROM credentials WHERE case_id = $1 AND access_key_id = $2")
            .bind(case.id)
            .bind(key)
            .fetch_optional(&state.db.pool)
            .await?
            .is_some(),
        None => false,
    };
    if duplicate {
        return Err(Error::conflict("access_key_id", "this access key is already recorded on the case"));
    }

    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO credentials (case_id, kind, access_key_id, principal_type, principal_name, \
         principal_id, account_id, status, notes, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(case.id)
    .bind(input.kind.as_str())
    .bind(&valid.access_key_id)
    .bind(input.principal_type.map(|t| t.as_str()))
    .bind(&valid.principal_name)
    .bind(&valid.principal_id)
    .bind(&valid.account_id)
    .bind(CredentialStatus::Suspected.as_str())
    .bind(&valid.notes)
    .bind(user.account.id)
    .bind(now_millis())
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let event = audit::Event::new("credential_added", "credential")
        .entity(id)
        .case(case.id)
        .details(json!({"kind": input.kind, "access_key_id": valid.access_key_id, "principal_name": valid.principal_name}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(case = case.number, credential = id, user = user.account.id, "credential added");
    let sql = format!("{CREDENTIAL_SELECT} WHERE k.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_one(&state.db.pool).await?;
    Ok((StatusCode::CREATED, Json(credential_from_row(&row)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_field_rejected() {
        let body = json!({"kind": "access_key", "secret_access_key": "x"});
        let error = reject_secrets(&body).unwrap_err().to_string();
        assert!(error.contains("never stores secrets"), "{error}");
    }

    #[test]
    fn secret_shaped_value_rejected() {
        let body = json!({"kind": "access_key", "notes": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"});
        assert!(reject_secrets(&body).is_err());
    }

    #[test]
    fn identifiers_accepted() {
        let body = json!({"kind": "access_key", "access_key_id": "AKIATFQR7NSC8Q4X20BJ"});
        assert!(reject_secrets(&body).is_ok());
    }
}
