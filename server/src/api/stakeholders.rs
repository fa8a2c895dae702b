//! Stakeholders of a case and the notifications sent to them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use rekey_types::{validate_email, DeliveryStatus, NewStakeholder, Notification, Stakeholder, StakeholderRole};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::{stored_value_error, CaseRef};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{is_unique_violation, now_millis, optional_time_column, time_column};
use crate::error::{Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/cases/{number}/stakeholders", get(list_stakeholders).post(add_stakeholder))
        .route("/cases/{number}/notifications", get(list_notifications))
}

fn stakeholder_from_row(row: &AnyRow) -> Result<Stakeholder> {
    let role: String = row.try_get("role")?;
    Ok(Stakeholder {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        role: StakeholderRole::parse(&role).ok_or_else(|| stored_value_error("role", &role))?,
        created_at: time_column(row, "created_at")?,
    })
}

async fn list_stakeholders(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<Stakeholder>>> {
    let rows = sqlx::query("SELECT id, name, email, role, created_at FROM stakeholders WHERE case_id = $1 ORDER BY id")
        .bind(case.id)
        .fetch_all(&state.db.pool)
        .await?;
    Ok(Json(rows.iter().map(stakeholder_from_row).collect::<Result<_>>()?))
}

async fn add_stakeholder(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Json(input): Json<NewStakeholder>,
) -> Result<(StatusCode, Json<Stakeholder>)> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "name is missing or longer than 200 characters"));
    }
    crate::api::cases::plain_text("name", name, false)?;
    let email = input.email.trim().to_lowercase();
    validate_email(&email).map_err(|message| Error::invalid("email", message))?;

    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO stakeholders (case_id, name, email, role, created_at) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, name, email, role, created_at",
    )
    .bind(case.id)
    .bind(name)
    .bind(&email)
    .bind(input.role.as_str())
    .bind(now_millis())
    .fetch_one(&mut *tx)
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict("email", format!("{email} is already a stakeholder of this case")))
        }
        Err(e) => return Err(e.into()),
    };
    let stakeholder = stakeholder_from_row(&row)?;
    let event = audit::Event::new("stakeholder_added", "stakeholder")
        .entity(stakeholder.id)
        .case(case.id)
        .details(json!({"name": stakeholder.name, "email": stakeholder.email, "role": stakeholder.role}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    tracing::info!(case = case.number, user = user.account.id, "stakeholder added");
    Ok((StatusCode::CREATED, Json(stakeholder)))
}

async fn list_notifications(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<Notification>>> {
    let rows = sqlx::query(
        "SELECT id, recipient, subject, status, attempts, last_error, created_at, sent_at FROM outbox \
         WHERE case_id = $1 ORDER BY id DESC",
    )
    .bind(case.id)
    .fetch_all(&state.db.pool)
    .await?;
    let notifications = rows
        .iter()
        .map(|row| {
            let status: String = row.try_get("status")?;
            Ok(Notification {
                id: row.try_get("id")?,
                recipient: row.try_get("recipient")?,
                subject: row.try_get("subject")?,
                status: DeliveryStatus::parse(&status).ok_or_else(|| stored_value_error("status", &status))?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
                created_at: time_column(row, "created_at")?,
                sent_at: optional_time_column(row, "sent_at")?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Json(notifications))
}
