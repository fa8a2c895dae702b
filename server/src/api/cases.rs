//! Cases: create, list, open, change phase. A new case gets the tasks of the default
//! playbook, and a move to a later phase is rejected while tasks of the current phase are open unless
//! it is forced with a reason.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{get, post};
use rekey_types::{
    case_reference, check_plain_text, parse_zoned_time, Case, CaseRole, CaseUpdate, DetectionSource, NewCase, Phase,
    PhaseChange, RedactionKind, Severity, UserRole,
};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::tasks;
use crate::audit::{self, Actor};
use crate::auth::{CaseCreator, Intent, User};
use crate::db::{now_millis, optional_time_column, time_column, to_millis, Tx};
use crate::error::{Error, Json, Result};
use crate::mail::{self, CaseEvent};
use crate::api::Routes;
use crate::redact::redact_into;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/cases", get(list_cases).post(create_case))
        .route("/cases/{number}", get(get_case).patch(update_case))
        .route("/cases/{number}/phase", post(change_phase))
}

/// A case the caller may open, identified by its number in the URL.
#[derive(Debug, Clone, Copy)]
pub struct CaseRef {
    pub id: i64,
    pub number: i64,
    /// The caller's role in the case; `None` for a manager reading without membership.
    pub role: Option<CaseRole>,
}

impl CaseRef {
    /// Looks up case `number` for `user`, checking access on the server for every case route.
    ///
    /// Members get their case role. Managers may read cases that are not restricted. Everyone
    /// else gets 404, the same response as for a case that does not exist, so that case numbers
    /// reveal nothing. A request that changes something needs a member role that may write.
    pub async fn load(state: &AppState, user: &User, number: i64) -> Result<CaseRef> {
        let row = sqlx::query(
            "SELECT c.id, c.restricted, m.role, m.shared_sections FROM cases c \
             LEFT JOIN case_members m ON m.case_id = c.id AND m.user_id = $2 WHERE c.number = $1",
        )
        .bind(number)
        .bind(user.id())
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(Error::NotFound("case"))?;
        let member_role: Option<String> = row.try_get("role")?;
        let role = match member_role {
            Some(role) => Some(CaseRole::parse(&role).ok_or_else(|| stored_value_error("role", &role))?),
            None => None,
        };
        let restricted: i64 = row.try_get("restricted")?;
        let manager_may_read = user.role() == UserRole::Manager && restricted == 0;
        let case_id: i64 = row.try_get("id")?;
        if role.is_none() && !manager_may_read {
            tracing::warn!(case = number, user = user.id(), "access to case denied");
            record_denial(state, user, case_id, "not a member").await?;
            return Err(Error::NotFound("case"));
        }
        if user.role() == UserRole::Stakeholder {
            let shared: Option<String> = row.try_get("shared_sections")?;
            if !section_shared(&user.path, shared.as_deref().unwrap_or("")) {
                tracing::warn!(case = number, user = user.id(), path = %user.path, "section not shared with stakeholder");
                record_denial(state, user, case_id, "section not shared").await?;
                return Err(Error::NotFound("case"));
            }
        }
        let may_write = role.is_some_and(CaseRole::can_write) && user.role() != UserRole::Stakeholder;
        if user.intent == Intent::Change && !may_write {
            tracing::warn!(case = number, user = user.id(), "change to read-only case denied");
            record_denial(state, user, case_id, "read-only access").await?;
            return Err(Error::Forbidden(
                "you have read-only access to this case".to_string(),
            ));
        }
        Ok(CaseRef {
            id: case_id,
            number,
            role,
        })
    }
}

/// Records a denied request in the audit log.
async fn record_denial(state: &AppState, user: &User, case_id: i64, reason: &str) -> Result<()> {
    let event = audit::Event::new("access_denied", "case")
        .case(case_id)
        .details(json!({"path": user.path, "reason": reason}));
    audit::append_alone(&state.db, &Actor::user(user), event).await
}

/// Extracting a `CaseRef` checks the caller's access to the case named by the `{number}` path
/// parameter. Handlers list it before any body extractor, so that a caller without access
/// gets 404 or 403 before the body is read or validated.
impl FromRequestParts<AppState> for CaseRef {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let user = User::from_request_parts(parts, state).await?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::NotFound("case"))?;
        let number = params
            .get("number")
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or(Error::NotFound("case"))?;
        CaseRef::load(state, &user, number).await
    }
}

/// A case of which the caller is a lead; others get 403 before the request body is read.
pub struct LeadCase(pub CaseRef);

