//! Derived credentials: credentials that a case credential created, found in the trail.
//!
//! An import proposes each credential that a matched call created (see
//! [`rekey_trail::derived_credentials`]) as a suspected credential with `proposed = 1` and
//! `derived_from` set to its creator. A proposed credential matches no event, because it may be
//! a false lead. The events that no credential matched, from the compromise time on, are kept in
//! `unmatched_events`. Confirming a credential moves the kept events it made into
//! `trail_events`, turns the sensitive ones into findings, and proposes what those events created
//! in turn. Confirming each new proposal repeats this until no new credential appears, without
//! uploading the trail again.

use chrono::SecondsFormat;
use rekey_trail::{derived_credentials, DerivedCredential, DerivedKind, DerivedPrincipal, Event};
use rekey_types::{validate_access_key_id, CredentialConfirmation, CredentialKind, CredentialStatus, PrincipalType};
use serde_json::json;
use sqlx::Row;

use crate::api::cases::CaseRef;
use crate::api::credentials::{credential_from_row, CREDENTIAL_SELECT};
use crate::audit;
use crate::config::Settings;
use crate::db::{to_millis, Db, Tx};
use crate::error::{Error, Result};
use crate::import::{insert_event, insert_finding, notify_findings, Importer};
use crate::rules::load_rule_set;

/// Maximum number of events that [`keep_unmatched`] inserts with one statement. sqlx's SQLite
/// driver looks up each bound value's name in a list as long as the statement's, so binding
/// takes time quadratic in the row count, and larger batches made the import slower again.
pub(crate) const KEEP_UNMATCHED_BATCH: usize = 64;

