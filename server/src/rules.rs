//! Finding rules stored in `finding_rules`: the built-in set, seeded at start-up, and the rules
//! admins add.

use rekey_trail::{FindingCategory, OwnedRule, Provider, RuleSet, RULES};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{now_millis, Db};
use crate::error::Result;

/// Columns of `finding_rules` that the rule set and the rules API read.
pub const RULE_COLUMNS: &str = "id, name, category, severity, provider, patterns, enabled, builtin";

/// Inserts the built-in rules that are missing and updates the stored copies of the others,
/// keeping whether an admin disabled them. Several instances may run this at once.
pub async fn seed_builtin_rules(db: &Db) -> Result<()> {
    let mut tx = db.begin().await?;
    for (position, rule) in RULES.iter().enumerate() {
        let rule = OwnedRule::from_builtin(rule);
        sqlx::query(
            "INSERT INTO finding_rules (name, category, severity, provider, patterns, enabled, builtin, position, created_at) \
             VALUES ($1, $2, $3, $4, $5, 1, 1, $6, $7) \
             ON CONFLICT (name) DO UPDATE SET category = excluded.category, severity = excluded.severity, \
             provider = excluded.provider, patterns = excluded.patterns, position = excluded.position \
             WHERE finding_rules.builtin = 1",
        )
        .bind(&rule.name)
        .bind(rule.category.as_str())
        .bind(&rule.severity)
        .bind(rule.provider.as_str())
        .bind(rule.patterns.join("\n"))
        .bind(position as i64)
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Loads the enabled rules in the order they are tried: added rules first, then built-in ones.
pub async fn load_rule_set(db: &Db) -> Result<RuleSet> {
    let sql = format!(
        "SELECT {RULE_COLUMNS} FROM finding_rules WHERE enabled = 1 ORDER BY builtin, position, id"
    );
    let rows = sqlx::query(&sql).fetch_all(&db.pool).await?;
    let rules = rows.iter().map(owned_rule_from_row).collect::<Result<_>>()?;
    Ok(RuleSet::new(rules))
}

fn owned_rule_from_row(row: &AnyRow) -> Result<OwnedRule> {
    let category: String = row.try_get("category")?;
    let provider: String = row.try_get("provider")?;
    let patterns: String = row.try_get("patterns")?;
    Ok(OwnedRule {
        name: row.try_get("name")?,
        category: FindingCategory::parse(&category)
            .ok_or_else(|| anyhow::anyhow!("unknown category '{category}' in finding_rules"))?,
        severity: row.try_get("severity")?,
        provider: Provider::parse(&provider)
            .ok_or_else(|| anyhow::anyhow!("unknown provider '{provider}' in finding_rules"))?,
        patterns: patterns.lines().map(str::to_owned).collect(),
    })
}
