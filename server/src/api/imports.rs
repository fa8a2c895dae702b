//! Trail imports and the findings they produce.

use std::collections::HashMap;

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::routing::get;
use rekey_types::{FindingCategory, Finding, ImportStatus, ImportedFile, TrailImport, RunningImport};
use sqlx::Row;
use tokio::io::AsyncWriteExt;

use crate::api::cases::{stored_value_error, CaseRef};
use crate::auth::User;
use crate::db::{time_column, Db};
use crate::error::{Error, Json, Result};
use crate::import::{import_files, Importer, RunningImports, TrailFile};
use crate::api::Routes;
use crate::AppState;

pub fn router(max_upload_bytes: usize) -> Routes {
    Routes::new()
        .route(
            "/cases/{number}/imports",
            get(list_imports)
                .post(upload_import)
                .layer(DefaultBodyLimit::max(max_upload_bytes)),
        )
        .route("/cases/{number}/imports/running", get(list_running))
        .route("/cases/{number}/findings", get(list_findings))
}

/// Files of one upload, written to a temporary directory removed on drop.
struct Upload {
    _dir: tempfile::TempDir,
    files: Vec<TrailFile>,
    /// Whether the form asked to keep the readable part of files that break (`on_error` set to
    /// `keep_readable`) instead of discarding the import.
    keep_readable: bool,
}

/// Streams every `files` part of the request to disk.
async fn receive_files(state: &AppState, mut multipart: Multipart) -> Result<Upload> {
    let upload_root = state.settings.data_dir.join("uploads");
    tokio::fs::create_dir_all(&upload_root)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", upload_root.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("import-")
        .tempdir_in(&upload_root)
        .map_err(|e| anyhow::anyhow!("cannot create upload directory: {e}"))?;

    let mut files = Vec::new();
    let mut keep_readable = false;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error(state))? {
        if field.name() == Some("on_error") {
            let value = field.text().await.map_err(multipart_error(state))?;
            keep_readable = match value.trim() {
                "keep_readable" => true,
                "discard" | "" => false,
                other => {
                    return Err(Error::invalid(
                        "on_error",
                        format!("on_error '{other}' is unknown; use discard or keep_readable"),
                    ))
                }
            };
            continue;
        }
        if field.name() != Some("files") {
            let name = field.name().unwrap_or("").to_string();
            return Err(Error::invalid(
                &name,
                format!("unexpected form field '{name}'; send the trail files in the field 'files' and optionally 'on_error'"),
            ));
        }
        let name = field
            .file_name()
            .map(str::to_string)
            .unwrap_or_else(|| format!("file {}", files.len() + 1));
        // The stored name is a counter, never the client's file name, so no name becomes a path.
        let path = dir.path().join(format!("{}.upload", files.len()));
        let mut output = tokio::fs::File::create(&path)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error(state))? {
            output
                .write_all(&chunk)
                .await
                .map_err(|e| anyhow::anyhow!("cannot write upload: {e}"))?;
        }
        output
            .flush()
            .await
            .map_err(|e| anyhow::anyhow!("cannot write upload: {e}"))?;
        files.push(TrailFile { name, path });
    }
    Ok(Upload {
        _dir: dir,
        files,
        keep_readable,
    })
}

fn multipart_error(state: &AppState) -> impl Fn(axum::extract::multipart::MultipartError) -> Error + '_ {
    move |error| {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge {
                limit_mb: state.settings.max_upload_mb,
            }
        } else {
            Error::invalid("files", format!("the upload could not be read: {}", error.body_text()))
        }
    }
}

async fn upload_import(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    multipart: Multipart,
) -> Result<(StatusCode, Json<TrailImport>)> {
    let upload = receive_files(&state, multipart).await?;
    let importer = Importer::from_user(&user);
    let (progress, running) = RunningImports::start(&state.running_imports, case.id, &importer.display_name, &upload.files);
    // The import runs in its own task, so it finishes even when the client stops waiting.
    let task_state = state.clone();
    let task = tokio::spawn(async move {
        // The whole upload moves into the task, so its files outlive a request the client ended.
        let upload = upload;
        let _running = running;
        let files = upload.files.clone();
        let outcome = import_files(
            &task_state.db,
            &task_state.settings,
            &task_state.evidence,
            case,
            &importer,
            files,
            progress,
            upload.keep_readable,
        )
        .await?;
        task_state.mail_wakeup.notify_one();
        Ok::<_, Error>(outcome)
    });
    let outcome = task.await.map_err(|e| anyhow::anyhow!("import task failed: {e}"))??;
    let imports = load_imports(&state.db, case, Some(outcome.import_id)).await?;
    let import = imports
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("import {} vanished after commit", outcome.import_id))?;
    Ok((StatusCode::CREATED, Json(import)))
}

