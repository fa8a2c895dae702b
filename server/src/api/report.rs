//! The post-incident report of a case, its lessons-learned section, and the manager
//! dashboard across cases.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::Utc;
use rekey_types::{
    format_duration, parse_zoned_time, CategoryCount, REPORT_LIST_LIMIT, ReportSendResult, ReportSending, ClosedCaseTimes, Dashboard, FindingCategory, ImprovementAction,
    ImprovementInput, ImprovementStatus, LessonsInput, LessonsLearned, OverdueCase, Phase, PhaseChangeRecord,
    PhaseSeverityCount, Report, Severity, UserRole,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::api::cases::{fetch_case, stored_value_error, CaseRef, LeadCase};
use crate::api::containment::checked_text;
use crate::api::Routes;
use crate::audit::{self, Actor, Event};
use crate::auth::User;
use crate::db::{from_millis, now_millis, time_column, to_millis, Db};
use crate::error::{Error, Json, Result};
use crate::mail::{self, CaseEvent};
use crate::report::{document, response_times, to_markdown, to_pdf};
use crate::AppState;

/// Characters allowed in each lessons-learned field.
const LESSON_CHARS: usize = 20_000;

pub fn router() -> Routes {
    Routes::new()
        .route("/cases/{number}/report", get(get_report))
        .route("/cases/{number}/report/markdown", get(export_markdown))
        .route("/cases/{number}/report/pdf", get(export_pdf))
        .route("/cases/{number}/report/send", post(send_report))
        .route("/cases/{number}/lessons", get(get_lessons).put(save_lessons))
        .route("/cases/{number}/improvements", post(add_improvement))
        .route("/cases/{number}/improvements/{id}", put(update_improvement))
        .route("/dashboard", get(dashboard))
}

/// Assembles the report from the case's records as they are now.
pub async fn assemble(state: &AppState, case: CaseRef) -> Result<Report> {
    use crate::api::{communications, containment, credentials, impact, imports, resources, tasks, timeline};
    let details = fetch_case(state, case).await?;
    let phase_changes = tasks::list_phase_changes(State(state.clone()), case).await?.0;
    let findings = imports::list_findings(State(state.clone()), case).await?.0;
    let mut by_category: BTreeMap<usize, CategoryCount> = BTreeMap::new();
    for finding in &findings {
        let position = FindingCategory::ALL.iter().position(|c| *c == finding.category).unwrap_or(0);
        let count = by_category.entry(position).or_insert(CategoryCount {
            category: finding.category,
            findings: 0,
            attempts: 0,
        });
        count.findings += 1;
        count.attempts += i64::from(finding.attempt);
    }
    let mut resources = resources::list_resources(State(state.clone()), case).await?.0;
    let resources_total = resources.len() as i64;
    resources.truncate(REPORT_LIST_LIMIT);
    let mut timeline = timeline::timeline(State(state.clone()), case).await?.0;
    let timeline_total = timeline.len() as i64;
    timeline.truncate(REPORT_LIST_LIMIT);
    Ok(Report {
        times: response_times(details.compromise_time, details.created_at, &phase_changes),
        generated_at: Utc::now(),
        credentials: credentials::list_credentials(State(state.clone()), case).await?.0,
        containment: containment::list_containment(State(state.clone()), case).await?.0,
        phase_changes,
        finding_total: findings.len() as i64,
        findings_by_category: by_category.into_values().collect(),
        impacts: impact::list_impacts(State(state.clone()), case).await?.0,
        resources,
        resources_total,
        communications: communications::list_communications(State(state.clone()), case).await?.0,
        timeline,
        timeline_total,
        tasks: tasks::list_tasks(State(state.clone()), case).await?.0,
        evidence: crate::api::evidence::load_case_evidence(&state.db, case.id).await?,
        lessons: load_lessons(&state.db, case.id).await?,
        case: details,
    })
}

async fn get_report(State(state): State<AppState>, case: CaseRef) -> Result<Json<Report>> {
    Ok(Json(assemble(&state, case).await?))
}

/// Records an export with its hash in the audit log, and on each piece of evidence it lists.
async fn record_export(state: &AppState, user: &User, case: CaseRef, format: &str, bytes: &[u8]) -> Result<String> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let actor = Actor::user(user);
    let mut tx = state.db.begin().await?;
    audit::append(
        &mut tx,
        &actor,
        Event::new("export", "report").entity(case.number).case(case.id).details(json!({
            "format": format,
            "sha256": sha256,
            "bytes": bytes.len(),
        })),
    )
    .await?;
    crate::api::evidence::record_export(&mut tx, &actor, case.id, &format!("listed in the {format} report, sha256 {sha256}"))
        .await?;
    tx.commit().await?;
    Ok(sha256)
}

