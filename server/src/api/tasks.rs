//! The checklist tasks of a case and the record of its phase changes.

use axum::extract::{Path, State};
use axum::routing::{get, patch};
use rekey_types::{
    contains_secret_key, parse_zoned_time, secret_rejected_message, Phase, PhaseChangeRecord, Task,
    TaskStatus, TaskUpdate,
};
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::{stored_value_error, CaseRef};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{from_millis, now_millis, optional_time_column, time_column, to_millis, Tx};
use crate::error::{Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/cases/{number}/tasks", get(list_tasks))
        .route("/cases/{number}/tasks/{id}", patch(update_task))
        .route("/cases/{number}/phase-changes", get(list_phase_changes))
}

const TASK_SELECT: &str = "SELECT t.id, t.phase, t.position, t.title, t.description, t.status, \
    t.skip_reason, t.due_at, t.finished_at, t.version, t.updated_at, \
    a.username AS assignee, a.display_name AS assignee_name, f.display_name AS finished_by \
    FROM tasks t LEFT JOIN users a ON a.id = t.assignee_id LEFT JOIN users f ON f.id = t.finished_by";

fn task_from_row(row: &AnyRow) -> Result<Task> {
    let phase: String = row.try_get("phase")?;
    let status: String = row.try_get("status")?;
    Ok(Task {
        id: row.try_get("id")?,
        phase: Phase::parse(&phase).ok_or_else(|| stored_value_error("tasks.phase", &phase))?,
        position: row.try_get("position")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        status: TaskStatus::parse(&status)
            .ok_or_else(|| stored_value_error("tasks.status", &status))?,
        skip_reason: row.try_get("skip_reason")?,
        assignee: row.try_get("assignee")?,
        assignee_name: row.try_get("assignee_name")?,
        due_at: optional_time_column(row, "due_at")?,
        finished_by: row.try_get("finished_by")?,
        finished_at: optional_time_column(row, "finished_at")?,
        version: row.try_get("version")?,
        updated_at: time_column(row, "updated_at")?,
    })
}