/// Keeps events that no credential matched, for a later re-analysis, with one INSERT of up to
/// [`KEEP_UNMATCHED_BATCH`] rows, because a statement per event made large imports wait on the
/// database. An event id the case already keeps is skipped.
pub(crate) async fn keep_unmatched(tx: &mut Tx, case: CaseRef, import_id: i64, events: &[Event]) -> Result<()> {
    for batch in events.chunks(KEEP_UNMATCHED_BATCH) {
        let rows: Vec<String> = (0..batch.len())
            .map(|row| {
                let first = row * 7 + 1;
                let placeholders: Vec<String> = (first..first + 7).map(|n| format!("${n}")).collect();
                format!("({})", placeholders.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO unmatched_events (case_id, import_id, event_id, event_time, access_key_id, principal_name, raw) \
             VALUES {} ON CONFLICT (case_id, event_id) DO NOTHING",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for event in batch {
            query = query
                .bind(case.id)
                .bind(import_id)
                .bind(&event.event_id)
                .bind(to_millis(event.event_time))
                .bind(&event.access_key_id)
                .bind(&event.principal_name)
                .bind(&event.raw);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Removes a kept event once a credential matched it.
pub(crate) async fn forget_unmatched(tx: &mut Tx, case: CaseRef, event_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM unmatched_events WHERE case_id = $1 AND event_id = $2")
        .bind(case.id)
        .bind(event_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Proposes the credentials that `event`, a call of credential `creator`, created. Returns how
/// many were new to the case: a key id already on the case, or a user name already recorded
/// without a key, is not proposed again.
pub(crate) async fn propose_derived(
    tx: &mut Tx,
    case: CaseRef,
    user_id: i64,
    creator: i64,
    event: &Event,
) -> Result<i64> {
    let mut proposed = 0;
    for derived in derived_credentials(event) {
        if let Some(key) = &derived.access_key_id {
            if let Err(message) = validate_access_key_id(key) {
                tracing::warn!(case = case.number, event = %event.event_id, %message, "derived access key id skipped");
                continue;
            }
        }
        if already_recorded(tx, case, &derived).await? {
            continue;
        }
        let notes = format!(
            "Proposed from the trail: created by {} at {} (event {}).",
            event.event_name,
            event.event_time.to_rfc3339_opts(SecondsFormat::Secs, true),
            event.event_id
        );
        sqlx::query(
            "INSERT INTO credentials (case_id, kind, access_key_id, principal_type, principal_name, principal_id, \
             status, notes, created_by, created_at, derived_from, proposed, derived_event_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12)",
        )
        .bind(case.id)
        .bind(credential_kind(derived.kind).as_str())
        .bind(&derived.access_key_id)
        .bind(derived.principal_type.map(|principal| principal_type(principal).as_str()))
        .bind(&derived.principal_name)
        .bind(&derived.principal_id)
        .bind(CredentialStatus::Suspected.as_str())
        .bind(&notes)
        .bind(user_id)
        .bind(crate::db::now_millis())
        .bind(creator)
        .bind(&event.event_id)
        .execute(&mut **tx)
        .await?;
        proposed += 1;
    }
    Ok(proposed)
}

async fn already_recorded(tx: &mut Tx, case: CaseRef, derived: &DerivedCredential) -> Result<bool> {
    let row = match (&derived.access_key_id, &derived.principal_name) {
        (Some(key), _) => {
            sqlx::query("SELECT id FROM credentials WHERE case_id = $1 AND access_key_id = $2")
                .bind(case.id)
                .bind(key)
                .fetch_optional(&mut **tx)
                .await?
        }
        (None, Some(name)) => {
            sqlx::query(
                "SELECT id FROM credentials WHERE case_id = $1 AND access_key_id IS NULL AND principal_name = $2",
            )
            .bind(case.id)
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?
        }
        (None, None) => return Ok(true),
    };
    Ok(row.is_some())
}

fn credential_kind(kind: DerivedKind) -> CredentialKind {
    match kind {
        DerivedKind::AccessKey => CredentialKind::AccessKey,
        DerivedKind::TemporaryCredentials => CredentialKind::TemporaryRoleCredentials,
        DerivedKind::UserPassword => CredentialKind::IamUserPassword,
        DerivedKind::User => CredentialKind::Other,
    }
}

fn principal_type(principal: DerivedPrincipal) -> PrincipalType {
    match principal {
        DerivedPrincipal::User => PrincipalType::User,
        DerivedPrincipal::Role => PrincipalType::Role,
        DerivedPrincipal::Other => PrincipalType::Other,
    }
}

/// Confirms credential `credential_id` of `case` and re-analyses the kept events for it, all in
/// one transaction with its audit row and the email about new findings. Confirming a credential
/// that is already confirmed repeats the re-analysis, which finds nothing new.
///
/// # Errors
/// 404 when the case has no such credential; 409 when it is marked a false positive.
pub async fn confirm_credential(
    db: &Db,
    settings: &Settings,
    case: CaseRef,
    confirmer: &Importer,
    credential_id: i64,
) -> Result<CredentialConfirmation> {
    let user_id = confirmer.user_id;
    let rules = load_rule_set(db).await?;
    let mut tx = db.begin().await?;
    let row = sqlx::query(
        "SELECT access_key_id, principal_name, status, proposed FROM credentials WHERE id = $1 AND case_id = $2",
    )
    .bind(credential_id)
    .bind(case.id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(Error::NotFound("credential"))?;
    let access_key_id: Option<String> = row.try_get("access_key_id")?;
    let principal_name: Option<String> = row.try_get("principal_name")?;
    let status: String = row.try_get("status")?;
    let proposed: i64 = row.try_get("proposed")?;
    if status == CredentialStatus::FalsePositive.as_str() {
        return Err(Error::conflict(
            "status",
            "the credential is marked a false positive; change its status before confirming it",
        ));
    }

    // Only a suspected credential becomes confirmed, so a later status such as disabled stays.
    sqlx::query(
        "UPDATE credentials SET proposed = 0, \
         status = CASE WHEN status = $1 THEN $2 ELSE status END WHERE id = $3",
    )
    .bind(CredentialStatus::Suspected.as_str())
    .bind(CredentialStatus::Confirmed.as_str())
    .bind(credential_id)
    .execute(&mut *tx)
    .await?;

    let kept = kept_events_of(&mut tx, case, access_key_id.as_deref(), principal_name.as_deref()).await?;
    let mut events_added = 0;
    let mut findings = Vec::new();
    let mut credentials_proposed = 0;
    for (import_id, raw) in kept {
        let event = Event::from_json(raw).map_err(|message| anyhow::anyhow!("kept trail event is invalid: {message}"))?;
        forget_unmatched(&mut tx, case, &event.event_id).await?;
        let Some(event_row) = insert_event(&mut tx, case, import_id, credential_id, &event).await? else {
            continue;
        };
        events_added += 1;
        if let Some(rule) = rules.classify_event(&event) {
            findings.push(insert_finding(&mut tx, case, &event, event_row, rule).await?);
        }
        credentials_proposed += propose_derived(&mut tx, case, user_id, credential_id, &event).await?;
    }

    let sql = format!("{CREDENTIAL_SELECT} WHERE k.id = $1");
    let row = sqlx::query(&sql).bind(credential_id).fetch_one(&mut *tx).await?;
    let credential = credential_from_row(&row)?;
    let findings_added = i64::try_from(findings.len()).unwrap_or(i64::MAX);
    let event = audit::Event::new("update", "credential")
        .entity(credential_id)
        .case(case.id)
        .details(json!({
            "before": {"status": status, "proposed": proposed != 0},
            "after": {"status": credential.status, "proposed": credential.proposed},
            "events_added": events_added,
            "findings_added": findings_added,
            "credentials_proposed": credentials_proposed,
        }));
    audit::append(&mut tx, &confirmer.actor, event).await?;
    notify_findings(&mut tx, settings, case, confirmer, findings).await?;
    tx.commit().await?;
    tracing::info!(
        case = case.number,
        credential = credential_id,
        user = user_id,
        events_added,
        findings_added,
        credentials_proposed,
        "credential confirmed and trail re-analysed"
    );
    Ok(CredentialConfirmation {
        credential,
        events_added,
        findings_added,
        credentials_proposed,
    })
}

/// Returns the import id and JSON text of each kept event that the credential made at or after
/// the case's compromise time, oldest first. A credential with a key id matches that key only;
/// one without matches its principal name, as [`rekey_trail::CredentialMatcher`] does.
async fn kept_events_of(
    tx: &mut Tx,
    case: CaseRef,
    access_key_id: Option<&str>,
    principal_name: Option<&str>,
) -> Result<Vec<(i64, String)>> {
    let (column, value) = match (access_key_id, principal_name) {
        (Some(key), _) => ("access_key_id", key),
        (None, Some(name)) => ("principal_name", name),
        (None, None) => return Ok(Vec::new()),
    };
    let sql = format!(
        "SELECT u.import_id, u.raw FROM unmatched_events u JOIN cases c ON c.id = u.case_id \
         WHERE u.case_id = $1 AND u.{column} = $2 AND u.event_time >= c.compromise_time \
         ORDER BY u.event_time, u.id"
    );
    let rows = sqlx::query(&sql).bind(case.id).bind(value).fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|row| Ok((row.try_get("import_id")?, row.try_get("raw")?)))
        .collect()
}
