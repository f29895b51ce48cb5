//! Admin merges of two records of the same infant, and their undo. A merge moves the duplicate's
//! cards, screens, consents and cases to the kept record, marks the duplicate `merged_into`, and
//! lists exactly the rows it moved; an undo moves those rows back. Both are audited.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::AnyConnection;
use crate::db::models::infant::{self, Infant, InfantUpdateForm};
use crate::db::models::quality_facts;
use crate::db::schema::{
    cases, cchd_screens, dbs_cards, hearing_interventions, hearing_screens, infant_merges,
    screening_consents,
};
use crate::db::types::UtcMicros;
use crate::domain::case::Reason;
use crate::domain::catalogue::Programme;
use crate::domain::principal::{Principal, Scope};
use crate::error::AppError;
use crate::services::audit;

/// Rows moved by a merge, per table.
pub type Moved = BTreeMap<String, Vec<String>>;

/// A merge as recorded.
#[derive(
    Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize, utoipa::ToSchema,
)]
#[diesel(table_name = infant_merges)]
pub struct Merge {
    /// Id.
    pub id: String,
    /// The record kept.
    pub kept_id: String,
    /// The record merged into it.
    pub merged_id: String,
    /// JSON `{table: [row ids]}`.
    pub moved: String,
    /// Who merged.
    pub merged_by: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub merged_at: UtcMicros,
    /// Who undid it.
    pub undone_by: Option<String>,
    /// When.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub undone_at: Option<UtcMicros>,
}

macro_rules! move_rows {
    ($conn:expr, $moved:expr, $name:literal, $table:ident, $ids:expr, $to:expr) => {{
        let ids: Vec<String> = $ids;
        diesel::update($table::table.filter($table::id.eq_any(&ids)))
            .set($table::infant_id.eq($to))
            .execute($conn)?;
        $moved.insert($name.to_string(), ids);
    }};
}

macro_rules! ids_of {
    ($conn:expr, $table:ident, $infant:expr) => {
        $table::table
            .filter($table::infant_id.eq($infant))
            .select($table::id)
            .load::<String>($conn)?
    };
}

/// Re-keys moved open cases to their new infant; a case whose key is already taken by an open
/// case of the same reason keeps no key (it stays open and listed, but results update the other).
fn rekey_cases(conn: &mut AnyConnection, ids: &[String], infant_id: &str) -> QueryResult<()> {
    for id in ids {
        let row: (Programme, Reason, Option<String>) = cases::table
            .find(id)
            .select((cases::programme, cases::reason, cases::open_key))
            .first(conn)?;
        if row.2.is_none() {
            continue;
        }
        let key = crate::services::cases::open_key(infant_id, row.0, row.1);
        let taken: i64 = cases::table
            .filter(cases::open_key.eq(&key))
            .count()
            .get_result(conn)?;
        let new_key = (taken == 0).then_some(key);
        diesel::update(cases::table.find(id))
            .set(cases::open_key.eq(new_key))
            .execute(conn)?;
    }
    Ok(())
}

fn visible(conn: &mut AnyConnection, id: &str) -> Result<Infant, AppError> {
    infant::get(conn, &Scope::unrestricted(), id)?.ok_or(AppError::NotFound { entity: "infant" })
}

