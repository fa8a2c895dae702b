//! Evidence files of a case and their chain of custody.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use rekey_types::{
    CustodyAction, CustodyEntry, Evidence, EvidenceCheck, EvidenceDetail, EvidenceLink, EvidenceLinkKind,
    LegalHoldChange,
};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::{stored_value_error, CaseRef, LeadCase};
use crate::api::containment::checked_text;
use crate::api::Routes;
use crate::audit::{self, Actor, Event};
use crate::auth::User;
use crate::db::{now_millis, time_column, Db, Tx};
use crate::error::{Error, Json, Result};
use crate::evidence::{
    claimed_media_type, detect_media_type, media_types_agree, EvidenceStore, StagedFile, Stager,
};
use crate::AppState;

/// Bytes a multipart body may carry besides the file: boundaries, part headers and the
/// description and source fields.
const FORM_OVERHEAD: u64 = 64 * 1024;
/// Characters allowed in the description and source fields.
const DESCRIPTION_CHARS: usize = 5_000;
const SOURCE_CHARS: usize = 500;

pub fn router() -> Routes {
    Routes::new()
        .route(
            "/cases/{number}/evidence",
            get(list_evidence)
                .post(upload_evidence)
                // The handler counts the file's bytes itself against max_evidence_mb.
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/cases/{number}/evidence/{id}", get(open_evidence))
        .route("/cases/{number}/evidence/{id}/content", get(download_evidence))
        .route("/cases/{number}/evidence/{id}/verify", post(verify_evidence))
        .route("/cases/{number}/evidence/{id}/legal-hold", put(change_legal_hold))
        .route("/cases/{number}/evidence/{id}/links", post(add_link))
        .route(
            "/cases/{number}/evidence/{id}/links/{kind}/{target_id}",
            delete(remove_link),
        )
}

const EVIDENCE_SELECT: &str = "SELECT e.id, e.sha256, e.size, e.media_type, e.claimed_media_type, \
    e.original_name, e.description, e.source, e.import_id, e.legal_hold, e.uploaded_at, e.version, \
    u.display_name AS uploaded_by FROM evidence e JOIN users u ON u.id = e.uploaded_by";

fn evidence_from_row(row: &AnyRow) -> Result<Evidence> {
    let legal_hold: i64 = row.try_get("legal_hold")?;
    Ok(Evidence {
        id: row.try_get("id")?,
        sha256: row.try_get("sha256")?,
        size: row.try_get("size")?,
        media_type: row.try_get("media_type")?,
        claimed_media_type: row.try_get("claimed_media_type")?,
        original_name: row.try_get("original_name")?,
        description: row.try_get("description")?,
        source: row.try_get("source")?,
        import_id: row.try_get("import_id")?,
        legal_hold: legal_hold != 0,
        uploaded_by: row.try_get("uploaded_by")?,
        uploaded_at: time_column(row, "uploaded_at")?,
        links: Vec::new(),
        version: row.try_get("version")?,
    })
}

/// Evidence of a case, oldest first, with the links of each.
pub async fn load_case_evidence(db: &Db, case_id: i64) -> Result<Vec<Evidence>> {
    let sql = format!("{EVIDENCE_SELECT} WHERE e.case_id = $1 ORDER BY e.uploaded_at, e.id");
    let rows = sqlx::query(&sql).bind(case_id).fetch_all(&db.pool).await?;
    let mut items = rows.iter().map(evidence_from_row).collect::<Result<Vec<_>>>()?;
    let link_rows = sqlx::query(
        "SELECT l.evidence_id, l.target_kind, l.target_id FROM evidence_links l \
         JOIN evidence e ON e.id = l.evidence_id WHERE e.case_id = $1 ORDER BY l.id",
    )
    .bind(case_id)
    .fetch_all(&db.pool)
    .await?;
    let mut links: HashMap<i64, Vec<EvidenceLink>> = HashMap::new();
    for row in &link_rows {
        links.entry(row.try_get("evidence_id")?).or_default().push(link_from_row(row)?);
    }
    for item in &mut items {
        item.links = links.remove(&item.id).unwrap_or_default();
    }
    Ok(items)
}

fn link_from_row(row: &AnyRow) -> Result<EvidenceLink> {
    let kind: String = row.try_get("target_kind")?;
    Ok(EvidenceLink {
        kind: EvidenceLinkKind::parse(&kind).ok_or_else(|| stored_value_error("evidence_links.target_kind", &kind))?,
        target_id: row.try_get("target_id")?,
    })
}

/// Loads one piece of evidence of `case` with its links. Evidence of another case is not found.
async fn load_one(db: &Db, case: CaseRef, id: i64) -> Result<Evidence> {
    let sql = format!("{EVIDENCE_SELECT} WHERE e.id = $1 AND e.case_id = $2");
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(case.id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or(Error::NotFound("evidence"))?;
    let mut evidence = evidence_from_row(&row)?;
    let link_rows = sqlx::query("SELECT target_kind, target_id FROM evidence_links WHERE evidence_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&db.pool)
        .await?;
    evidence.links = link_rows.iter().map(link_from_row).collect::<Result<_>>()?;
    Ok(evidence)
}

/// Appends one chain-of-custody entry inside the caller's transaction.
pub async fn record_custody(
    tx: &mut Tx,
    evidence_id: i64,
    actor: &Actor,
    action: CustodyAction,
    details: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO custody_entries (evidence_id, occurred_at, actor_id, actor_name, client_address, action, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(evidence_id)
    .bind(now_millis())
    .bind(actor.id)
    .bind(&actor.name)
    .bind(actor.client_address.as_deref())
    .bind(action.as_str())
    .bind(details)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn record_custody_alone(db: &Db, evidence_id: i64, actor: &Actor, action: CustodyAction, details: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    record_custody(&mut tx, evidence_id, actor, action, details).await?;
    tx.commit().await?;
    Ok(())
}

async fn list_evidence(State(state): State<AppState>, case: CaseRef) -> Result<Json<Vec<Evidence>>> {
    Ok(Json(load_case_evidence(&state.db, case.id).await?))
}

/// Fields of one evidence upload besides the file.
struct UploadForm {
    staged: Option<(StagedFile, String)>,
    description: String,
    source: String,
}

async fn receive_upload(state: &AppState, mut multipart: Multipart) -> Result<UploadForm> {
    let staging = state.evidence.staging_dir(&state.settings);
    let mut form = UploadForm {
        staged: None,
        description: String::new(),
        source: String::new(),
    };
    while let Some(mut field) = multipart.next_field().await.map_err(read_error)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" => {
                if form.staged.is_some() {
                    return Err(Error::invalid("file", "send one file per upload; upload the others separately"));
                }
                let original_name = field.file_name().map(str::to_string).unwrap_or_default();
                let mut stager = Stager::new(&staging, state.settings.max_evidence_bytes()).await?;
                while let Some(chunk) = field.chunk().await.map_err(read_error)? {
                    stager.write(&chunk).await?;
                }
                form.staged = Some((stager.finish().await?, original_name));
            }
            "description" | "source" => {
                let mut value = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(read_error)? {
                    value.extend_from_slice(&chunk);
                    if value.len() > DESCRIPTION_CHARS * 4 {
                        return Err(Error::invalid(&name, format!("{name} is too long; shorten it")));
                    }
                }
                let value = String::from_utf8(value)
                    .map_err(|_| Error::invalid(&name, format!("{name} is not UTF-8 text")))?;
                if name == "description" {
                    form.description = value;
                } else {
                    form.source = value;
                }
            }
            _ => {
                return Err(Error::invalid(
                    &name,
                    format!("unexpected form field '{name}'; send 'file', 'description' and 'source'"),
                ))
            }
        }
    }
    Ok(form)
}

fn read_error(error: axum::extract::multipart::MultipartError) -> Error {
    Error::invalid("file", format!("the upload could not be read: {}", error.body_text()))
}

/// Rejects a request whose declared length is over the limit before reading its body.
fn check_declared_length(headers: &HeaderMap, limit: u64) -> Result<()> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit.saturating_add(FORM_OVERHEAD)) {
        return Err(Error::PayloadTooLarge {
            limit_mb: limit / (1024 * 1024),
        });
    }
    Ok(())
}