fn download(bytes: Vec<u8>, content_type: &'static str, file_name: String, sha256: &str) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(sha256) {
        headers.insert("x-report-sha256", value);
    }
    response
}

async fn export_markdown(State(state): State<AppState>, user: User, case: CaseRef) -> Result<Response> {
    let report = assemble(&state, case).await?;
    let bytes = to_markdown(&document(&report)).into_bytes();
    let sha256 = record_export(&state, &user, case, "markdown", &bytes).await?;
    let name = format!("{}-report.md", report.case.reference);
    Ok(download(bytes, "text/markdown; charset=utf-8", name, &sha256))
}

async fn export_pdf(State(state): State<AppState>, user: User, case: CaseRef) -> Result<Response> {
    let report = assemble(&state, case).await?;
    let title = format!("Post-incident report {}", report.case.reference);
    let bytes = to_pdf(&document(&report), &title);
    let sha256 = record_export(&state, &user, case, "pdf", &bytes).await?;
    let name = format!("{}-report.pdf", report.case.reference);
    Ok(download(bytes, "application/pdf", name, &sha256))
}

/// Emails a summary of the report, with a link to it, to the stakeholders who follow the
/// post-incident report.
async fn send_report(
    State(state): State<AppState>,
    user: User,
    LeadCase(case): LeadCase,
    Json(input): Json<ReportSending>,
) -> Result<Json<ReportSendResult>> {
    let note = checked_text("note", &input.note, 5_000)?;
    let report = assemble(&state, case).await?;
    let mut summary: Vec<String> = report
        .times
        .iter()
        .map(|time| match time.seconds {
            Some(seconds) => format!("{}: {}.", time.name, format_duration(seconds)),
            None => format!("{}: not yet measurable.", time.name),
        })
        .collect();
    summary.push(format!(
        "{} findings, {} affected resources, {} improvement actions.",
        report.finding_total,
        report.resources.len(),
        report.lessons.improvement_actions.len()
    ));
    if !report.lessons.root_cause.trim().is_empty() {
        summary.push(format!("Root cause: {}", report.lessons.root_cause.trim()));
    }
    let event = CaseEvent::ReportSent {
        summary,
        note,
        report_link: format!("{}/cases/{}/report", state.settings.public_url().trim_end_matches('/'), case.number),
        by: user.account.display_name.clone(),
    };
    let mut tx = state.db.begin().await?;
    let recipients = mail::enqueue_case_event(&mut tx, &state.settings, case.id, &event).await?;
    audit::append(
        &mut tx,
        &Actor::user(&user),
        Event::new("report_sent", "report").entity(case.number).case(case.id).details(json!({"recipients": recipients})),
    )
    .await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    tracing::info!(case = case.number, user = user.account.id, recipients, "post-incident report sent");
    Ok(Json(ReportSendResult {
        recipients: i64::try_from(recipients).unwrap_or(i64::MAX),
    }))
}

