//! Finding rules: admins list them, add their own, and disable or enable any of them.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use rekey_trail::Provider;
use rekey_types::{FindingCategory, FindingRule, NewFindingRule, UserRole};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::stored_value_error;
use crate::audit::{self, Actor};
use crate::auth::{Admin, User};
use crate::db::now_millis;
use crate::error::{parse_json, Error, Json, Result};
use crate::rules::RULE_COLUMNS;
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/rules", get(list_rules).post(add_rule))
        .route("/rules/{id}/enable", post(enable_rule))
        .route("/rules/{id}/disable", post(disable_rule))
}

const SEVERITIES: [&str; 3] = ["high", "medium", "low"];
const MAX_PATTERNS: usize = 100;
const MAX_PATTERN_CHARS: usize = 128;

fn require_admin(user: &User) -> Result<()> {
    if user.account.role == UserRole::Admin {
        Ok(())
    } else {
        Err(Error::Forbidden("only administrators can manage finding rules".to_string()))
    }
}

fn rule_from_row(row: &AnyRow) -> Result<FindingRule> {
    let category: String = row.try_get("category")?;
    let patterns: String = row.try_get("patterns")?;
    Ok(FindingRule {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        category: FindingCategory::parse(&category).ok_or_else(|| stored_value_error("category", &category))?,
        severity: row.try_get("severity")?,
        provider: row.try_get("provider")?,
        patterns: patterns.lines().map(str::to_string).collect(),
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        builtin: row.try_get::<i64, _>("builtin")? != 0,
    })
}

/// Lists every rule, enabled or not, in the order the import tries them.
async fn list_rules(State(state): State<AppState>, user: User) -> Result<Json<Vec<FindingRule>>> {
    require_admin(&user)?;
    let sql = format!("SELECT {RULE_COLUMNS} FROM finding_rules ORDER BY builtin, position, id");
    let rows = sqlx::query(&sql).fetch_all(&state.db.pool).await?;
    Ok(Json(rows.iter().map(rule_from_row).collect::<Result<_>>()?))
}

/// Checks a new rule; returns the provider and the trimmed patterns.
fn validate_rule(input: &NewFindingRule) -> Result<(Provider, Vec<String>)> {
    let name = &input.name;
    let kebab_case = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !kebab_case {
        return Err(Error::invalid(
            "name",
            format!("name '{name}' is invalid; use 1 to 64 lowercase letters, digits and inner hyphens, such as user-enumeration"),
        ));
    }
    if !SEVERITIES.contains(&input.severity.as_str()) {
        return Err(Error::invalid(
            "severity",
            format!("severity '{}' is invalid; use high, medium or low", input.severity),
        ));
    }
    let provider_name = input.provider.as_deref().unwrap_or("any");
    let provider = Provider::parse(provider_name).ok_or_else(|| {
        Error::invalid("provider", format!("provider '{provider_name}' is invalid; use any, aws or huawei"))
    })?;

    let patterns: Vec<String> = input.patterns.iter().map(|p| p.trim().to_string()).collect();
    if patterns.is_empty() || patterns.len() > MAX_PATTERNS {
        return Err(Error::invalid(
            "patterns",
            format!("give 1 to {MAX_PATTERNS} event-name patterns, such as [\"ListUsers\", \"Get*Policy\"]"),
        ));
    }
    for pattern in &patterns {
        let valid = !pattern.is_empty()
            && pattern.len() <= MAX_PATTERN_CHARS
            && pattern.bytes().all(|b| b.is_ascii_alphanumeric() || b"*_-.:".contains(&b))
            && pattern.bytes().any(|b| b != b'*');
        if !valid {
            return Err(Error::invalid(
                "patterns",
                format!(
                    "pattern '{pattern}' is invalid; use an event name of letters, digits and _-.: \
                     with * for any run of characters, up to {MAX_PATTERN_CHARS} characters, such as Get*Policy"
                ),
            ));
        }
    }
    Ok((provider, patterns))
}

async fn add_rule(
    State(state): State<AppState>,
    Admin(user): Admin,
    body: Bytes,
) -> Result<(StatusCode, Json<FindingRule>)> {
    let input: NewFindingRule = parse_json(&body)?;
    let (provider, patterns) = validate_rule(&input)?;

    let taken = sqlx::query("SELECT id FROM finding_rules WHERE name = $1")
        .bind(&input.name)
        .fetch_optional(&state.db.pool)
        .await?
        .is_some();
    if taken {
        return Err(Error::conflict("name", format!("a rule named '{}' exists; choose another name", input.name)));
    }
    let position: i64 = sqlx::query("SELECT COALESCE(MAX(position), 0) + 1 AS next FROM finding_rules WHERE builtin = 0")
        .fetch_one(&state.db.pool)
        .await?
        .try_get("next")?;
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO finding_rules (name, category, severity, provider, patterns, enabled, builtin, position, created_at) \
         VALUES ($1, $2, $3, $4, $5, 1, 0, $6, $7) RETURNING id",
    )
    .bind(&input.name)
    .bind(input.category.as_str())
    .bind(&input.severity)
    .bind(provider.as_str())
    .bind(patterns.join("\n"))
    .bind(position)
    .bind(now_millis())
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let event = audit::Event::new("create", "finding_rule").entity(id).details(json!({
        "name": input.name,
        "category": input.category.as_str(),
        "severity": input.severity,
        "provider": provider.as_str(),
        "patterns": patterns,
    }));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    tracing::info!(rule = id, name = %input.name, user = user.account.id, "finding rule added");
    Ok((StatusCode::CREATED, Json(load_rule(&state, id).await?)))
}

async fn load_rule(state: &AppState, id: i64) -> Result<FindingRule> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM finding_rules WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(Error::NotFound("rule"))?;
    rule_from_row(&row)
}

async fn set_enabled(state: &AppState, user: &User, id: i64, enabled: bool) -> Result<Json<FindingRule>> {
    require_admin(user)?;
    let mut tx = state.db.begin().await?;
    // Writing first takes the row's write lock before the read, as for tasks.
    sqlx::query("UPDATE finding_rules SET enabled = enabled WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let before: i64 = sqlx::query("SELECT enabled FROM finding_rules WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("rule"))?
        .try_get("enabled")?;
    sqlx::query("UPDATE finding_rules SET enabled = $1 WHERE id = $2")
        .bind(i64::from(enabled))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let event = audit::Event::new("update", "finding_rule")
        .entity(id)
        .details(json!({"before": {"enabled": before != 0}, "after": {"enabled": enabled}}));
    audit::append(&mut tx, &Actor::user(user), event).await?;
    tx.commit().await?;
    tracing::info!(rule = id, enabled, user = user.account.id, "finding rule changed");
    Ok(Json(load_rule(state, id).await?))
}

/// Enables a rule, so that later imports and confirmations use it again.
async fn enable_rule(State(state): State<AppState>, user: User, Path(id): Path<i64>) -> Result<Json<FindingRule>> {
    set_enabled(&state, &user, id, true).await
}

/// Disables a rule. Findings it made stay; later imports and confirmations skip it.
async fn disable_rule(State(state): State<AppState>, user: User, Path(id): Path<i64>) -> Result<Json<FindingRule>> {
    set_enabled(&state, &user, id, false).await
}
