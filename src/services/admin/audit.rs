//! The audit trail: every write to infants, cards, results, screens, consents and cases, and
//! staff reads of a case's or infant's personal data, recorded in the same transaction as the
//! change with who, when, the request id and the before/after of the changed fields.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::db::AnyConnection;
use crate::db::models::admin::audit::{self, AuditEntry};
use crate::db::types::{Json, UtcMicros};
use crate::domain::audit::AuditAction;
use crate::domain::principal::Principal;
use crate::error::AppError;

/// `{field: [before, after]}` for the fields that differ. Keyed hashes are never copied into the
/// trail: a changed hash shows as `"[changed]"`.
pub fn diff(before: &Value, after: &Value) -> Value {
    let empty = Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    for key in b.keys().chain(a.keys().filter(|k| !b.contains_key(*k))) {
        let (old, new) = (
            b.get(key).unwrap_or(&Value::Null),
            a.get(key).unwrap_or(&Value::Null),
        );
        if old != new {
            let pair = if key.ends_with("_hash") {
                json!(["[changed]", "[changed]"])
            } else {
                json!([old, new])
            };
            out.insert(key.clone(), pair);
        }
    }
    Value::Object(out)
}

/// One audit entry of `who`, stamped now with a new id.
fn entry(
    who: &Principal,
    entity: &str,
    id: impl std::fmt::Display,
    action: AuditAction,
    changes: Value,
    now: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        at: UtcMicros::new(now),
        actor: who.key(),
        request_id: who.request_id.clone(),
        entity: entity.into(),
        entity_id: id.to_string(),
        action,
        changes: Json(changes),
        correlation_id: who.correlation_id.clone(),
    }
}

/// Records a creation (`before` = `None`) or an update.
pub fn write<T: Serialize>(
    conn: &mut AnyConnection,
    who: &Principal,
    entity: &str,
    id: impl std::fmt::Display,
    before: Option<&T>,
    after: &T,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    audit::insert(conn, &change_entry(who, entity, id, before, after, now)?)?;
    Ok(())
}

/// The entry [`write`] appends, for a write that stores it itself (a new case's, riding in its
/// insert: `case::insert_unless_open`).
pub fn change_entry<T: Serialize>(
    who: &Principal,
    entity: &str,
    id: impl std::fmt::Display,
    before: Option<&T>,
    after: &T,
    now: DateTime<Utc>,
) -> Result<AuditEntry, AppError> {
    let after = serde_json::to_value(after).map_err(anyhow::Error::from)?;
    let (action, before) = match before {
        Some(b) => (
            AuditAction::Update,
            serde_json::to_value(b).map_err(anyhow::Error::from)?,
        ),
        None => (AuditAction::Create, Value::Null),
    };
    Ok(entry(who, entity, id, action, diff(&before, &after), now))
}

/// Records one list request that returned personal data: one `read` row of `entity` with an
/// empty entity id, naming every id returned in `changes.ids`, so "who saw this infant?" finds
/// list reads too. An empty list records nothing.
pub fn list_read<I: std::fmt::Display>(
    conn: &mut AnyConnection,
    who: &Principal,
    entity: &str,
    ids: impl IntoIterator<Item = I>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let ids: Vec<String> = ids.into_iter().map(|i| i.to_string()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let e = entry(
        who,
        entity,
        "",
        AuditAction::Read,
        json!({ "ids": ids }),
        now,
    );
    audit::insert(conn, &e)?;
    Ok(())
}

/// Records a read of personal data.
pub fn read(
    conn: &mut AnyConnection,
    who: &Principal,
    entity: &str,
    id: impl std::fmt::Display,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    audit::insert(
        conn,
        &entry(who, entity, id, AuditAction::Read, json!({}), now),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lists_changed_fields_only_and_hides_hashes() {
        let d = diff(
            &json!({"a": 1, "b": "x", "mother_id_hash": "h1"}),
            &json!({"a": 1, "b": "y", "mother_id_hash": "h2", "c": true}),
        );
        assert_eq!(
            d,
            json!({"b": ["x", "y"], "mother_id_hash": ["[changed]", "[changed]"], "c": [null, true]})
        );
        assert_eq!(diff(&json!({"a": 1}), &json!({"a": 1})), json!({}));
    }
}
