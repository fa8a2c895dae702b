//! Playbooks, the checklist tasks they give each case, and the record of phase changes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Phase;

wire_enum!(
    /// Progress of a checklist task. Done and skipped tasks are finished; the others are open.
    TaskStatus {
        Todo = "todo", "To do";
        InProgress = "in_progress", "In progress";
        Done = "done", "Done";
        Skipped = "skipped", "Skipped";
    }
);

impl TaskStatus {
    pub fn is_open(self) -> bool {
        matches!(self, TaskStatus::Todo | TaskStatus::InProgress)
    }
}

impl Phase {
    /// Tells whether this phase comes later in the response than `other`.
    pub fn is_after(self, other: Phase) -> bool {
        let position = |phase: Phase| Phase::ALL.iter().position(|p| *p == phase);
        position(self) > position(other)
    }
}

/// One checklist task of a case, copied from a playbook step when the case was created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Task {
    pub id: i64,
    pub phase: Phase,
    /// Order of the task within the case's checklist.
    pub position: i64,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    /// Why the task was skipped; set exactly when `status` is `skipped`.
    pub skip_reason: Option<String>,
    /// Username of the assignee.
    pub assignee: Option<String>,
    pub assignee_name: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// Display name of the user who marked the task done or skipped.
    pub finished_by: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Incremented by every change; send it back with the next change.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// Body of `PATCH /api/v1/cases/{number}/tasks/{id}`. Absent fields stay as they are.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    /// The `version` of the task the change was based on; a stale one gets 409.
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// Required when `status` is `skipped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// Username of the new assignee; an empty string removes the assignee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// RFC 3339 time with a zone; an empty string removes the due time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
}

/// A step of a playbook template: it becomes one task of each new case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlaybookStep {
    pub phase: Phase,
    pub title: String,
    #[serde(default)]
    pub description: String,
}

/// A stored playbook template. New cases get the tasks of the default one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlaybookTemplate {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub is_default: bool,
    /// Steps in checklist order.
    pub steps: Vec<PlaybookStep>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST /api/v1/playbooks` and `PUT /api/v1/playbooks/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub is_default: bool,
    pub steps: Vec<PlaybookStep>,
    /// Required by `PUT`: the version the edit was based on.
    #[serde(default)]
    pub version: Option<i64>,
}

/// A recorded phase change of a case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseChangeRecord {
    pub id: i64,
    pub from_phase: Phase,
    pub to_phase: Phase,
    /// True when the case moved on although tasks of `from_phase` were still open.
    pub forced: bool,
    pub reason: Option<String>,
    /// Tasks of `from_phase` still open at the time of the change.
    pub open_tasks: i64,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}