async fn load_lessons(db: &Db, case_id: i64) -> Result<LessonsLearned> {
    let row = sqlx::query(
        "SELECT l.what_worked, l.what_did_not_work, l.root_cause, l.detection_gaps, l.forensic_findings, \
         l.cmdb_updated, l.cmdb_confirmed_at, l.version, u.display_name AS confirmed_by FROM lessons_learned l \
         LEFT JOIN users u ON u.id = l.cmdb_confirmed_by WHERE l.case_id = $1",
    )
    .bind(case_id)
    .fetch_optional(&db.pool)
    .await?;
    let mut lessons = match row {
        None => LessonsLearned::default(),
        Some(row) => {
            let cmdb_updated: i64 = row.try_get("cmdb_updated")?;
            let confirmed_at: Option<i64> = row.try_get("cmdb_confirmed_at")?;
            LessonsLearned {
                what_worked: row.try_get("what_worked")?,
                what_did_not_work: row.try_get("what_did_not_work")?,
                root_cause: row.try_get("root_cause")?,
                detection_gaps: row.try_get("detection_gaps")?,
                forensic_findings: row.try_get("forensic_findings")?,
                cmdb_updated: cmdb_updated != 0,
                cmdb_confirmed_by: row.try_get("confirmed_by")?,
                cmdb_confirmed_at: confirmed_at.map(from_millis),
                version: row.try_get("version")?,
                improvement_actions: Vec::new(),
            }
        }
    };
    let rows = sqlx::query(
        "SELECT id, description, owner, due_at, status, version FROM improvement_actions WHERE case_id = $1 ORDER BY id",
    )
    .bind(case_id)
    .fetch_all(&db.pool)
    .await?;
    for row in &rows {
        let status: String = row.try_get("status")?;
        let due_at: Option<i64> = row.try_get("due_at")?;
        lessons.improvement_actions.push(ImprovementAction {
            id: row.try_get("id")?,
            description: row.try_get("description")?,
            owner: row.try_get("owner")?,
            due_at: due_at.map(from_millis),
            status: ImprovementStatus::parse(&status)
                .ok_or_else(|| stored_value_error("improvement_actions.status", &status))?,
            version: row.try_get("version")?,
        });
    }
    Ok(lessons)
}

async fn get_lessons(State(state): State<AppState>, case: CaseRef) -> Result<Json<LessonsLearned>> {
    Ok(Json(load_lessons(&state.db, case.id).await?))
}

async fn save_lessons(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Json(input): Json<LessonsInput>,
) -> Result<Json<LessonsLearned>> {
    let fields = [
        ("what_worked", &input.what_worked),
        ("what_did_not_work", &input.what_did_not_work),
        ("root_cause", &input.root_cause),
        ("detection_gaps", &input.detection_gaps),
        ("forensic_findings", &input.forensic_findings),
    ];
    // Secrets such as passwords and bearer tokens are replaced before saving, because the
    // lessons go into exported reports.
    let mut texts = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        texts.push(crate::redact::redact(&checked_text(name, value, LESSON_CHARS)?).text);
    }
    let before = load_lessons(&state.db, case.id).await?;
    let now = now_millis();
    let mut tx = state.db.begin().await?;
    let stored = sqlx::query("SELECT version, cmdb_updated, cmdb_confirmed_by, cmdb_confirmed_at FROM lessons_learned WHERE case_id = $1")
        .bind(case.id)
        .fetch_optional(&mut *tx)
        .await?;
    let current: i64 = match &stored {
        Some(row) => row.try_get("version")?,
        None => 0,
    };
    if current != input.version {
        return Err(Error::StaleVersion {
            record: "lessons learned",
            current_version: current,
        });
    }
    // The confirmation keeps who first ticked "CMDB updated" and when.
    let (confirmed_by, confirmed_at) = match (&stored, input.cmdb_updated) {
        (_, false) => (None, None),
        (Some(row), true) if row.try_get::<i64, _>("cmdb_updated")? != 0 => {
            (row.try_get::<Option<i64>, _>("cmdb_confirmed_by")?, row.try_get::<Option<i64>, _>("cmdb_confirmed_at")?)
        }
        (_, true) => (Some(user.account.id), Some(now)),
    };
    let sql = if stored.is_some() {
        "UPDATE lessons_learned SET what_worked = $2, what_did_not_work = $3, root_cause = $4, detection_gaps = $5, \
         forensic_findings = $6, cmdb_updated = $7, cmdb_confirmed_by = $8, cmdb_confirmed_at = $9, \
         version = version + 1, updated_by = $10, updated_at = $11 WHERE case_id = $1"
    } else {
        "INSERT INTO lessons_learned (case_id, what_worked, what_did_not_work, root_cause, detection_gaps, \
         forensic_findings, cmdb_updated, cmdb_confirmed_by, cmdb_confirmed_at, version, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11)"
    };
    sqlx::query(sql)
        .bind(case.id)
        .bind(&texts[0])
        .bind(&texts[1])
        .bind(&texts[2])
        .bind(&texts[3])
        .bind(&texts[4])
        .bind(i64::from(input.cmdb_updated))
        .bind(confirmed_by)
        .bind(confirmed_at)
        .bind(user.account.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let after = json!({
        "what_worked": texts[0], "what_did_not_work": texts[1], "root_cause": texts[2],
        "detection_gaps": texts[3], "forensic_findings": texts[4], "cmdb_updated": input.cmdb_updated,
    });
    let before = json!({
        "what_worked": before.what_worked, "what_did_not_work": before.what_did_not_work,
        "root_cause": before.root_cause, "detection_gaps": before.detection_gaps,
        "forensic_findings": before.forensic_findings, "cmdb_updated": before.cmdb_updated,
    });
    let action = if stored.is_some() { "update" } else { "create" };
    audit::append(
        &mut tx,
        &Actor::user(&user),
        Event::new(action, "lessons_learned").entity(case.number).case(case.id).details(json!({"before": before, "after": after})),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(load_lessons(&state.db, case.id).await?))
}

