//! Tamper-evident audit log.
//!
//! Each row carries the SHA-256 of its content together with the hash of the row before it.
//! Editing a row changes its hash, deleting one leaves a gap in the ids, and reordering breaks
//! the links, so `verify` finds each of these. Appending takes a lock on the one-row
//! `audit_head` table inside the caller's transaction, so concurrent changes line up in one
//! chain and a change that rolls back leaves no audit row behind.

use futures_util::TryStreamExt;
use rekey_types::{AuditBreak, AuditVerification};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::auth::User;
use crate::db::{now_millis, Db, Tx};
use crate::error::Result;

/// Hash that the first row links to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Person or process that performed an audited action.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<i64>,
    pub name: String,
    pub client_address: Option<String>,
}

impl Actor {
    pub fn user(user: &User) -> Actor {
        Actor {
            id: Some(user.account.id),
            name: user.account.username.clone(),
            client_address: user.client_address.clone(),
        }
    }

    /// Someone not signed in, such as a failed login, named by what they claimed.
    pub fn anonymous(claimed_name: &str, client_address: Option<String>) -> Actor {
        Actor {
            id: None,
            name: claimed_name.to_string(),
            client_address,
        }
    }

    /// Rekey itself or an operator on the command line.
    pub fn system(name: &str) -> Actor {
        Actor {
            id: None,
            name: name.to_string(),
            client_address: None,
        }
    }
}

/// Audited action and the record it concerns.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: &'static str,
    pub entity_type: &'static str,
    pub entity_id: Option<String>,
    pub case_id: Option<i64>,
    /// Values before and after a change, or other facts; never a secret.
    pub details: Value,
}

impl Event {
    pub fn new(action: &'static str, entity_type: &'static str) -> Event {
        Event {
            action,
            entity_type,
            entity_id: None,
            case_id: None,
            details: json!({}),
        }
    }

    pub fn entity(mut self, id: impl ToString) -> Event {
        self.entity_id = Some(id.to_string());
        self
    }

    pub fn case(mut self, case_id: i64) -> Event {
        self.case_id = Some(case_id);
        self
    }

    pub fn details(mut self, details: Value) -> Event {
        self.details = details;
        self
    }
}

/// Stored fields of one row, in the order they are hashed.
struct RowContent<'a> {
    id: i64,
    occurred_at: i64,
    actor_id: Option<i64>,
    actor_name: &'a str,
    client_address: Option<&'a str>,
    action: &'a str,
    entity_type: &'a str,
    entity_id: Option<&'a str>,
    case_id: Option<i64>,
    details: &'a str,
}

/// SHA-256 over the previous hash and the row's fields, encoded as one JSON array so that no
/// two different rows give the same input.
fn row_hash(prev_hash: &str, row: &RowContent<'_>) -> String {
    let input = json!([
        prev_hash,
        row.id,
        row.occurred_at,
        row.actor_id,
        row.actor_name,
        row.client_address,
        row.action,
        row.entity_type,
        row.entity_id,
        row.case_id,
        row.details,
    ]);
    hex::encode(Sha256::digest(input.to_string().as_bytes()))
}

/// Appends an event inside the caller's transaction.
pub async fn append(tx: &mut Tx, actor: &Actor, event: Event) -> Result<i64> {
    let head = sqlx::query("UPDATE audit_head SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id, last_hash")
        .fetch_one(&mut **tx)
        .await?;
    let id: i64 = head.try_get("last_id")?;
    let prev_hash: String = head.try_get("last_hash")?;
    let details = event.details.to_string();
    let content = RowContent {
        id,
        occurred_at: now_millis(),
        actor_id: actor.id,
        actor_name: &actor.name,
        client_address: actor.client_address.as_deref(),
        action: event.action,
        entity_type: event.entity_type,
        entity_id: event.entity_id.as_deref(),
        case_id: event.case_id,
        details: &details,
    };
    let hash = row_hash(&prev_hash, &content);
    sqlx::query(
        "INSERT INTO audit_log (id, occurred_at, actor_id, actor_name, client_address, action, entity_type, \
         entity_id, case_id, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id)
    .bind(content.occurred_at)
    .bind(content.actor_id)
    .bind(content.actor_name)
    .bind(content.client_address)
    .bind(content.action)
    .bind(content.entity_type)
    .bind(content.entity_id)
    .bind(content.case_id)
    .bind(&details)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

/// Appends an event in a transaction of its own, for events that change nothing else, such
/// as a failed login or a denied request.
pub async fn append_alone(db: &Db, actor: &Actor, event: Event) -> Result<()> {
    let mut tx = db.begin().await?;
    append(&mut tx, actor, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Walks the chain from the first row and reports the first break.
pub async fn verify(db: &Db) -> Result<AuditVerification> {
    let mut rows = sqlx::query(
        "SELECT id, occurred_at, actor_id, actor_name, client_address, action, entity_type, entity_id, case_id, \
         details, prev_hash, hash FROM audit_log ORDER BY id",
    )
    .fetch(&db.pool);
    let mut expected_id = 1i64;
    let mut prev_hash = GENESIS_HASH.to_string();
    let mut checked = 0i64;
    let broken = |row_id: i64, reason: String, checked: i64| AuditVerification {
        rows_checked: checked,
        first_break: Some(AuditBreak { row_id, reason }),
    };

    while let Some(row) = rows.try_next().await? {
        let id: i64 = row.try_get("id")?;
        if id != expected_id {
            let reason = format!("row {expected_id} is missing: the next row is {id}");
            return Ok(broken(expected_id, reason, checked));
        }
        let stored_prev: String = row.try_get("prev_hash")?;
        if stored_prev != prev_hash {
            return Ok(broken(id, "its link to the previous row does not match; rows were reordered or replaced".into(), checked));
        }
        let actor_name: String = row.try_get("actor_name")?;
        let client_address: Option<String> = row.try_get("client_address")?;
        let action: String = row.try_get("action")?;
        let entity_type: String = row.try_get("entity_type")?;
        let entity_id: Option<String> = row.try_get("entity_id")?;
        let details: String = row.try_get("details")?;
        let content = RowContent {
            id,
            occurred_at: row.try_get("occurred_at")?,
            actor_id: row.try_get("actor_id")?,
            actor_name: &actor_name,
            client_address: client_address.as_deref(),
            action: &action,
            entity_type: &entity_type,
            entity_id: entity_id.as_deref(),
            case_id: row.try_get("case_id")?,
            details: &details,
        };
        let stored_hash: String = row.try_get("hash")?;
        if row_hash(&prev_hash, &content) != stored_hash {
            return Ok(broken(id, "its content does not match its hash; the row was edited".into(), checked));
        }
        prev_hash = stored_hash;
        expected_id += 1;
        checked += 1;
    }
    drop(rows);

    let head = sqlx::query("SELECT last_id, last_hash FROM audit_head WHERE id = 1")
        .fetch_one(&db.pool)
        .await?;
    let last_id: i64 = head.try_get("last_id")?;
    let last_hash: String = head.try_get("last_hash")?;
    if last_id != expected_id - 1 || last_hash != prev_hash {
        let reason = format!("the log ends at row {} but row {last_id} was written; later rows were deleted", expected_id - 1);
        return Ok(broken(expected_id, reason, checked));
    }
    Ok(AuditVerification {
        rows_checked: checked,
        first_break: None,
    })
}
