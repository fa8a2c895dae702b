//! Members of a case: who may open it and in which role.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use rekey_types::{CaseMember, CaseRole, NewCaseMember, UserRole};
use serde_json::json;
use sqlx::Row;

use crate::api::cases::{stored_value_error, CaseRef};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{now_millis, time_column};
use crate::error::{parse_json, Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/cases/{number}/members", get(list_members).post(add_member))
        .route("/cases/{number}/members/{user_id}", delete(remove_member))
}

/// Case id for a membership change: the case's leads may change members, and so may
/// administrators, who manage access without reading the case.
async fn case_for_membership_change(state: &AppState, user: &User, number: i64) -> Result<i64> {
    if user.role() == UserRole::Admin {
        let row = sqlx::query("SELECT id FROM cases WHERE number = $1")
            .bind(number)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or(Error::NotFound("case"))?;
        return Ok(row.try_get("id")?);
    }
    let case = CaseRef::load(state, user, number).await?;
    if case.role != Some(CaseRole::Lead) {
        return Err(Error::Forbidden("only a lead of the case can change its members".to_string()));
    }
    Ok(case.id)
}

async fn load_members(state: &AppState, case_id: i64) -> Result<Vec<CaseMember>> {
    let rows = sqlx::query(
        "SELECT m.user_id, m.role, m.added_at, u.username, u.display_name FROM case_members m \
         JOIN users u ON u.id = m.user_id WHERE m.case_id = $1 ORDER BY m.added_at, m.user_id",
    )
    .bind(case_id)
    .fetch_all(&state.db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let role: String = row.try_get("role")?;
            Ok(CaseMember {
                user_id: row.try_get("user_id")?,
                username: row.try_get("username")?,
                display_name: row.try_get("display_name")?,
                role: CaseRole::parse(&role).ok_or_else(|| stored_value_error("role", &role))?,
                added_at: time_column(row, "added_at")?,
            })
        })
        .collect()
}

async fn list_members(
    State(state): State<AppState>,
    user: User,
    Path(number): Path<i64>,
) -> Result<Json<Vec<CaseMember>>> {
    let case_id = if user.role() == UserRole::Admin {
        case_for_membership_change(&state, &user, number).await?
    } else {
        CaseRef::load(&state, &user, number).await?.id
    };
    Ok(Json(load_members(&state, case_id).await?))
}

async fn add_member(
    State(state): State<AppState>,
    user: User,
    Path(number): Path<i64>,
    body: Bytes,
) -> Result<(StatusCode, Json<Vec<CaseMember>>)> {
    // Access is checked before the body is parsed, so callers without access learn nothing
    // from validation errors.
    let case_id = case_for_membership_change(&state, &user, number).await?;
    let input: NewCaseMember = parse_json(&body)?;
    let member = sqlx::query("SELECT id, role, disabled FROM users WHERE username = $1")
        .bind(input.username.trim())
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(|| Error::invalid("username", format!("user '{}' not found; check the username", input.username.trim())))?;
    let member_id: i64 = member.try_get("id")?;
    let global_role: String = member.try_get("role")?;
    if global_role == UserRole::Stakeholder.as_str() && input.role != CaseRole::Viewer {
        return Err(Error::invalid(
            "role",
            "stakeholder accounts can only be viewers of a case",
        ));
    }

    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM case_members WHERE case_id = $1 AND user_id = $2")
        .bind(case_id)
        .bind(member_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO case_members (case_id, user_id, role, added_by, added_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(case_id)
        .bind(member_id)
        .bind(input.role.as_str())
        .bind(user.id())
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
    ensure_a_lead_remains(&mut tx, case_id).await?;
    let event = audit::Event::new("case_member_set", "case_member")
        .entity(member_id)
        .case(case_id)
        .details(json!({"username": input.username.trim(), "role": input.role}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(case = number, member = member_id, role = %input.role, by = user.id(), "case member set");
    Ok((StatusCode::CREATED, Json(load_members(&state, case_id).await?)))
}

async fn remove_member(
    State(state): State<AppState>,
    user: User,
    Path((number, member_id)): Path<(i64, i64)>,
) -> Result<StatusCode> {
    let case_id = case_for_membership_change(&state, &user, number).await?;
    let mut tx = state.db.begin().await?;
    let removed = sqlx::query("DELETE FROM case_members WHERE case_id = $1 AND user_id = $2")
        .bind(case_id)
        .bind(member_id)
        .execute(&mut *tx)
        .await?;
    if removed.rows_affected() == 0 {
        return Err(Error::NotFound("case member"));
    }
    ensure_a_lead_remains(&mut tx, case_id).await?;
    let event = audit::Event::new("case_member_removed", "case_member").entity(member_id).case(case_id);
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    tracing::info!(case = number, member = member_id, by = user.id(), "case member removed");
    Ok(StatusCode::NO_CONTENT)
}

/// Rejects a change that would leave the case without a lead, since only leads can then
/// manage its members.
async fn ensure_a_lead_remains(tx: &mut crate::db::Tx, case_id: i64) -> Result<()> {
    let leads: i64 = sqlx::query("SELECT COUNT(*) AS n FROM case_members WHERE case_id = $1 AND role = 'lead'")
        .bind(case_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
    if leads == 0 {
        return Err(Error::conflict("role", "a case needs at least one lead; add another lead first"));
    }
    Ok(())
}
