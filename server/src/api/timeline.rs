//! The case timeline, merged from the records of what happened and what the team did, plus
//! entries written by hand. Also the signed-in user's display preferences.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use chrono::DateTime;
use rekey_types::{
    validate_time_zone_name, NewTimelineEntry, Preferences, TimelineCategory, TimelineEntry,
};
use serde_json::json;
use sqlx::Row;

use crate::api::cases::{fetch_case, CaseRef};
use crate::api::containment::checked_text;
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{from_millis, now_millis, to_millis};
use crate::error::{Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/cases/{number}/timeline", get(timeline).post(add_entry))
        .route("/preferences", get(get_preferences).put(put_preferences))
}

/// One query that yields timeline rows: `at` (milliseconds), `title`, `detail` and `actor`
/// columns, with `$1` bound to the case id.
struct Source {
    name: &'static str,
    category: TimelineCategory,
    sql: &'static str,
}

const SOURCES: &[Source] = &[
    Source {
        name: "trail_event",
        category: TimelineCategory::Incident,
        sql: "SELECT e.event_time AS at, e.event_name AS title, \
              e.event_source || COALESCE(' on ' || e.resource, '') || COALESCE(' from ' || e.source_ip, '') \
              || COALESCE(', failed: ' || e.error_code, '') AS detail, \
              e.access_key_id AS actor \
              FROM findings f JOIN trail_events e ON e.id = f.trail_event_id WHERE f.case_id = $1",
    },
    Source {
        name: "phase_change",
        category: TimelineCategory::Response,
        sql: "SELECT p.changed_at AS at, 'Phase changed to ' || p.to_phase AS title, \
              CASE WHEN p.forced = 1 THEN 'moved on with ' || CAST(p.open_tasks AS TEXT) \
              || ' open task(s): ' || COALESCE(p.reason, '') ELSE '' END AS detail, \
              u.display_name AS actor \
              FROM phase_changes p JOIN users u ON u.id = p.changed_by WHERE p.case_id = $1",
    },
    Source {
        name: "credential",
        category: TimelineCategory::Response,
        sql: "SELECT k.created_at AS at, 'Leaked credential recorded' AS title, \
              COALESCE(k.access_key_id, k.principal_name, '') AS detail, u.display_name AS actor \
              FROM credentials k JOIN users u ON u.id = k.created_by WHERE k.case_id = $1",
    },
    Source {
        name: "credential_status",
        category: TimelineCategory::Response,
        sql: "SELECT c.changed_at AS at, \
              'Credential ' || COALESCE(k.access_key_id, k.principal_name, '') || ' ' || c.to_status AS title, \
              c.note AS detail, u.display_name AS actor \
              FROM credential_status_changes c JOIN credentials k ON k.id = c.credential_id \
              JOIN users u ON u.id = c.changed_by WHERE c.case_id = $1",
    },
    Source {
        name: "containment_action",
        category: TimelineCategory::Response,
        sql: "SELECT a.performed_at AS at, 'Containment: ' || a.kind || ' (' || a.result || ')' AS title, \
              COALESCE(k.access_key_id, k.principal_name, '') || ', authorised by ' || a.authorised_by AS detail, \
              a.performed_by AS actor \
              FROM containment_actions a JOIN credentials k ON k.id = a.credential_id WHERE a.case_id = $1",
    },
    Source {
        name: "trail_import",
        category: TimelineCategory::Response,
        sql: "SELECT i.created_at AS at, 'Trail import ' || i.status AS title, \
              CAST(i.events_new AS TEXT) || ' new event(s), ' || CAST(i.findings_new AS TEXT) || ' new finding(s)' AS detail, \
              u.display_name AS actor \
              FROM trail_imports i JOIN users u ON u.id = i.created_by WHERE i.case_id = $1",
    },
    Source {
        name: "task",
        category: TimelineCategory::Response,
        sql: "SELECT t.finished_at AS at, 'Task ' || t.status || ': ' || t.title AS title, \
              COALESCE(t.skip_reason, '') AS detail, u.display_name AS actor \
              FROM tasks t JOIN users u ON u.id = t.finished_by \
              WHERE t.case_id = $1 AND t.finished_at IS NOT NULL",
    },
    Source {
        name: "impact",
        category: TimelineCategory::Response,
        sql: "SELECT i.created_at AS at, 'Impact recorded: ' || i.kind AS title, i.description AS detail, \
              u.display_name AS actor \
              FROM impact_records i JOIN users u ON u.id = i.created_by WHERE i.case_id = $1",
    },
    Source {
        name: "owner_notified",
        category: TimelineCategory::Response,
        sql: "SELECT r.owner_notified_at AS at, 'Resource owner notified' AS title, \
              COALESCE(r.owner_name, '') || ' for ' || r.name AS detail, NULL AS actor \
              FROM affected_resources r WHERE r.case_id = $1 AND r.owner_notified_at IS NOT NULL",
    },
    Source {
        name: "recovery_action",
        category: TimelineCategory::Response,
        sql: "SELECT a.done_at AS at, 'Recovery ' || a.status || ': ' || a.kind AS title, \
              r.name AS detail, u.display_name AS actor \
              FROM recovery_actions a JOIN affected_resources r ON r.id = a.resource_id \
              JOIN users u ON u.id = a.performed_by WHERE a.case_id = $1 AND a.done_at IS NOT NULL",
    },
    Source {
        name: "notification",
        category: TimelineCategory::Response,
        sql: "SELECT COALESCE(o.sent_at, o.created_at) AS at, \
              'Notification ' || o.status || ': ' || o.subject AS title, o.recipient AS detail, NULL AS actor \
              FROM outbox o WHERE o.case_id = $1",
    },
    Source {
        name: "manual",
        category: TimelineCategory::Incident,
        sql: "SELECT m.occurred_at AS at, m.title AS title, m.description AS detail, u.display_name AS actor \
              FROM timeline_entries m JOIN users u ON u.id = m.created_by WHERE m.case_id = $1",
    },
];