impl FromRequestParts<AppState> for LeadCase {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let case = CaseRef::from_request_parts(parts, state).await?;
        if case.role != Some(CaseRole::Lead) {
            return Err(Error::Forbidden("only a lead of the case can do this".to_string()));
        }
        Ok(LeadCase(case))
    }
}

/// Tells whether a stakeholder may read the case section of `path`: the overview
/// (`…/cases/{number}`) always, any other section only when listed in `shared`. A path
/// without a `cases` segment is never shared.
fn section_shared(path: &str, shared: &str) -> bool {
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    if !segments.any(|segment| segment == "cases") {
        return false;
    }
    let _number = segments.next();
    match segments.next() {
        None => true,
        Some(section) => shared.split(',').any(|s| s == section),
    }
}

const CASE_COLUMNS: &str = "c.id, c.number, c.title, c.summary, c.severity, c.detection_source, \
    c.external_ref, c.phase, c.compromise_time, c.created_at, c.updated_at, \
    c.restricted, c.version, u.display_name AS created_by, \
    (SELECT COUNT(*) FROM credentials k WHERE k.case_id = c.id) AS credential_count, \
    (SELECT COUNT(*) FROM findings f WHERE f.case_id = c.id) AS finding_count";

fn case_from_row(row: &AnyRow, my_role: Option<CaseRole>) -> Result<Case> {
    let number: i64 = row.try_get("number")?;
    let severity: String = row.try_get("severity")?;
    let detection_source: String = row.try_get("detection_source")?;
    let phase: String = row.try_get("phase")?;
    Ok(Case {
        number,
        reference: case_reference(number),
        title: row.try_get("title")?,
        summary: row.try_get("summary")?,
        severity: Severity::parse(&severity).ok_or_else(|| stored_value_error("severity", &severity))?,
        detection_source: DetectionSource::parse(&detection_source)
            .ok_or_else(|| stored_value_error("detection_source", &detection_source))?,
        external_ref: row.try_get("external_ref")?,
        phase: Phase::parse(&phase).ok_or_else(|| stored_value_error("phase", &phase))?,
        compromise_time: optional_time_column(row, "compromise_time")?,
        created_by: row.try_get("created_by")?,
        created_at: time_column(row, "created_at")?,
        updated_at: time_column(row, "updated_at")?,
        credential_count: row.try_get("credential_count")?,
        finding_count: row.try_get("finding_count")?,
        restricted: row.try_get::<i64, _>("restricted")? != 0,
        my_role,
        version: row.try_get("version")?,
        shared_sections: None,
        redactions: Vec::new(),
    })
}

/// Error for a stored value outside its set, which only a broken migration or manual edit
/// can cause.
pub fn stored_value_error(column: &str, value: &str) -> Error {
    Error::Internal(anyhow::anyhow!("unexpected value '{value}' in column {column}"))
}

/// Numbers of the cases `user` may open, by the same rule as the case list.
pub async fn visible_case_numbers(state: &AppState, user: &User) -> Result<std::collections::HashSet<i64>> {
    let rows = sqlx::query(
        "SELECT c.number FROM cases c LEFT JOIN case_members m ON m.case_id = c.id AND m.user_id = $1 \
         WHERE m.user_id IS NOT NULL OR ($2 = 1 AND c.restricted = 0)",
    )
    .bind(user.id())
    .bind(i64::from(user.role() == UserRole::Manager))
    .fetch_all(&state.db.pool)
    .await?;
    rows.iter().map(|row| Ok(row.try_get::<i64, _>("number")?)).collect()
}

/// Lists the cases the caller may open: their own memberships, and for managers every case
/// that is not restricted.
async fn list_cases(State(state): State<AppState>, user: User) -> Result<Json<Vec<Case>>> {
    let sql = format!(
        "SELECT {CASE_COLUMNS}, m.role AS my_role, m.shared_sections FROM cases c JOIN users u ON u.id = c.created_by \
         LEFT JOIN case_members m ON m.case_id = c.id AND m.user_id = $1 \
         WHERE m.user_id IS NOT NULL OR ($2 = 1 AND c.restricted = 0) ORDER BY c.number DESC"
    );
    let is_manager = i64::from(user.role() == UserRole::Manager);
    let rows = sqlx::query(&sql)
        .bind(user.id())
        .bind(is_manager)
        .fetch_all(&state.db.pool)
        .await?;
    let mut cases = Vec::with_capacity(rows.len());
    for row in &rows {
        let role: Option<String> = row.try_get("my_role")?;
        let mut case = case_from_row(row, role.as_deref().and_then(CaseRole::parse))?;
        if user.role() == UserRole::Stakeholder {
            let shared: Option<String> = row.try_get("shared_sections")?;
            limit_to_shared(&mut case, shared.as_deref().unwrap_or(""));
        }
        cases.push(case);
    }
    Ok(Json(cases))
}