/// Merges `merged_id` into `kept_id`.
pub fn merge(
    conn: &mut AnyConnection,
    who: &Principal,
    kept_id: &str,
    merged_id: &str,
    now: DateTime<Utc>,
) -> Result<Merge, AppError> {
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
            "already_merged",
            Some("duplicate_id"),
            "one of the records is already merged",
        ));
    }
    let mut moved = Moved::new();
    move_rows!(
        conn,
        moved,
        "dbs_cards",
        dbs_cards,
        ids_of!(conn, dbs_cards, &dup.id),
        &kept.id
    );
    move_rows!(
        conn,
        moved,
        "hearing_screens",
        hearing_screens,
        ids_of!(conn, hearing_screens, &dup.id),
        &kept.id
    );
    move_rows!(
        conn,
        moved,
        "cchd_screens",
        cchd_screens,
        ids_of!(conn, cchd_screens, &dup.id),
        &kept.id
    );
    move_rows!(
        conn,
        moved,
        "screening_consents",
        screening_consents,
        ids_of!(conn, screening_consents, &dup.id),
        &kept.id
    );
    move_rows!(
        conn,
        moved,
        "hearing_interventions",
        hearing_interventions,
        ids_of!(conn, hearing_interventions, &dup.id),
        &kept.id
    );
    move_rows!(
        conn,
        moved,
        "cases",
        cases,
        ids_of!(conn, cases, &dup.id),
        &kept.id
    );
    rekey_cases(conn, &moved["cases"], &kept.id)?;
    let t = UtcMicros::new(now);
    let form = InfantUpdateForm {
        merged_into: Some(Some(kept.id.clone())),
        updated_at: Some(t),
        ..Default::default()
    };
    infant::update(conn, &Scope::unrestricted(), &dup.id, &form)?;
    let after = visible(conn, &dup.id)?;
    audit::write(conn, who, "infant", &dup.id, Some(&dup), &after, now)?;
    let m = Merge {
        id: uuid::Uuid::now_v7().to_string(),
        kept_id: kept.id,
        merged_id: dup.id,
        moved: serde_json::to_string(&moved).map_err(anyhow::Error::from)?,
        merged_by: who.key(),
        merged_at: t,
        undone_by: None,
        undone_at: None,
    };
    diesel::insert_into(infant_merges::table)
        .values(&m)
        .execute(conn)?;
    audit::write(conn, who, "merge", &m.id, None, &m, now)?;
    quality_facts::touch(conn, &[kept_id, merged_id])?;
    Ok(m)
}

/// Undoes a merge: the rows it moved go back, the merged record is active again.
pub fn undo(
    conn: &mut AnyConnection,
    who: &Principal,
    merge_id: &str,
    now: DateTime<Utc>,
) -> Result<Merge, AppError> {
    let m: Merge = infant_merges::table
        .find(merge_id)
        .select(Merge::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound { entity: "merge" })?;
    if m.undone_at.is_some() {
        return Err(AppError::conflict(
            "already_undone",
            None,
            "this merge was already undone",
        ));
    }
    let moved: Moved = serde_json::from_str(&m.moved).map_err(anyhow::Error::from)?;
    let back = |name: &str| moved.get(name).cloned().unwrap_or_default();
    let to = m.merged_id.as_str();
    let mut ignored = Moved::new();
    move_rows!(conn, ignored, "dbs_cards", dbs_cards, back("dbs_cards"), to);
    move_rows!(
        conn,
        ignored,
        "hearing_screens",
        hearing_screens,
        back("hearing_screens"),
        to
    );
    move_rows!(
        conn,
        ignored,
        "cchd_screens",
        cchd_screens,
        back("cchd_screens"),
        to
    );
    move_rows!(
        conn,
        ignored,
        "screening_consents",
        screening_consents,
        back("screening_consents"),
        to
    );
    move_rows!(
        conn,
        ignored,
        "hearing_interventions",
        hearing_interventions,
        back("hearing_interventions"),
        to
    );
    move_rows!(conn, ignored, "cases", cases, back("cases"), to);
    rekey_cases(conn, &back("cases"), to)?;
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
    diesel::update(infant_merges::table.find(&m.id))
        .set((
            infant_merges::undone_by.eq(Some(who.key())),
            infant_merges::undone_at.eq(Some(t)),
        ))
        .execute(conn)?;
    let done = Merge {
        undone_by: Some(who.key()),
        undone_at: Some(t),
        ..m.clone()
    };
    audit::write(conn, who, "merge", &m.id, Some(&m), &done, now)?;
    quality_facts::touch(conn, &[m.kept_id.as_str(), m.merged_id.as_str()])?;
    Ok(done)
}
