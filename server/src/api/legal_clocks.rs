//! Legal clocks: deadlines that run from a recorded moment of awareness, such as 72 hours to
//! report a personal-data breach to a regulator. The reminder task emails the case leads at each
//! clock's reminder time.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use rekey_types::{parse_zoned_time, LegalClock, NewLegalClock};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::CaseRef;
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{now_millis, optional_time_column, time_column, to_millis};
use crate::error::{Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

const HOUR_MILLIS: i64 = 3_600_000;

/// Reminder lead time when the request names none, in hours.
const DEFAULT_REMIND_BEFORE_HOURS: i64 = 12;

/// Maximum deadline: one year, in hours.
const MAX_DEADLINE_HOURS: i64 = 24 * 366;

pub fn router() -> Routes {
    Routes::new()
        .route("/cases/{number}/legal-clocks", get(list_clocks).post(add_clock))
        .route("/cases/{number}/legal-clocks/{id}/met", post(mark_met))
}

const CLOCK_COLUMNS: &str = "id, name, aware_at, deadline_at, remind_at, reminded_at, met_at";

fn clock_from_row(row: &AnyRow, now: i64) -> Result<LegalClock> {
    let deadline_at: i64 = row.try_get("deadline_at")?;
    Ok(LegalClock {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        aware_at: time_column(row, "aware_at")?,
        deadline_at: time_column(row, "deadline_at")?,
        remind_at: time_column(row, "remind_at")?,
        seconds_left: (deadline_at - now) / 1000,
        reminded_at: optional_time_column(row, "reminded_at")?,
        met_at: optional_time_column(row, "met_at")?,
    })
}

async fn list_clocks(State(state): State<AppState>, user: User, Path(number): Path<i64>) -> Result<Json<Vec<LegalClock>>> {
    let case = CaseRef::load(&state, &user, number).await?;
    let sql = format!("SELECT {CLOCK_COLUMNS} FROM legal_clocks WHERE case_id = $1 ORDER BY deadline_at, id");
    let rows = sqlx::query(&sql).bind(case.id).fetch_all(&state.db.pool).await?;
    let now = now_millis();
    Ok(Json(rows.iter().map(|row| clock_from_row(row, now)).collect::<Result<_>>()?))
}

async fn add_clock(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path(number): Path<i64>,
    Json(input): Json<NewLegalClock>,
) -> Result<(StatusCode, Json<LegalClock>)> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "name is missing or longer than 200 characters; say what the deadline is for"));
    }
    let aware_at = parse_zoned_time(input.aware_at.trim()).map_err(|message| Error::invalid("aware_at", message))?;
    if !(1..=MAX_DEADLINE_HOURS).contains(&input.deadline_hours) {
        return Err(Error::invalid(
            "deadline_hours",
            format!("deadline_hours must be between 1 and {MAX_DEADLINE_HOURS}, such as 72"),
        ));
    }
    let remind_before = input.remind_before_hours.unwrap_or(DEFAULT_REMIND_BEFORE_HOURS.min(input.deadline_hours));
    if !(0..=input.deadline_hours).contains(&remind_before) {
        return Err(Error::invalid(
            "remind_before_hours",
            format!("remind_before_hours must be between 0 and deadline_hours ({})", input.deadline_hours),
        ));
    }
    let aware_at = to_millis(aware_at);
    let deadline_at = aware_at + input.deadline_hours * HOUR_MILLIS;
    let remind_at = deadline_at - remind_before * HOUR_MILLIS;

    let now = now_millis();
    let sql = format!(
        "INSERT INTO legal_clocks (case_id, name, aware_at, deadline_at, remind_at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {CLOCK_COLUMNS}"
    );
    let mut tx = state.db.begin().await?;
    let row = sqlx::query(&sql)
        .bind(case.id)
        .bind(name)
        .bind(aware_at)
        .bind(deadline_at)
        .bind(remind_at)
        .bind(user.account.id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    let clock = clock_from_row(&row, now)?;
    let event = audit::Event::new("create", "legal_clock")
        .entity(clock.id)
        .case(case.id)
        .details(json!({
            "name": clock.name,
            "aware_at": clock.aware_at,
            "deadline_at": clock.deadline_at,
            "remind_at": clock.remind_at,
        }));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    tracing::info!(case = number, user = user.account.id, clock = clock.id, "legal clock added");
    Ok((StatusCode::CREATED, Json(clock)))
}

/// Records that the obligation behind a clock is met, which stops its reminder. A clock that
/// is already met keeps its first time.
async fn mark_met(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((number, id)): Path<(i64, i64)>,
) -> Result<Json<LegalClock>> {
    let now = now_millis();
    let mut tx = state.db.begin().await?;
    let sql = format!(
        "UPDATE legal_clocks SET met_at = $1 WHERE id = $2 AND case_id = $3 AND met_at IS NULL RETURNING {CLOCK_COLUMNS}"
    );
    let updated = sqlx::query(&sql)
        .bind(now)
        .bind(id)
        .bind(case.id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = updated else {
        drop(tx);
        let sql = format!("SELECT {CLOCK_COLUMNS} FROM legal_clocks WHERE id = $1 AND case_id = $2");
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(case.id)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or(Error::NotFound("legal clock"))?;
        return Ok(Json(clock_from_row(&row, now)?));
    };
    let clock = clock_from_row(&row, now)?;
    let event = audit::Event::new("update", "legal_clock")
        .entity(id)
        .case(case.id)
        .details(json!({"before": {"met_at": null}, "after": {"met_at": clock.met_at}}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    tracing::info!(case = number, user = user.account.id, clock = id, "legal clock met");
    Ok(Json(clock))
}
