//! Admin merges of two records of the same infant, and their undo. A merge moves the duplicate's
//! cards, screens, consents and cases to the kept record, marks the duplicate `merged_into`, and
//! lists exactly the rows it moved; an undo moves those rows back. Both are audited.

use chrono::{DateTime, Utc};

use crate::db::AnyConnection;
use crate::db::models::quality::facts as quality_facts;
use crate::db::models::screening::infant::{self, Infant, InfantUpdateForm};
use crate::db::models::screening::merge::{self, Merge};
use crate::db::types::{Json, UtcMicros};
use crate::domain::ids::InfantId;
use crate::domain::principal::{Principal, Scope};
use crate::error::{AppError, ErrorCode};
use crate::services::admin::audit;

fn visible(conn: &mut AnyConnection, id: InfantId) -> Result<Infant, AppError> {
    infant::get(conn, &Scope::unrestricted(), id)?.ok_or(AppError::NotFound { entity: "infant" })
}

/// Merges `merged_id` into `kept_id`.
pub fn merge(
    conn: &mut AnyConnection,
    who: &Principal,
    kept_id: InfantId,
    merged_id: InfantId,
    now: DateTime<Utc>,
) -> Result<Merge, AppError> {
    crate::db::write_transaction(conn, |conn| {
        if kept_id == merged_id {
            return Err(AppError::invalid(
                "duplicate_id",
                "must differ from the kept infant",
            ));
        }
        let kept = visible(conn, kept_id)?;
        let dup = visible(conn, merged_id)?;
        if kept.merged_into.is_some() || dup.merged_into.is_some() {
            return Err(AppError::conflict(
                ErrorCode::AlreadyMerged,
                Some("duplicate_id"),
                "one of the records is already merged",
            ));
        }
        let moved = merge::move_all(conn, dup.id, kept.id)?;
        let t = UtcMicros::new(now);
        let form = InfantUpdateForm {
            merged_into: Some(Some(kept.id)),
            updated_at: Some(t),
            ..Default::default()
        };
        infant::update(conn, &Scope::unrestricted(), dup.id, &form)?;
        let after = visible(conn, dup.id)?;
        audit::write(conn, who, "infant", dup.id, Some(&dup), &after, now)?;
        let m = Merge {
            id: uuid::Uuid::now_v7().to_string(),
            kept_id: kept.id,
            merged_id: dup.id,
            moved: Json(moved),
            merged_by: who.key(),
            merged_at: t,
            undone_by: None,
            undone_at: None,
        };
        merge::insert(conn, &m)?;
        audit::write(conn, who, "merge", &m.id, None, &m, now)?;
        quality_facts::touch(conn, &[kept_id, merged_id])?;
        Ok(m)
    })
}

/// Undoes a merge: the rows it moved go back, the merged record is active again.
pub fn undo(
    conn: &mut AnyConnection,
    who: &Principal,
    merge_id: &str,
    now: DateTime<Utc>,
) -> Result<Merge, AppError> {
    crate::db::write_transaction(conn, |conn| {
        let m = merge::get(conn, merge_id)?.ok_or(AppError::NotFound { entity: "merge" })?;
        if m.undone_at.is_some() {
            return Err(AppError::conflict(
                ErrorCode::AlreadyUndone,
                None,
                "this merge was already undone",
            ));
        }
        let to = m.merged_id;
        merge::move_back(conn, &m.moved, to)?;
        let before = visible(conn, to)?;
        let t = UtcMicros::new(now);
        let form = InfantUpdateForm {
            merged_into: Some(None),
            updated_at: Some(t),
            ..Default::default()
        };
        infant::update(conn, &Scope::unrestricted(), to, &form)?;
        let after = visible(conn, to)?;
        audit::write(conn, who, "infant", to, Some(&before), &after, now)?;
        merge::mark_undone(conn, &m.id, &who.key(), t)?;
        let done = Merge {
            undone_by: Some(who.key()),
            undone_at: Some(t),
            ..m.clone()
        };
        audit::write(conn, who, "merge", &m.id, Some(&m), &done, now)?;
        quality_facts::touch(conn, &[m.kept_id, m.merged_id])?;
        Ok(done)
    })
}