pub(crate) async fn list_tasks(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<Task>>> {
    let sql = format!("{TASK_SELECT} WHERE t.case_id = $1 ORDER BY t.position, t.id");
    let rows = sqlx::query(&sql)
        .bind(case.id)
        .fetch_all(&state.db.pool)
        .await?;
    let tasks = rows.iter().map(task_from_row).collect::<Result<_>>()?;
    Ok(Json(tasks))
}

/// Copies the steps of the default playbook template into tasks of a new case. A database
/// without a default template gives the case no tasks.
pub async fn create_case_tasks(tx: &mut Tx, case_id: i64, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO tasks (case_id, phase, position, title, description, status, version, \
         created_at, updated_at) \
         SELECT $1, s.phase, s.position, s.title, s.description, $2, 1, $3, $3 \
         FROM playbook_steps s JOIN playbook_templates p ON p.id = s.template_id \
         WHERE p.is_default = 1",
    )
    .bind(case_id)
    .bind(TaskStatus::Todo.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Phases a case passes when it moves from `from` to `to`: `from` itself and those between,
/// none when it moves back.
pub fn phases_left(from: Phase, to: Phase) -> Vec<Phase> {
    Phase::ALL
        .iter()
        .copied()
        .filter(|phase| !from.is_after(*phase) && to.is_after(*phase))
        .collect()
}

/// Lists the tasks of `phases` that are neither done nor skipped, as phase and title, in
/// checklist order.
pub async fn open_tasks(tx: &mut Tx, case_id: i64, phases: &[Phase]) -> Result<Vec<(Phase, String)>> {
    let mut titles = Vec::new();
    for phase in phases {
        let rows = sqlx::query(
            "SELECT title FROM tasks WHERE case_id = $1 AND phase = $2 AND status IN ($3, $4) \
             ORDER BY position, id",
        )
        .bind(case_id)
        .bind(phase.as_str())
        .bind(TaskStatus::Todo.as_str())
        .bind(TaskStatus::InProgress.as_str())
        .fetch_all(&mut **tx)
        .await?;
        for row in &rows {
            titles.push((*phase, row.try_get("title")?));
        }
    }
    Ok(titles)
}

/// A phase change as it is stored.
pub struct NewPhaseChange<'a> {
    pub case_id: i64,
    pub from: Phase,
    pub to: Phase,
    pub forced: bool,
    pub reason: Option<&'a str>,
    pub open_tasks: usize,
    pub user_id: i64,
}

pub async fn record_phase_change(tx: &mut Tx, change: NewPhaseChange<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO phase_changes (case_id, from_phase, to_phase, forced, reason, open_tasks, \
         changed_by, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(change.case_id)
    .bind(change.from.as_str())
    .bind(change.to.as_str())
    .bind(i64::from(change.forced))
    .bind(change.reason)
    .bind(i64::try_from(change.open_tasks).unwrap_or(i64::MAX))
    .bind(change.user_id)
    .bind(now_millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn list_phase_changes(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<PhaseChangeRecord>>> {
    let rows = sqlx::query(
        "SELECT c.id, c.from_phase, c.to_phase, c.forced, c.reason, c.open_tasks, c.changed_at, \
         u.display_name AS changed_by \
         FROM phase_changes c JOIN users u ON u.id = c.changed_by \
         WHERE c.case_id = $1 ORDER BY c.changed_at, c.id",
    )
    .bind(case.id)
    .fetch_all(&state.db.pool)
    .await?;
    let changes = rows
        .iter()
        .map(phase_change_from_row)
        .collect::<Result<_>>()?;
    Ok(Json(changes))
}

fn phase_change_from_row(row: &AnyRow) -> Result<PhaseChangeRecord> {
    let from: String = row.try_get("from_phase")?;
    let to: String = row.try_get("to_phase")?;
    let forced: i64 = row.try_get("forced")?;
    Ok(PhaseChangeRecord {
        id: row.try_get("id")?,
        from_phase: Phase::parse(&from).ok_or_else(|| stored_value_error("from_phase", &from))?,
        to_phase: Phase::parse(&to).ok_or_else(|| stored_value_error("to_phase", &to))?,
        forced: forced != 0,
        reason: row.try_get("reason")?,
        open_tasks: row.try_get("open_tasks")?,
        changed_by: row.try_get("changed_by")?,
        changed_at: time_column(row, "changed_at")?,
    })
}

/// Stored state of a task that an update may change.
#[derive(Clone)]
struct TaskState {
    version: i64,
    status: TaskStatus,
    skip_reason: Option<String>,
    assignee_id: Option<i64>,
    due_at: Option<i64>,
    finished_by: Option<i64>,
    finished_at: Option<i64>,
}

impl TaskState {
    /// Returns the fields as the audit log records them, with times in RFC 3339.
    fn audit_values(&self) -> Value {
        json!({
            "status": self.status,
            "skip_reason": self.skip_reason,
            "assignee_id": self.assignee_id,
            "due_at": self.due_at.map(from_millis),
            "finished_by": self.finished_by,
            "finished_at": self.finished_at.map(from_millis),
        })
    }
}

async fn load_task_state(tx: &mut Tx, case: CaseRef, task_id: i64) -> Result<TaskState> {
    let row = sqlx::query(
        "SELECT version, status, skip_reason, assignee_id, due_at, finished_by, finished_at \
         FROM tasks WHERE id = $1 AND case_id = $2",
    )
    .bind(task_id)
    .bind(case.id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(Error::NotFound("task"))?;
    let status: String = row.try_get("status")?;
    Ok(TaskState {
        version: row.try_get("version")?,
        status: TaskStatus::parse(&status)
            .ok_or_else(|| stored_value_error("tasks.status", &status))?,
        skip_reason: row.try_get("skip_reason")?,
        assignee_id: row.try_get("assignee_id")?,
        due_at: row.try_get("due_at")?,
        finished_by: row.try_get("finished_by")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// Applies an update to the stored state, checking each given field.
async fn apply_update(
    tx: &mut Tx,
    user: &User,
    mut task: TaskState,
    input: &TaskUpdate,
) -> Result<TaskState> {
    if let Some(assignee) = input.assignee.as_deref().map(str::trim) {
        task.assignee_id = match assignee {
            "" => None,
            username => Some(user_id_by_username(tx, username).await?),
        };
    }

    if let Some(due_at) = input.due_at.as_deref().map(str::trim) {
        task.due_at = match due_at {
            "" => None,
            value => Some(to_millis(parse_zoned_time(value).map_err(|message| {
                Error::invalid("due_at", format!("due_at: {message}"))
            })?)),
        };
    }

    let status = input.status.unwrap_or(task.status);
    let skip_reason = input
        .skip_reason
        .as_deref()
        .map(str::trim)
        .filter(|reason| !reason.is_empty());
    if let Some(reason) = skip_reason {
        if reason.chars().count() > 2_000 {
            return Err(Error::invalid(
                "skip_reason",
                "skip_reason is longer than 2,000 characters; shorten it",
            ));
        }
        if contains_secret_key(reason) {
            return Err(Error::invalid(
                "skip_reason",
                format!("skip_reason: {}", secret_rejected_message()),
            ));
        }
    }
    // A task that stays skipped keeps its reason unless a new one is given.
    let kept_reason = task
        .skip_reason
        .take()
        .filter(|_| task.status == TaskStatus::Skipped);
    task.skip_reason = match status {
        TaskStatus::Skipped => match skip_reason.map(str::to_string).or(kept_reason) {
            Some(reason) => Some(reason),
            None => {
                return Err(Error::invalid(
                    "skip_reason",
                    "skip_reason is missing; a skipped task needs the reason it is not done",
                ))
            }
        },
        _ => None,
    };

    if status != task.status {
        if status.is_open() {
            task.finished_by = None;
            task.finished_at = None;
        } else {
            task.finished_by = Some(user.account.id);
            task.finished_at = Some(now_millis());
        }
        task.status = status;
    }
    Ok(task)
}

async fn user_id_by_username(tx: &mut Tx, username: &str) -> Result<i64> {
    let row = sqlx::query("SELECT id FROM users WHERE username = $1 AND disabled = 0")
        .bind(username)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| {
            Error::invalid(
                "assignee",
                format!("assignee: no active user '{username}'; give the username of an existing account"),
            )
        })?;
    Ok(row.try_get("id")?)
}

async fn update_task(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((number, task_id)): Path<(i64, i64)>,
    Json(input): Json<TaskUpdate>,
) -> Result<Json<Task>> {
    let mut tx = state.db.begin().await?;
    // Writing first takes the row's write lock before the read, so concurrent updates wait
    // for each other, and a SQLite transaction never has to upgrade from reader to writer.
    sqlx::query("UPDATE tasks SET version = version WHERE id = $1")
        .bind(task_id)
        .execute(&mut *tx)
        .await?;
    let stored = load_task_state(&mut tx, case, task_id).await?;
    if stored.version != input.version {
        return Err(Error::StaleVersion {
            record: "task",
            current_version: stored.version,
        });
    }
    let before = stored.audit_values();
    let updated = apply_update(&mut tx, &user, stored, &input).await?;

    // The version condition makes a concurrent update that committed after the read above
    // win, and this one fail with 409, instead of one silently overwriting the other.
    let result = sqlx::query(
        "UPDATE tasks SET status = $1, skip_reason = $2, assignee_id = $3, due_at = $4, \
         finished_by = $5, finished_at = $6, version = version + 1, updated_at = $7 \
         WHERE id = $8 AND version = $9",
    )
    .bind(updated.status.as_str())
    .bind(&updated.skip_reason)
    .bind(updated.assignee_id)
    .bind(updated.due_at)
    .bind(updated.finished_by)
    .bind(updated.finished_at)
    .bind(now_millis())
    .bind(task_id)
    .bind(input.version)
    .execute(&mut *tx)
    .await?;
    if result.rows_affected() == 0 {
        drop(tx);
        let current = current_task_version(&state, task_id).await?;
        return Err(Error::StaleVersion {
            record: "task",
            current_version: current,
        });
    }
    let event = audit::Event::new("update", "task")
        .entity(task_id)
        .case(case.id)
        .details(json!({"before": before, "after": updated.audit_values()}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(case = number, task = task_id, user = user.account.id, status = %updated.status, "task updated");
    let sql = format!("{TASK_SELECT} WHERE t.id = $1");
    let row = sqlx::query(&sql)
        .bind(task_id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(Json(task_from_row(&row)?))
}

async fn current_task_version(state: &AppState, task_id: i64) -> Result<i64> {
    let row = sqlx::query("SELECT version FROM tasks WHERE id = $1")
        .bind(task_id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(Error::NotFound("task"))?;
    Ok(row.try_get("version")?)
}