/// Returns a file name for display: the last path component, without control characters, at
/// most 255 characters. It is never used as a path.
pub(crate) fn display_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).take(255).collect();
    let cleaned = cleaned.trim().to_string();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "unnamed".to_string()
    } else {
        cleaned
    }
}

async fn upload_evidence(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<(StatusCode, Json<Evidence>)> {
    check_declared_length(&headers, state.settings.max_evidence_bytes())?;
    let form = receive_upload(&state, multipart).await?;
    let Some((staged, original_name)) = form.staged else {
        return Err(Error::invalid("file", "no file in the upload; send it in the form field 'file'"));
    };
    // Passwords and tokens pasted into the description are replaced, as in notes.
    let description = crate::redact::redact(&checked_text("description", &form.description, DESCRIPTION_CHARS)?).text;
    let source = crate::redact::redact(&checked_text("source", &form.source, SOURCE_CHARS)?).text;
    let actor = Actor::user(&user);
    let id = keep_evidence(
        &state.db,
        &state.evidence,
        &actor,
        case.id,
        staged,
        NewEvidence {
            original_name: display_name(&original_name),
            description,
            source,
            import_id: None,
        },
    )
    .await?;
    tracing::info!(case = case.number, evidence = id, user = user.account.id, "evidence uploaded");
    Ok((StatusCode::CREATED, Json(load_one(&state.db, case, id).await?)))
}

/// Facts about a file that is about to become evidence.
pub struct NewEvidence {
    pub original_name: String,
    pub description: String,
    pub source: String,
    pub import_id: Option<i64>,
}

/// Stores a staged file and its evidence row, custody entry and audit row. Returns the id.
pub async fn keep_evidence(
    db: &Db,
    store: &EvidenceStore,
    actor: &Actor,
    case_id: i64,
    staged: StagedFile,
    facts: NewEvidence,
) -> Result<i64> {
    let content = StoredContent::of(&staged, &facts.original_name)?;
    // Content is stored before the row: a failure after this leaves an unreferenced file,
    // never a row without content.
    store.keep(staged).await?;
    let mut tx = db.begin().await?;
    let id = record_evidence(&mut tx, actor, case_id, &content, facts).await?;
    tx.commit().await?;
    Ok(id)
}

/// Facts about stored content that its evidence row records.
pub struct StoredContent {
    pub sha256: String,
    pub size: i64,
    /// Media type read from the content.
    pub detected: &'static str,
    /// Media type that the name suggests, when it differs from the detected one.
    pub claimed: Option<&'static str>,
}

impl StoredContent {
    /// Describes a staged file that will be kept under `original_name`.
    pub fn of(staged: &StagedFile, original_name: &str) -> Result<StoredContent> {
        let detected = detect_media_type(&staged.head);
        Ok(StoredContent {
            sha256: staged.sha256.clone(),
            size: i64::try_from(staged.size).map_err(|_| anyhow::anyhow!("file size out of range"))?,
            detected,
            claimed: claimed_media_type(original_name).filter(|claimed| !media_types_agree(claimed, detected)),
        })
    }
}

/// Inserts the evidence row of content already in the store, with its first custody entry and
/// its audit row, in the caller's transaction. Returns the id.
pub async fn record_evidence(
    tx: &mut Tx,
    actor: &Actor,
    case_id: i64,
    content: &StoredContent,
    facts: NewEvidence,
) -> Result<i64> {
    let (sha256, size, detected, claimed) = (&content.sha256, content.size, content.detected, content.claimed);
    let uploader = actor.id.ok_or_else(|| anyhow::anyhow!("evidence needs a signed-in uploader"))?;
    let id: i64 = sqlx::query(
        "INSERT INTO evidence (case_id, sha256, size, media_type, claimed_media_type, original_name, \
         description, source, import_id, legal_hold, uploaded_by, uploaded_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, 1) RETURNING id",
    )
    .bind(case_id)
    .bind(sha256)
    .bind(size)
    .bind(detected)
    .bind(claimed)
    .bind(&facts.original_name)
    .bind(&facts.description)
    .bind(&facts.source)
    .bind(facts.import_id)
    .bind(uploader)
    .bind(now_millis())
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;
    let action = if facts.import_id.is_some() {
        CustodyAction::Import
    } else {
        CustodyAction::Upload
    };
    let mut details = format!("sha256 {sha256}, {size} bytes, {detected}");
    if let Some(claimed) = claimed {
        details.push_str(&format!("; the name claims {claimed}, the content is {detected}"));
    }
    record_custody(tx, id, actor, action, &details).await?;
    audit::append(
        tx,
        actor,
        Event::new("create", "evidence").entity(id).case(case_id).details(json!({
            "sha256": sha256,
            "size": size,
            "media_type": detected,
            "claimed_media_type": claimed,
            "original_name": facts.original_name,
            "import_id": facts.import_id,
        })),
    )
    .await?;
    Ok(id)
}

async fn custody_of(db: &Db, evidence_id: i64) -> Result<Vec<CustodyEntry>> {
    let rows = sqlx::query(
        "SELECT id, occurred_at, actor_name, client_address, action, details FROM custody_entries \
         WHERE evidence_id = $1 ORDER BY id",
    )
    .bind(evidence_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let action: String = row.try_get("action")?;
            Ok(CustodyEntry {
                id: row.try_get("id")?,
                occurred_at: time_column(row, "occurred_at")?,
                actor: row.try_get("actor_name")?,
                client_address: row.try_get("client_address")?,
                action: CustodyAction::parse(&action)
                    .ok_or_else(|| stored_value_error("custody_entries.action", &action))?,
                details: row.try_get("details")?,
            })
        })
        .collect()
}

