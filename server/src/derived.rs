//! Derived credentials: credentials that a case credential created, found in the trail.
//!
//! An import proposes each credential that a matched call created (see
//! [`rekey_trail::derived_credentials`]) as a suspected credential with `proposed = 1` and
//! `derived_from` set to its creator. A proposed credential matches no event, because it may be
//! a false lead. Every import keeps its trail files as evidence. Confirming a credential reads
//! those files again, checking each against its SHA-256, stores the calls the credential made
//! from the compromise time on in `trail_events`, turns the sensitive ones into findings, and
//! proposes what those calls created in turn. Confirming each new proposal repeats this until no
//! new credential appears, without uploading the trail again.

use chrono::SecondsFormat;
use std::sync::Arc;

use rekey_trail::{
    derived_credentials, CaseCredential, CredentialMatcher, DerivedCredential, DerivedKind, DerivedPrincipal, Event,
    ReadOptions,
};
use rekey_types::{validate_access_key_id, CredentialConfirmation, CredentialKind, CredentialStatus, PrincipalType};
use serde_json::json;
use sqlx::Row;

use crate::api::cases::CaseRef;
use crate::api::credentials::{credential_from_row, CREDENTIAL_SELECT};
use crate::audit;
use crate::config::Settings;
use crate::db::{from_millis, Db, Tx};
use crate::evidence::EvidenceStore;
use crate::error::{Error, Result};
use crate::import::{insert_event, insert_finding, notify_findings, read_kept_file, Importer};
use crate::rules::load_rule_set;

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

/// Confirms credential `credential_id` of `case` and reads the case's kept trail files again
/// for its calls, storing them in one transaction with the audit row and the email about new
/// findings. Confirming a credential that is already confirmed repeats the re-analysis, which
/// finds nothing new.
///
/// # Errors
/// 404 when the case has no such credential; 409 when it is marked a false positive, or when a
/// kept trail file is missing or no longer matches its SHA-256.
pub async fn confirm_credential(
    db: &Db,
    settings: &Settings,
    store: &EvidenceStore,
    case: CaseRef,
    confirmer: &Importer,
    credential_id: i64,
) -> Result<CredentialConfirmation> {
    let user_id = confirmer.user_id;
    let rules = load_rule_set(db).await?;
    let row = sqlx::query(
        "SELECT k.access_key_id, k.principal_name, k.status, c.compromise_time FROM credentials k \
         JOIN cases c ON c.id = k.case_id WHERE k.id = $1 AND k.case_id = $2",
    )
    .bind(credential_id)
    .bind(case.id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Error::NotFound("credential"))?;
    let status: String = row.try_get("status")?;
    check_confirmable(&status)?;
    let compromise_time: Option<i64> = row.try_get("compromise_time")?;
    let credential = CaseCredential {
        id: credential_id,
        access_key_id: row.try_get("access_key_id")?,
        principal_name: row.try_get("principal_name")?,
    };
    // The files are read before the transaction opens, so that reading never holds the
    // database's write lock.
    // A credential with neither a key id nor a principal name matches no call.
    let identified = credential.access_key_id.is_some() || credential.principal_name.is_some();
    let (calls, skipped) = match compromise_time {
        Some(since) if identified => {
            calls_in_kept_files(db, settings, store, case, &credential, from_millis(since)).await?
        }
        _ => (Vec::new(), Vec::new()),
    };

    let mut tx = db.begin().await?;
    let row = sqlx::query("SELECT status, proposed FROM credentials WHERE id = $1 AND case_id = $2")
        .bind(credential_id)
        .bind(case.id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("credential"))?;
    let status: String = row.try_get("status")?;
    let proposed: i64 = row.try_get("proposed")?;
    check_confirmable(&status)?;

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

    let mut events_added = 0;
    let mut findings = Vec::new();
    let mut credentials_proposed = 0;
    for (import_id, event) in calls {
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
            "skipped": skipped,
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
        skipped,
    })
}

fn check_confirmable(status: &str) -> Result<()> {
    if status == CredentialStatus::FalsePositive.as_str() {
        return Err(Error::conflict(
            "status",
            "the credential is marked a false positive; change its status before confirming it",
        ));
    }
    Ok(())
}

/// Reads the trail files of the case's completed imports from the evidence store and returns
/// the calls that `credential` made at or after `since`, each with its import, oldest first,
/// and the damaged parts of the files that were skipped. Only the events that contain the
/// credential's key id or name are parsed.
async fn calls_in_kept_files(
    db: &Db,
    settings: &Settings,
    store: &EvidenceStore,
    case: CaseRef,
    credential: &CaseCredential,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<(Vec<(i64, Event)>, Vec<String>)> {
    let files = sqlx::query(
        "SELECT e.import_id, e.sha256, e.original_name FROM evidence e \
         JOIN trail_imports i ON i.id = e.import_id \
         WHERE e.case_id = $1 AND i.case_id = $1 AND i.status = 'completed' ORDER BY e.import_id, e.id",
    )
    .bind(case.id)
    .fetch_all(&db.pool)
    .await?;
    let matcher = CredentialMatcher::new(std::slice::from_ref(credential), since);
    let options = ReadOptions {
        only_containing: matcher.needles().map(Arc::new),
        ..settings.trail_read_options()
    };
    let mut calls = Vec::new();
    let mut skipped = Vec::new();
    for file in &files {
        let import_id: i64 = file.try_get("import_id")?;
        let sha256: String = file.try_get("sha256")?;
        let name: String = file.try_get("original_name")?;
        let unreadable = |message: String| {
            tracing::warn!(case = case.number, import = import_id, file = %name, %message, "kept trail file cannot be read again");
            Error::conflict(
                "evidence",
                format!(
                    "the trail file {name} of import {import_id} cannot be read again: {message}; run the \
                     integrity check on the admin page"
                ),
            )
        };
        let local = match store.local_copy(&sha256, &store.staging_dir(settings)).await {
            Ok(local) => local,
            Err(Error::Conflict { message, .. }) => return Err(unreadable(message)),
            Err(error) => return Err(error),
        };
        let (matcher, options, file_name) = (matcher.clone(), options.clone(), name.clone());
        let read = tokio::task::spawn_blocking(move || read_kept_file(local.path(), &file_name, &sha256, &matcher, options))
            .await
            .map_err(anyhow::Error::from)?;
        let read = read.map_err(unreadable)?;
        calls.extend(read.events.into_iter().map(|event| (import_id, event)));
        skipped.extend(read.skipped.into_iter().map(|part| format!("import {import_id}: {part}")));
    }
    calls.sort_by_key(|(_, event)| event.event_time);
    Ok((calls, skipped))
}