/// Checked fields of an improvement action: description, owner, due time in ms.
fn check_improvement(input: &ImprovementInput) -> Result<(String, String, Option<i64>)> {
    let description = checked_text("description", &input.description, 5_000)?;
    if description.is_empty() {
        return Err(Error::invalid("description", "description is empty; say what will be improved"));
    }
    let owner = checked_text("owner", &input.owner, 200)?;
    if owner.is_empty() {
        return Err(Error::invalid("owner", "owner is empty; name who carries the action out"));
    }
    let due_at = match input.due_at.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(value) => Some(to_millis(parse_zoned_time(value).map_err(|message| Error::invalid("due_at", message))?)),
    };
    Ok((description, owner, due_at))
}

async fn add_improvement(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Json(input): Json<ImprovementInput>,
) -> Result<(StatusCode, Json<LessonsLearned>)> {
    let (description, owner, due_at) = check_improvement(&input)?;
    let now = now_millis();
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO improvement_actions (case_id, description, owner, due_at, status, version, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7) RETURNING id",
    )
    .bind(case.id)
    .bind(&description)
    .bind(&owner)
    .bind(due_at)
    .bind(input.status.as_str())
    .bind(user.account.id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    audit::append(
        &mut tx,
        &Actor::user(&user),
        Event::new("create", "improvement_action").entity(id).case(case.id).details(json!({
            "description": description, "owner": owner, "due_at": due_at, "status": input.status.as_str(),
        })),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(load_lessons(&state.db, case.id).await?)))
}