async fn open_evidence(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((_number, id)): Path<(i64, i64)>,
) -> Result<Json<EvidenceDetail>> {
    let evidence = load_one(&state.db, case, id).await?;
    record_custody_alone(&state.db, id, &Actor::user(&user), CustodyAction::View, "details opened").await?;
    let custody = custody_of(&state.db, id).await?;
    Ok(Json(EvidenceDetail { evidence, custody }))
}

/// Re-hashes the stored content of `evidence` and records the result as custody; on a
/// mismatch also in the audit log.
async fn check_stored(state: &AppState, actor: &Actor, case: CaseRef, evidence: &Evidence, action: CustodyAction) -> Result<EvidenceCheck> {
    let actual = state.evidence.hash_stored(&evidence.sha256).await?;
    let intact = actual.as_deref() == Some(evidence.sha256.as_str());
    let mut tx = state.db.begin().await?;
    if intact {
        record_custody(&mut tx, evidence.id, actor, action, &format!("sha256 {} matches", evidence.sha256)).await?;
    } else {
        let found = actual.clone().unwrap_or_else(|| "no stored file".to_string());
        let details = format!("expected sha256 {}, found {found}", evidence.sha256);
        record_custody(&mut tx, evidence.id, actor, CustodyAction::IntegrityFailure, &details).await?;
        audit::append(
            &mut tx,
            actor,
            Event::new("integrity_failure", "evidence").entity(evidence.id).case(case.id).details(json!({
                "expected_sha256": evidence.sha256,
                "actual_sha256": actual,
                "during": action.as_str(),
            })),
        )
        .await?;
        tracing::error!(case = case.number, evidence = evidence.id, %details, "evidence content does not match its hash");
    }
    tx.commit().await?;
    Ok(EvidenceCheck {
        evidence_id: evidence.id,
        expected_sha256: evidence.sha256.clone(),
        actual_sha256: actual,
        intact,
    })
}

