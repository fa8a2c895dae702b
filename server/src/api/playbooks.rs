//! Playbook templates: the stored checklists that new cases copy their tasks from. Everyone
//! may read them; only administrators create and edit them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use rekey_types::{Phase, PlaybookInput, PlaybookStep, PlaybookTemplate};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::api::cases::stored_value_error;
use crate::audit::{self, Actor};
use crate::auth::{Admin, User};
use crate::db::{is_unique_violation, now_millis, time_column, Tx};
use crate::error::{Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/playbooks", get(list_playbooks).post(create_playbook))
        .route("/playbooks/{id}", get(get_playbook).put(replace_playbook))
}

const MAX_STEPS: usize = 200;


/// Checks a template and returns its trimmed name and description.
fn validate_playbook(input: &PlaybookInput) -> Result<(String, String)> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(Error::invalid(
            "name",
            "name is missing; name the kind of incident, such as 'Phished password'",
        ));
    }
    if name.chars().count() > 200 {
        return Err(Error::invalid(
            "name",
            "name is longer than 200 characters; shorten it",
        ));
    }
    if input.description.chars().count() > 5_000 {
        return Err(Error::invalid(
            "description",
            "description is longer than 5,000 characters; shorten it",
        ));
    }
    if input.steps.is_empty() {
        return Err(Error::invalid(
            "steps",
            "steps is empty; a playbook needs at least one step",
        ));
    }
    if input.steps.len() > MAX_STEPS {
        return Err(Error::invalid(
            "steps",
            format!("steps has more than {MAX_STEPS} entries; merge some"),
        ));
    }
    for (index, step) in input.steps.iter().enumerate() {
        validate_step(index, step)?;
    }
    Ok((name.to_string(), input.description.trim().to_string()))
}

fn validate_step(index: usize, step: &PlaybookStep) -> Result<()> {
    if step.phase == Phase::Closed {
        let field = format!("steps[{index}].phase");
        return Err(Error::invalid(
            &field,
            format!("{field}: a closed case has no tasks; choose a response phase"),
        ));
    }
    let title = step.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        let field = format!("steps[{index}].title");
        return Err(Error::invalid(
            &field,
            format!("{field} must be 1 to 200 characters"),
        ));
    }
    if step.description.chars().count() > 5_000 {
        let field = format!("steps[{index}].description");
        return Err(Error::invalid(
            &field,
            format!("{field} is longer than 5,000 characters"),
        ));
    }
    Ok(())
}

async fn list_playbooks(
    State(state): State<AppState>,
    _user: User,
) -> Result<Json<Vec<PlaybookTemplate>>> {
    let rows = sqlx::query("SELECT id FROM playbook_templates ORDER BY name")
        .fetch_all(&state.db.pool)
        .await?;
    let mut connection = state.db.pool.acquire().await?;
    let mut playbooks = Vec::with_capacity(rows.len());
    for row in rows {
        playbooks.push(fetch_playbook(&mut connection, row.try_get("id")?).await?);
    }
    Ok(Json(playbooks))
}

async fn get_playbook(
    State(state): State<AppState>,
    _user: User,
    Path(id): Path<i64>,
) -> Result<Json<PlaybookTemplate>> {
    let mut connection = state.db.pool.acquire().await?;
    Ok(Json(fetch_playbook(&mut connection, id).await?))
}

