//! Changing the severity of a case, which notifies the stakeholders who follow it.

use axum::extract::{Path, State};
use axum::routing::post;
use rekey_types::{Case, Severity, SeverityChange};
use serde_json::json;
use sqlx::Row;

use crate::api::cases::{fetch_case, stored_value_error, CaseRef};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::now_millis;
use crate::error::{Error, Json, Result};
use crate::mail::{self, CaseEvent};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new().route("/cases/{number}/severity", post(change_severity))
}

async fn change_severity(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path(number): Path<i64>,
    Json(input): Json<SeverityChange>,
) -> Result<Json<Case>> {
    let mut tx = state.db.begin().await?;
    // Writing first takes SQLite's write lock before the read, as in the phase change.
    sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
        .bind(now_millis())
        .bind(case.id)
        .execute(&mut *tx)
        .await?;
    let previous: String = sqlx::query("SELECT severity FROM cases WHERE id = $1")
        .bind(case.id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("severity")?;
    let previous = Severity::parse(&previous).ok_or_else(|| stored_value_error("severity", &previous))?;
    if previous == input.severity {
        return Err(Error::conflict(
            "severity",
            format!("the case already has severity {}", input.severity.as_str()),
        ));
    }
    sqlx::query("UPDATE cases SET severity = $1 WHERE id = $2")
        .bind(input.severity.as_str())
        .bind(case.id)
        .execute(&mut *tx)
        .await?;
    let event = CaseEvent::SeverityChanged {
        from: previous,
        to: input.severity,
        by: user.account.display_name.clone(),
    };
    mail::enqueue_case_event(&mut tx, &state.settings, case.id, &event).await?;
    let event = audit::Event::new("severity_changed", "case")
        .entity(number)
        .case(case.id)
        .details(json!({"before": previous, "after": input.severity}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();

    tracing::info!(case = number, user = user.account.id, severity = %input.severity, "severity changed");
    Ok(Json(fetch_case(&state, case).await?))
}