async fn verify_evidence(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((_number, id)): Path<(i64, i64)>,
) -> Result<Json<EvidenceCheck>> {
    let evidence = load_one(&state.db, case, id).await?;
    Ok(Json(check_stored(&state, &Actor::user(&user), case, &evidence, CustodyAction::Verify).await?))
}

async fn download_evidence(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((_number, id)): Path<(i64, i64)>,
) -> Result<Response> {
    let evidence = load_one(&state.db, case, id).await?;
    let check = check_stored(&state, &Actor::user(&user), case, &evidence, CustodyAction::Download).await?;
    if !check.intact {
        return Err(Error::conflict(
            "evidence",
            format!(
                "the stored file of evidence {id} no longer matches its SHA-256 {}, so it is not served; \
                 restore the original file from a copy and verify it again",
                evidence.sha256
            ),
        ));
    }
    let content = state
        .evidence
        .open(&evidence.sha256)
        .await?
        .ok_or_else(|| anyhow::anyhow!("evidence {id} vanished after its check"))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(content));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    // Served as an opaque download, never rendered, whatever the file holds.
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(evidence.size as u64));
    let ascii_name: String = evidence
        .original_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&evidence.sha256) {
        headers.insert("x-evidence-sha256", value);
    }
    Ok(response)
}