/// Imports of the case that are reading or storing now on this instance, with their progress.
async fn list_running(State(state): State<AppState>, case: CaseRef) -> Json<Vec<RunningImport>> {
    Json(state.running_imports.of_case(case.id))
}

async fn list_imports(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<TrailImport>>> {
    Ok(Json(load_imports(&state.db, case, None).await?))
}

/// Imports of a case, newest first; only `only_id` when given.
async fn load_imports(db: &Db, case: CaseRef, only_id: Option<i64>) -> Result<Vec<TrailImport>> {
    let rows = sqlx::query(
        "SELECT i.id, i.status, i.created_at, i.events_read, i.events_matched, i.events_new, i.findings_new, \
         i.error, u.display_name AS created_by FROM trail_imports i JOIN users u ON u.id = i.created_by \
         WHERE i.case_id = $1 ORDER BY i.id DESC",
    )
    .bind(case.id)
    .fetch_all(&db.pool)
    .await?;

    let file_rows = sqlx::query(
        "SELECT f.import_id, f.name, f.size, f.sha256 FROM import_files f \
         JOIN trail_imports i ON i.id = f.import_id WHERE i.case_id = $1 ORDER BY f.id",
    )
    .bind(case.id)
    .fetch_all(&db.pool)
    .await?;
    let mut files: HashMap<i64, Vec<ImportedFile>> = HashMap::new();
    for row in &file_rows {
        files.entry(row.try_get("import_id")?).or_default().push(ImportedFile {
            name: row.try_get("name")?,
            size: row.try_get("size")?,
            sha256: row.try_get("sha256")?,
        });
    }

    rows.iter()
        .filter(|row| only_id.is_none() || row.try_get::<i64, _>("id").ok() == only_id)
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            let status: String = row.try_get("status")?;
            Ok(TrailImport {
                id,
                status: ImportStatus::parse(&status).ok_or_else(|| stored_value_error("status", &status))?,
                created_by: row.try_get("created_by")?,
                created_at: time_column(row, "created_at")?,
                files: files.remove(&id).unwrap_or_default(),
                events_read: row.try_get("events_read")?,
                events_matched: row.try_get("events_matched")?,
                events_new: row.try_get("events_new")?,
                findings_new: row.try_get("findings_new")?,
                error: row.try_get("error")?,
            })
        })
        .collect()
}

pub(crate) async fn list_findings(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<Finding>>> {
    let rows = sqlx::query(
        "SELECT f.id, f.rule, f.category, f.severity, e.event_id, e.event_time, e.event_name, e.event_source, e.region, \
         e.source_ip, e.user_agent, e.access_key_id, e.principal, e.error_code, e.resource \
         FROM findings f JOIN trail_events e ON e.id = f.trail_event_id \
         WHERE f.case_id = $1 ORDER BY e.event_time, e.id",
    )
    .bind(case.id)
    .fetch_all(&state.db.pool)
    .await?;
    let resource_rows = sqlx::query("SELECT finding_id, resource FROM finding_resources WHERE case_id = $1 ORDER BY id")
        .bind(case.id)
        .fetch_all(&state.db.pool)
        .await?;
    let mut resources: HashMap<i64, Vec<String>> = HashMap::new();
    for row in &resource_rows {
        resources.entry(row.try_get("finding_id")?).or_default().push(row.try_get("resource")?);
    }
    let findings = rows
        .iter()
        .map(|row| {
            let category: String = row.try_get("category")?;
            let error_code: Option<String> = row.try_get("error_code")?;
            let id: i64 = row.try_get("id")?;
            Ok(Finding {
                id,
                resources: resources.remove(&id).unwrap_or_default(),
                event_id: row.try_get("event_id")?,
                event_time: time_column(row, "event_time")?,
                event_name: row.try_get("event_name")?,
                event_source: row.try_get("event_source")?,
                region: row.try_get("region")?,
                source_ip: row.try_get("source_ip")?,
                user_agent: row.try_get("user_agent")?,
                access_key_id: row.try_get("access_key_id")?,
                principal: row.try_get("principal")?,
                resource: row.try_get("resource")?,
                attempt: error_code.is_some(),
                error_code,
                severity: row.try_get("severity")?,
                rule: row.try_get("rule")?,
                category: FindingCategory::parse(&category)
                    .ok_or_else(|| stored_value_error("category", &category))?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Json(findings))
}