/// Loads a template with its steps, through a pooled connection or a transaction.
async fn fetch_playbook(connection: &mut AnyConnection, id: i64) -> Result<PlaybookTemplate> {
    let row = sqlx::query(
        "SELECT id, name, description, is_default, version, updated_at FROM playbook_templates WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *connection)
    .await?
    .ok_or(Error::NotFound("playbook"))?;
    let steps = sqlx::query(
        "SELECT phase, title, description FROM playbook_steps WHERE template_id = $1 ORDER BY position, id",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await?;
    let is_default: i64 = row.try_get("is_default")?;
    Ok(PlaybookTemplate {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        is_default: is_default != 0,
        steps: steps.iter().map(step_from_row).collect::<Result<_>>()?,
        version: row.try_get("version")?,
        updated_at: time_column(&row, "updated_at")?,
    })
}

fn step_from_row(row: &AnyRow) -> Result<PlaybookStep> {
    let phase: String = row.try_get("phase")?;
    Ok(PlaybookStep {
        phase: Phase::parse(&phase)
            .ok_or_else(|| stored_value_error("playbook_steps.phase", &phase))?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
    })
}

fn name_taken(error: sqlx::Error) -> Error {
    if is_unique_violation(&error) {
        return Error::conflict(
            "name",
            "a playbook with this name exists; choose another name",
        );
    }
    error.into()
}

async fn create_playbook(
    State(state): State<AppState>,
    Admin(user): Admin,
    Json(input): Json<PlaybookInput>,
) -> Result<(StatusCode, Json<PlaybookTemplate>)> {
    let (name, description) = validate_playbook(&input)?;
    let mut tx = state.db.begin().await?;
    if input.is_default {
        clear_default(&mut tx).await?;
    }
    let now = now_millis();
    let id: i64 = sqlx::query(
        "INSERT INTO playbook_templates (name, description, is_default, version, created_at, updated_at) \
         VALUES ($1, $2, $3, 1, $4, $4) RETURNING id",
    )
    .bind(&name)
    .bind(&description)
    .bind(i64::from(input.is_default))
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(name_taken)?
    .try_get("id")?;
    insert_steps(&mut tx, id, &input.steps).await?;
    let created = fetch_playbook(&mut tx, id).await?;
    let event = audit::Event::new("create", "playbook").entity(id).details(json!(created));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(playbook = id, user = user.account.id, "playbook created");
    Ok((StatusCode::CREATED, Json(created)))
}

async fn replace_playbook(
    State(state): State<AppState>,
    Admin(user): Admin,
    Path(id): Path<i64>,
    Json(input): Json<PlaybookInput>,
) -> Result<Json<PlaybookTemplate>> {
    let (name, description) = validate_playbook(&input)?;
    let Some(version) = input.version else {
        return Err(Error::invalid(
            "version",
            "version is missing; send the version of the playbook you edited",
        ));
    };
    let mut tx = state.db.begin().await?;
    // Writing first takes the row's write lock before the read, as for tasks.
    sqlx::query("UPDATE playbook_templates SET version = version WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let before = fetch_playbook(&mut tx, id).await?;
    if before.version != version {
        return Err(Error::StaleVersion {
            record: "playbook",
            current_version: before.version,
        });
    }
    if input.is_default {
        clear_default(&mut tx).await?;
    }
    sqlx::query(
        "UPDATE playbook_templates SET name = $1, description = $2, is_default = $3, \
         version = version + 1, updated_at = $4 WHERE id = $5",
    )
    .bind(&name)
    .bind(&description)
    .bind(i64::from(input.is_default))
    .bind(now_millis())
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(name_taken)?;
    sqlx::query("DELETE FROM playbook_steps WHERE template_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    insert_steps(&mut tx, id, &input.steps).await?;
    let after = fetch_playbook(&mut tx, id).await?;
    let event = audit::Event::new("update", "playbook")
        .entity(id)
        .details(json!({"before": before, "after": after}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(playbook = id, user = user.account.id, "playbook replaced");
    Ok(Json(after))
}

async fn clear_default(tx: &mut Tx) -> Result<()> {
    sqlx::query("UPDATE playbook_templates SET is_default = 0 WHERE is_default = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_steps(tx: &mut Tx, template_id: i64, steps: &[PlaybookStep]) -> Result<()> {
    for (index, step) in steps.iter().enumerate() {
        sqlx::query(
            "INSERT INTO playbook_steps (template_id, phase, position, title, description) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(template_id)
        .bind(step.phase.as_str())
        .bind(i64::try_from(index).unwrap_or(i64::MAX) + 1)
        .bind(step.title.trim())
        .bind(step.description.trim())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