async fn change_legal_hold(
    State(state): State<AppState>,
    user: User,
    LeadCase(case): LeadCase,
    Path((_number, id)): Path<(i64, i64)>,
    Json(input): Json<LegalHoldChange>,
) -> Result<Json<Evidence>> {
    let reason = checked_text("reason", &input.reason, DESCRIPTION_CHARS)?;
    let actor = Actor::user(&user);
    let mut tx = state.db.begin().await?;
    let row = sqlx::query("SELECT version, legal_hold FROM evidence WHERE id = $1 AND case_id = $2")
        .bind(id)
        .bind(case.id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("evidence"))?;
    let current: i64 = row.try_get("version")?;
    let before: i64 = row.try_get("legal_hold")?;
    if current != input.version {
        return Err(Error::StaleVersion {
            record: "evidence",
            current_version: current,
        });
    }
    sqlx::query("UPDATE evidence SET legal_hold = $1, version = version + 1 WHERE id = $2")
        .bind(i64::from(input.legal_hold))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let action = if input.legal_hold {
        CustodyAction::LegalHoldOn
    } else {
        CustodyAction::LegalHoldOff
    };
    record_custody(&mut tx, id, &actor, action, &reason).await?;
    audit::append(
        &mut tx,
        &actor,
        Event::new("update", "evidence").entity(id).case(case.id).details(json!({
            "before": {"legal_hold": before != 0},
            "after": {"legal_hold": input.legal_hold},
            "reason": reason,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(load_one(&state.db, case, id).await?))
}

/// Table of the records a link kind points at; each has a `case_id`.
fn target_table(kind: EvidenceLinkKind) -> &'static str {
    match kind {
        EvidenceLinkKind::Finding => "findings",
        EvidenceLinkKind::ContainmentAction => "containment_actions",
        EvidenceLinkKind::AffectedResource => "affected_resources",
        EvidenceLinkKind::TimelineEntry => "timeline_entries",
    }
}

async fn add_link(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((_number, id)): Path<(i64, i64)>,
    Json(link): Json<EvidenceLink>,
) -> Result<(StatusCode, Json<Evidence>)> {
    load_one(&state.db, case, id).await?;
    let actor = Actor::user(&user);
    let mut tx = state.db.begin().await?;
    let sql = format!("SELECT id FROM {} WHERE id = $1 AND case_id = $2", target_table(link.kind));
    if sqlx::query(&sql)
        .bind(link.target_id)
        .bind(case.id)
        .fetch_optional(&mut *tx)
        .await?
        .is_none()
    {
        return Err(Error::invalid(
            "target_id",
            format!("this case has no {} with id {}; pick one of the case's records", link.kind.label().to_lowercase(), link.target_id),
        ));
    }
    let existing = sqlx::query("SELECT id FROM evidence_links WHERE evidence_id = $1 AND target_kind = $2 AND target_id = $3")
        .bind(id)
        .bind(link.kind.as_str())
        .bind(link.target_id)
        .fetch_optional(&mut *tx)
        .await?;
    if existing.is_none() {
        sqlx::query(
            "INSERT INTO evidence_links (evidence_id, target_kind, target_id, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(link.kind.as_str())
        .bind(link.target_id)
        .bind(user.account.id)
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
        let details = format!("{} {}", link.kind.as_str(), link.target_id);
        record_custody(&mut tx, id, &actor, CustodyAction::Link, &details).await?;
        audit::append(
            &mut tx,
            &actor,
            Event::new("create", "evidence_link").entity(id).case(case.id).details(json!({
                "kind": link.kind.as_str(),
                "target_id": link.target_id,
            })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(load_one(&state.db, case, id).await?)))
}

async fn remove_link(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((_number, id, kind, target_id)): Path<(i64, i64, String, i64)>,
) -> Result<StatusCode> {
    let kind = EvidenceLinkKind::parse(&kind).ok_or_else(|| {
        Error::invalid("kind", format!("'{kind}' is not a link kind; use {}", EvidenceLinkKind::expected()))
    })?;
    load_one(&state.db, case, id).await?;
    let actor = Actor::user(&user);
    let mut tx = state.db.begin().await?;
    let removed = sqlx::query("DELETE FROM evidence_links WHERE evidence_id = $1 AND target_kind = $2 AND target_id = $3")
        .bind(id)
        .bind(kind.as_str())
        .bind(target_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(Error::NotFound("evidence link"));
    }
    record_custody(&mut tx, id, &actor, CustodyAction::Unlink, &format!("{} {target_id}", kind.as_str())).await?;
    audit::append(
        &mut tx,
        &actor,
        Event::new("delete", "evidence_link").entity(id).case(case.id).details(json!({
            "kind": kind.as_str(),
            "target_id": target_id,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-hashes every stored evidence file and returns how many were checked and the first
/// whose content no longer matches, in id order.
pub async fn verify_all(db: &Db, store: &crate::evidence::EvidenceStore) -> Result<(i64, Option<EvidenceCheck>)> {
    let rows = sqlx::query("SELECT id, sha256 FROM evidence ORDER BY id").fetch_all(&db.pool).await?;
    let mut checked = 0;
    for row in &rows {
        let id: i64 = row.try_get("id")?;
        let sha256: String = row.try_get("sha256")?;
        let actual = store.hash_stored(&sha256).await?;
        checked += 1;
        if actual.as_deref() != Some(sha256.as_str()) {
            return Ok((
                checked,
                Some(EvidenceCheck {
                    evidence_id: id,
                    expected_sha256: sha256,
                    actual_sha256: actual,
                    intact: false,
                }),
            ));
        }
    }
    Ok((checked, None))
}

/// Records an export of the case's evidence list, such as in a report, on each item.
pub async fn record_export(tx: &mut Tx, actor: &Actor, case_id: i64, what: &str) -> Result<()> {
    let rows = sqlx::query("SELECT id FROM evidence WHERE case_id = $1").bind(case_id).fetch_all(&mut **tx).await?;
    for row in &rows {
        record_custody(tx, row.try_get("id")?, actor, CustodyAction::Export, what).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_never_hold_paths() {
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("C:\\Users\\x\\trail.json"), "trail.json");
        assert_eq!(display_name(".."), "unnamed");
        assert_eq!(display_name("a\u{0}b\nc"), "abc");
    }

    #[test]
    fn declared_length_over_the_limit_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(10 * 1024 * 1024u64));
        assert!(check_declared_length(&headers, 1024 * 1024).is_err());
        assert!(check_declared_length(&headers, 20 * 1024 * 1024).is_ok());
        assert!(check_declared_length(&HeaderMap::new(), 1).is_ok());
    }
}
