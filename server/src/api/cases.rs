//! Cases: create, list, open, change phase.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use rekey_types::{
    case_reference, parse_zoned_time, Case, DetectionSource, NewCase, Phase, PhaseChange, RedactionKind, Severity,
};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::auth::User;
use crate::db::{now_millis, optional_time_column, time_column, to_millis, Tx};
use crate::error::{Error, Json, Result};
use crate::mail::{self, CaseEvent};
use crate::redact::redact_into;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases", get(list_cases).post(create_case))
        .route("/cases/{number}", get(get_case))
        .route("/cases/{number}/phase", post(change_phase))
}

/// A case the caller may work on, identified by its number in the URL.
#[derive(Debug, Clone, Copy)]
pub struct CaseRef {
    pub id: i64,
    pub number: i64,
}

impl CaseRef {
    /// Looks up case `number` for `user`; 404 when it does not exist.
    ///
    /// NOTE: every signed-in user may open every case for now; per-case membership belongs
    /// here, so that all case routes pick it up.
    pub async fn load(state: &AppState, _user: &User, number: i64) -> Result<CaseRef> {
        let row = sqlx::query("SELECT id FROM cases WHERE number = $1")
            .bind(number)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or(Error::NotFound("case"))?;
        Ok(CaseRef {
            id: row.try_get("id")?,
            number,
        })
    }
}

const CASE_COLUMNS: &str = "c.id, c.number, c.title, c.summary, c.severity, c.detection_source, \
    c.external_ref, c.phase, c.compromise_time, c.created_at, c.updated_at, \
    u.display_name AS created_by, \
    (SELECT COUNT(*) FROM credentials k WHERE k.case_id = c.id) AS credential_count, \
    (SELECT COUNT(*) FROM findings f WHERE f.case_id = c.id) AS finding_count";

fn case_from_row(row: &AnyRow) -> Result<Case> {
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
        redactions: Vec::new(),
    })
}

/// Error for a stored value outside its set, which only a broken migration or manual edit
/// can cause.
pub fn stored_value_error(column: &str, value: &str) -> Error {
    Error::Internal(anyhow::anyhow!("unexpected value '{value}' in column {column}"))
}

async fn list_cases(State(state): State<AppState>, _user: User) -> Result<Json<Vec<Case>>> {
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM cases c JOIN users u ON u.id = c.created_by ORDER BY c.number DESC"
    );
    let rows = sqlx::query(&sql).fetch_all(&state.db.pool).await?;
    let cases = rows.iter().map(case_from_row).collect::<Result<_>>()?;
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
    case_from_row(&row)
}

async fn get_case(State(state): State<AppState>, user: User, Path(number): Path<i64>) -> Result<Json<Case>> {
    let case = CaseRef::load(&state, &user, number).await?;
    Ok(Json(fetch_case(&state, case).await?))
}

/// Checked fields of a new case, with secrets redacted from the title and summary.
struct ValidCase {
    title: String,
    summary: String,
    redactions: Vec<RedactionKind>,
    external_ref: Option<String>,
    compromise_time: Option<i64>,
}

fn validate_new_case(input: &NewCase) -> Result<ValidCase> {
    let title = input.title.trim();
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
    let compromise_time = match input.compromise_time.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(value) => {
            let time = parse_zoned_time(value).map_err(|message| Error::invalid("compromise_time", message))?;
            Some(to_millis(time))
        }
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
    user: User,
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
         compromise_time, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(number)
    .bind(&valid.title)
    .bind(&valid.summary)
    .bind(input.severity.as_str())
    .bind(input.detection_source.as_str())
    .bind(&valid.external_ref)
    .bind(Phase::Identification.as_str())
    .bind(valid.compromise_time)
    .bind(user.0.id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    tx.commit().await?;

    tracing::info!(case = number, user = user.0.id, "case created");
    let mut case = fetch_case(&state, CaseRef { id, number }).await?;
    case.redactions = valid.redactions;
    Ok((StatusCode::CREATED, Json(case)))
}

async fn change_phase(
    State(state): State<AppState>,
    user: User,
    Path(number): Path<i64>,
    Json(input): Json<PhaseChange>,
) -> Result<Json<Case>> {
    let case = CaseRef::load(&state, &user, number).await?;
    let mut tx = state.db.begin().await?;
    let previous = update_phase(&mut tx, case, input.phase).await?;
    mail::enqueue_case_event(
        &mut tx,
        &state.settings,
        case.id,
        &CaseEvent::PhaseChanged {
            from: previous,
            to: input.phase,
            by: user.0.display_name.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();

    tracing::info!(case = number, user = user.0.id, phase = %input.phase, "phase changed");
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