async fn update_improvement(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((_number, id)): Path<(i64, i64)>,
    Json(input): Json<ImprovementInput>,
) -> Result<Json<LessonsLearned>> {
    let (description, owner, due_at) = check_improvement(&input)?;
    let Some(version) = input.version else {
        return Err(Error::invalid("version", "version is missing; send the version of the action you edited"));
    };
    let mut tx = state.db.begin().await?;
    let row = sqlx::query("SELECT description, owner, due_at, status, version FROM improvement_actions WHERE id = $1 AND case_id = $2")
        .bind(id)
        .bind(case.id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("improvement action"))?;
    let current: i64 = row.try_get("version")?;
    if current != version {
        return Err(Error::StaleVersion {
            record: "improvement action",
            current_version: current,
        });
    }
    let before = json!({
        "description": row.try_get::<String, _>("description")?,
        "owner": row.try_get::<String, _>("owner")?,
        "due_at": row.try_get::<Option<i64>, _>("due_at")?,
        "status": row.try_get::<String, _>("status")?,
    });
    sqlx::query(
        "UPDATE improvement_actions SET description = $1, owner = $2, due_at = $3, status = $4, version = version + 1, \
         updated_at = $5 WHERE id = $6",
    )
    .bind(&description)
    .bind(&owner)
    .bind(due_at)
    .bind(input.status.as_str())
    .bind(now_millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let after = json!({"description": description, "owner": owner, "due_at": due_at, "status": input.status.as_str()});
    audit::append(
        &mut tx,
        &Actor::user(&user),
        Event::new("update", "improvement_action").entity(id).case(case.id).details(json!({"before": before, "after": after})),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(load_lessons(&state.db, case.id).await?))
}

/// Open cases by phase and severity, overdue status updates, and response times of closed
/// cases, over the cases the caller may open.
async fn dashboard(State(state): State<AppState>, user: User) -> Result<Json<Dashboard>> {
    if user.role() == UserRole::Stakeholder {
        return Err(Error::Forbidden("the dashboard is for the response team and managers".to_string()));
    }
    let visible = crate::api::cases::visible_case_numbers(&state, &user).await?;
    let rows = sqlx::query("SELECT id, number, title, severity, phase, compromise_time, created_at FROM cases ORDER BY number")
        .fetch_all(&state.db.pool)
        .await?;
    let change_rows = sqlx::query(
        "SELECT p.case_id, p.id, p.from_phase, p.to_phase, p.forced, p.reason, p.open_tasks, p.changed_at, \
         u.display_name AS changed_by FROM phase_changes p JOIN users u ON u.id = p.changed_by ORDER BY p.id",
    )
    .fetch_all(&state.db.pool)
    .await?;
    let mut changes: BTreeMap<i64, Vec<PhaseChangeRecord>> = BTreeMap::new();
    for row in &change_rows {
        let from: String = row.try_get("from_phase")?;
        let to: String = row.try_get("to_phase")?;
        let forced: i64 = row.try_get("forced")?;
        changes.entry(row.try_get("case_id")?).or_default().push(PhaseChangeRecord {
            id: row.try_get("id")?,
            from_phase: Phase::parse(&from).ok_or_else(|| stored_value_error("phase_changes.from_phase", &from))?,
            to_phase: Phase::parse(&to).ok_or_else(|| stored_value_error("phase_changes.to_phase", &to))?,
            forced: forced != 0,
            reason: row.try_get("reason")?,
            open_tasks: row.try_get("open_tasks")?,
            changed_by: row.try_get("changed_by")?,
            changed_at: time_column(row, "changed_at")?,
        });
    }

    let overdue_numbers: BTreeMap<i64, chrono::DateTime<Utc>> = crate::api::status_updates::list_overdue(State(state.clone()), user.clone())
        .await?
        .0
        .into_iter()
        .map(|overdue| (overdue.case_number, overdue.due_at))
        .collect();

    let mut open: BTreeMap<(usize, usize), PhaseSeverityCount> = BTreeMap::new();
    let mut board = Dashboard {
        open_cases: Vec::new(),
        open_total: 0,
        overdue_updates: Vec::new(),
        closed_cases: Vec::new(),
    };
    for row in &rows {
        let number: i64 = row.try_get("number")?;
        if !visible.contains(&number) {
            continue;
        }
        let id: i64 = row.try_get("id")?;
        let title: String = row.try_get("title")?;
        let severity: String = row.try_get("severity")?;
        let severity = Severity::parse(&severity).ok_or_else(|| stored_value_error("cases.severity", &severity))?;
        let phase: String = row.try_get("phase")?;
        let phase = Phase::parse(&phase).ok_or_else(|| stored_value_error("cases.phase", &phase))?;
        let reference = format!("RK-{number}");
        if let Some(due_at) = overdue_numbers.get(&number) {
            board.overdue_updates.push(OverdueCase {
                number,
                reference: reference.clone(),
                title: title.clone(),
                severity,
                phase,
                due_at: *due_at,
            });
        }
        let case_changes = changes.remove(&id).unwrap_or_default();
        if matches!(phase, Phase::PostIncident | Phase::Closed) {
            let compromise: Option<i64> = row.try_get("compromise_time")?;
            let times = response_times(compromise.map(from_millis), time_column(row, "created_at")?, &case_changes);
            let closed_at = times[3].to.unwrap_or_else(Utc::now);
            board.closed_cases.push(ClosedCaseTimes {
                number,
                reference,
                title,
                severity,
                closed_at,
                seconds_to_contain: times[1].seconds,
                seconds_to_recover: times[3].seconds,
            });
        } else {
            board.open_total += 1;
            let key = (
                Phase::ALL.iter().position(|p| *p == phase).unwrap_or(0),
                Severity::ALL.iter().position(|s| *s == severity).unwrap_or(0),
            );
            open.entry(key).or_insert(PhaseSeverityCount { phase, severity, cases: 0 }).cases += 1;
        }
    }
    board.open_cases = open.into_values().collect();
    board.closed_cases.sort_by_key(|case| case.closed_at);
    Ok(Json(board))
}