pub async fn fetch_case(state: &AppState, case: CaseRef) -> Result<Case> {
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM cases c JOIN users u ON u.id = c.created_by WHERE c.id = $1"
    );
    let row = sqlx::query(&sql)
        .bind(case.id)
        .fetch_one(&state.db.pool)
        .await?;
    case_from_row(&row, case.role)
}

async fn get_case(State(state): State<AppState>, user: User, case: CaseRef) -> Result<Json<Case>> {
    let mut found = fetch_case(&state, case).await?;
    if user.role() == UserRole::Stakeholder {
        let shared: String = sqlx::query("SELECT shared_sections FROM case_members WHERE case_id = $1 AND user_id = $2")
            .bind(case.id)
            .bind(user.id())
            .fetch_one(&state.db.pool)
            .await?
            .try_get("shared_sections")?;
        limit_to_shared(&mut found, &shared);
    }
    Ok(Json(found))
}

/// Lists the sections shared with a stakeholder on the case, and zeroes the counts of the
/// sections not shared, so that the overview reveals nothing about them.
fn limit_to_shared(case: &mut Case, shared: &str) {
    let sections: Vec<String> = shared.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
    if !sections.iter().any(|s| s == "credentials") {
        case.credential_count = 0;
    }
    if !sections.iter().any(|s| s == "findings") {
        case.finding_count = 0;
    }
    case.shared_sections = Some(sections);
}

/// Checked fields of a new case, with secrets redacted from the title and summary.
struct ValidCase {
    title: String,
    summary: String,
    redactions: Vec<RedactionKind>,
    external_ref: Option<String>,
    compromise_time: Option<i64>,
}

/// Checks a text field for control characters, naming the field in the error.
pub fn plain_text(field: &str, value: &str, multiline: bool) -> Result<()> {
    check_plain_text(value, multiline).map_err(|message| Error::invalid(field, format!("{field} {message}")))
}

/// Parses a compromise time; one in the future is rejected, since no call has been made yet.
fn parse_compromise_time(value: &str) -> Result<i64> {
    let time = parse_zoned_time(value).map_err(|message| Error::invalid("compromise_time", message))?;
    // Five minutes of slack for a clock that runs ahead of the server's.
    if time > chrono::Utc::now() + chrono::Duration::minutes(5) {
        return Err(Error::invalid(
            "compromise_time",
            format!("'{value}' is in the future; give the time from which the credential was misused"),
        ));
    }
    Ok(to_millis(time))
}

fn validate_new_case(input: &NewCase) -> Result<ValidCase> {
    let title = input.title.trim();
    plain_text("title", title, false)?;
    plain_text("summary", &input.summary, true)?;
    if title.is_empty() {
        return Err(Error::invalid("title", "title is missing; describe the incident in a few words"));
    }
    if title.chars().count() > 200 {
        return Err(Error::invalid("title", "title is longer than 200 characters; shorten it"));
    }
    if input.summary.chars().count() > 20_000 {
        return Err(Error::invalid("summary", "summary is longer than 20,000 characters; shorten it"));
    }
    let external_ref = input
        .external_ref
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty());
    if external_ref.is_some_and(|value| value.chars().count() > 200) {
        return Err(Error::invalid("external_ref", "external_ref is longer than 200 characters"));
    }
    if let Some(value) = external_ref {
        plain_text("external_ref", value, false)?;
    }
    let compromise_time = match input.compromise_time.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(value) => Some(parse_compromise_time(value)?),
    };
    let mut redactions = Vec::new();
    Ok(ValidCase {
        title: redact_into(title, &mut redactions),
        summary: redact_into(input.summary.trim(), &mut redactions),
        redactions,
        external_ref: external_ref.map(str::to_string),
        compromise_time,
    })
}