pub(crate) async fn timeline(
    State(state): State<AppState>,
    case: CaseRef,
) -> Result<Json<Vec<TimelineEntry>>> {
    let details = fetch_case(&state, case).await?;

    let mut entries = vec![TimelineEntry {
        at: details.created_at,
        category: TimelineCategory::Response,
        source: "case".to_string(),
        title: "Case opened".to_string(),
        detail: format!("detected by: {}", details.detection_source.label()),
        actor: Some(details.created_by.clone()),
    }];
    if let Some(compromise_time) = details.compromise_time {
        entries.push(TimelineEntry {
            at: compromise_time,
            category: TimelineCategory::Incident,
            source: "compromise_time".to_string(),
            title: "Compromise time".to_string(),
            detail: "calls made with the leaked credentials from here on are treated as malicious"
                .to_string(),
            actor: None,
        });
    }
    for source in SOURCES {
        let rows = sqlx::query(source.sql)
            .bind(case.id)
            .fetch_all(&state.db.pool)
            .await?;
        for row in rows {
            entries.push(TimelineEntry {
                at: from_millis(row.try_get("at")?),
                category: source.category,
                source: source.name.to_string(),
                title: row.try_get("title")?,
                detail: row
                    .try_get::<Option<String>, _>("detail")?
                    .unwrap_or_default(),
                actor: row.try_get("actor")?,
            });
        }
    }
    // A stable sort keeps same-time entries in source order.
    entries.sort_by_key(|entry| entry.at);
    Ok(Json(entries))
}

async fn add_entry(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path(number): Path<i64>,
    Json(input): Json<NewTimelineEntry>,
) -> Result<(StatusCode, Json<TimelineEntry>)> {
    let occurred_at = input.occurred_at.trim();
    let parsed = DateTime::parse_from_rfc3339(occurred_at).map_err(|_| {
        let message = rekey_types::parse_zoned_time(occurred_at)
            .err()
            .unwrap_or_else(|| "invalid time".to_string());
        Error::invalid("occurred_at", format!("occurred_at: {message}"))
    })?;
    let title = checked_text("title", &input.title, 300)?;
    if title.is_empty() {
        return Err(Error::invalid(
            "title",
            "title is missing; say what happened in a few words",
        ));
    }
    let description = checked_text("description", &input.description, 5_000)?;
    let at = parsed.with_timezone(&chrono::Utc);
    let offset = parsed.offset().to_string();
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO timeline_entries (case_id, occurred_at, zone_offset, title, description, version, \
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7) RETURNING id",
    )
    .bind(case.id)
    .bind(to_millis(at))
    .bind(&offset)
    .bind(&title)
    .bind(&description)
    .bind(user.account.id)
    .bind(now_millis())
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let event = audit::Event::new("create", "timeline_entry")
        .entity(id)
        .case(case.id)
        .details(json!({"occurred_at": at, "zone_offset": offset, "title": title, "description": description}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;

    tracing::info!(case = number, user = user.account.id, entry = id, "timeline entry added");
    let entry = TimelineEntry {
        at,
        category: TimelineCategory::Incident,
        source: "manual".to_string(),
        title,
        detail: description,
        actor: Some(user.account.display_name.clone()),
    };
    Ok((StatusCode::CREATED, Json(entry)))
}

async fn get_preferences(State(state): State<AppState>, user: User) -> Result<Json<Preferences>> {
    let row = sqlx::query("SELECT time_zone FROM users WHERE id = $1")
        .bind(user.account.id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(Json(Preferences {
        time_zone: row.try_get("time_zone")?,
    }))
}

async fn put_preferences(
    State(state): State<AppState>,
    user: User,
    Json(input): Json<Preferences>,
) -> Result<Json<Preferences>> {
    let time_zone = input
        .time_zone
        .as_deref()
        .map(str::trim)
        .filter(|zone| !zone.is_empty());
    if let Some(zone) = time_zone {
        validate_time_zone_name(zone).map_err(|message| Error::invalid("time_zone", message))?;
    }
    let mut tx = state.db.begin().await?;
    // Writing first takes the row's write lock before the read, as for tasks.
    sqlx::query("UPDATE users SET time_zone = time_zone WHERE id = $1")
        .bind(user.account.id)
        .execute(&mut *tx)
        .await?;
    let before: Option<String> = sqlx::query("SELECT time_zone FROM users WHERE id = $1")
        .bind(user.account.id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("time_zone")?;
    sqlx::query("UPDATE users SET time_zone = $1 WHERE id = $2")
        .bind(time_zone)
        .bind(user.account.id)
        .execute(&mut *tx)
        .await?;
    let event = audit::Event::new("update", "preferences")
        .entity(user.account.id)
        .details(json!({"before": {"time_zone": before}, "after": {"time_zone": time_zone}}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    tracing::info!(user = user.account.id, "preferences changed");
    Ok(Json(Preferences {
        time_zone: time_zone.map(str::to_string),
    }))
}