async fn create_case(
    State(state): State<AppState>,
    CaseCreator(user): CaseCreator,
    Json(input): Json<NewCase>,
) -> Result<(StatusCode, Json<Case>)> {
    let valid = validate_new_case(&input)?;
    let mut tx = state.db.begin().await?;
    // The counter row is locked by this UPDATE until commit, so concurrent creations get
    // distinct numbers on both backends.
    let number: i64 = sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'case_number' RETURNING value")
        .fetch_one(&mut *tx)
        .await?
        .try_get("value")?;
    let now = now_millis();
    let id: i64 = sqlx::query(
        "INSERT INTO cases (number, title, summary, severity, detection_source, external_ref, phase, \
         compromise_time, restricted, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
    )
    .bind(number)
    .bind(&valid.title)
    .bind(&valid.summary)
    .bind(input.severity.as_str())
    .bind(input.detection_source.as_str())
    .bind(&valid.external_ref)
    .bind(Phase::Identification.as_str())
    .bind(valid.compromise_time)
    .bind(i64::from(input.restricted))
    .bind(user.id())
    .bind(now)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    sqlx::query("INSERT INTO case_members (case_id, user_id, role, added_by, added_at) VALUES ($1, $2, $3, $2, $4)")
        .bind(id)
        .bind(user.id())
        .bind(CaseRole::Lead.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let event = audit::Event::new("case_created", "case")
        .entity(number)
        .case(id)
        .details(json!({"title": valid.title, "severity": input.severity, "restricted": input.restricted}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tasks::create_case_tasks(&mut tx, id, now).await?;
    tx.commit().await?;

    tracing::info!(case = number, user = user.account.id, "case created");
    let mut case = fetch_case(&state, CaseRef { id, number, role: Some(CaseRole::Lead) }).await?;
    case.redactions = valid.redactions;
    Ok((StatusCode::CREATED, Json(case)))
}

async fn change_phase(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Json(input): Json<PhaseChange>,
) -> Result<Json<Case>> {
    let reason = input
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|reason| !reason.is_empty());
    if reason.is_some_and(|reason| reason.chars().count() > 2_000) {
        return Err(Error::invalid("reason", "reason is longer than 2,000 characters; shorten it"));
    }
    let mut tx = state.db.begin().await?;
    let previous = update_phase(&mut tx, case, input.phase).await?;
    let phases = tasks::phases_left(previous, input.phase);
    let open = tasks::open_tasks(&mut tx, case.id, &phases).await?;
    let forced = !open.is_empty();
    if forced && !input.force {
        let mut labels: Vec<&str> = open.iter().map(|(phase, _)| phase.label()).collect();
        labels.dedup();
        let titles: Vec<&str> = open.iter().map(|(_, title)| title.as_str()).collect();
        return Err(Error::conflict(
            "force",
            format!(
                "{} task(s) of {} are still open: {}; finish or skip them, or have a lead of the \
                 case move on anyway with force and a reason",
                open.len(),
                labels.join(" and "),
                titles.join("; ")
            ),
        ));
    }
    let may_force = case.role == Some(CaseRole::Lead) || user.role() == UserRole::Admin;
    if forced && !may_force {
        tracing::warn!(case = case.number, user = user.id(), "forced phase change denied");
        // The transaction holds SQLite's write lock, so it ends before the denial is recorded.
        drop(tx);
        record_denial(&state, &user, case.id, "forced phase change without lead role").await?;
        return Err(Error::Forbidden(format!(
            "only a lead of the case or an administrator can move on while {} task(s) are open; \
             finish or skip them first",
            open.len()
        )));
    }
    if forced && reason.is_none() {
        return Err(Error::invalid(
            "reason",
            "reason is missing; say why the case moves on while tasks are still open",
        ));
    }
    let change = tasks::NewPhaseChange {
        case_id: case.id,
        from: previous,
        to: input.phase,
        forced,
        reason,
        open_tasks: open.len(),
        user_id: user.account.id,
    };
    tasks::record_phase_change(&mut tx, change).await?;
    mail::enqueue_case_event(
        &mut tx,
        &state.settings,
        case.id,
        &CaseEvent::PhaseChanged {
            from: previous,
            to: input.phase,
            by: user.account.display_name.clone(),
        },
    )
    .await?;
    let event = audit::Event::new("phase_changed", "case")
        .entity(case.number)
        .case(case.id)
        .details(json!({"before": previous, "after": input.phase, "forced": forced, "reason": reason, "open_tasks": open.len()}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();

    tracing::info!(case = case.number, user = user.account.id, phase = %input.phase, forced, "phase changed");
    Ok(Json(fetch_case(&state, case).await?))
}

/// Sets the phase and returns the previous one.
async fn update_phase(tx: &mut Tx, case: CaseRef, phase: Phase) -> Result<Phase> {
    // Writing first makes a SQLite transaction take the write lock before it reads, so a
    // concurrent writer makes it wait instead of failing with SQLITE_BUSY.
    sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
        .bind(now_millis())
        .bind(case.id)
        .execute(&mut **tx)
        .await?;
    let previous: String = sqlx::query("SELECT phase FROM cases WHERE id = $1")
        .bind(case.id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("phase")?;
    let previous = Phase::parse(&previous).ok_or_else(|| stored_value_error("phase", &previous))?;
    if previous == phase {
        return Err(Error::conflict(
            "phase",
            format!("the case is already in phase {}", phase.as_str()),
        ));
    }
    sqlx::query("UPDATE cases SET phase = $1 WHERE id = $2")
        .bind(phase.as_str())
        .bind(case.id)
        .execute(&mut **tx)
        .await?;
    Ok(previous)
}

#[cfg(test)]
mod tests {
    use super::section_shared;

    #[test]
    fn stakeholder_sections() {
        let cases = [
            ("/api/v1/cases/3", "", true),
            ("/api/v1/cases/3/", "", true),
            ("/api/v1/cases/3/findings", "", false),
            ("/api/v1/cases/3/findings", "notifications,findings", true),
            ("/api/v1/cases/3/findingsx", "findings", false),
            ("/api/v1/cases/3/imports", "findings", false),
            ("/cases/3/findings", "findings", true),
            ("/cases/3/imports", "findings", false),
            ("/api/v1/users", "findings", false),
        ];
        for (path, shared, expected) in cases {
            assert_eq!(section_shared(path, shared), expected, "{path} with [{shared}]");
        }
    }
}

/// Edits the fields of a case that describe it. The phase has its own route.
async fn update_case(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Json(input): Json<CaseUpdate>,
) -> Result<Json<Case>> {
    let before = fetch_case(&state, case).await?;
    let title = match input.title.as_deref().map(str::trim) {
        Some("") => return Err(Error::invalid("title", "title is missing; describe the incident in a few words")),
        Some(title) if title.chars().count() > 200 => {
            return Err(Error::invalid("title", "title is longer than 200 characters; shorten it"))
        }
        Some(title) => {
            plain_text("title", title, false)?;
            title.to_string()
        }
        None => before.title.clone(),
    };
    let summary = match input.summary.as_deref() {
        Some(summary) if summary.chars().count() > 20_000 => {
            return Err(Error::invalid("summary", "summary is longer than 20,000 characters; shorten it"))
        }
        Some(summary) => {
            plain_text("summary", summary, true)?;
            summary.trim().to_string()
        }
        None => before.summary.clone(),
    };
    let external_ref = match input.external_ref.as_deref().map(str::trim) {
        Some("") => None,
        Some(value) if value.chars().count() > 200 => {
            return Err(Error::invalid("external_ref", "external_ref is longer than 200 characters"))
        }
        Some(value) => {
            plain_text("external_ref", value, false)?;
            Some(value.to_string())
        }
        None => before.external_ref.clone(),
    };
    let compromise_time = match input.compromise_time.as_deref().map(str::trim) {
        Some("") => None,
        Some(value) => Some(parse_compromise_time(value)?),
        None => before.compromise_time.map(to_millis),
    };
    let severity = input.severity.unwrap_or(before.severity);
    let detection_source = input.detection_source.unwrap_or(before.detection_source);

    let mut tx = state.db.begin().await?;
    let updated = sqlx::query(
        "UPDATE cases SET title = $1, summary = $2, severity = $3, detection_source = $4, external_ref = $5, \
         compromise_time = $6, version = version + 1, updated_at = $7 WHERE id = $8 AND version = $9",
    )
    .bind(&title)
    .bind(&summary)
    .bind(severity.as_str())
    .bind(detection_source.as_str())
    .bind(&external_ref)
    .bind(compromise_time)
    .bind(now_millis())
    .bind(case.id)
    .bind(input.version)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(Error::conflict(
            "version",
            format!(
                "the case was changed since version {} was loaded (it is now version {}); reload it and apply your edit again",
                input.version, before.version
            ),
        ));
    }
    let event = audit::Event::new("case_updated", "case").entity(case.number).case(case.id).details(json!({
        "before": {"title": before.title, "severity": before.severity, "detection_source": before.detection_source,
                   "external_ref": before.external_ref, "compromise_time": before.compromise_time},
        "after": {"title": title, "severity": severity, "detection_source": detection_source,
                  "external_ref": external_ref, "compromise_time": compromise_time.map(crate::db::from_millis)},
        "summary_changed": summary != before.summary,
    }));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    tracing::info!(case = case.number, user = user.id(), "case updated");
    Ok(Json(fetch_case(&state, case).await?))
}
