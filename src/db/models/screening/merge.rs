//! `infant_merges`: every merge of two records of one infant, and the moving of the rows a merge
//! carries (cards, screens, consents, interventions, cases) from one infant to another.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::AnyConnection;
use crate::db::schema::{
    cases, cchd_screens, dbs_cards, hearing_interventions, hearing_screens, infant_merges,
    screening_consents,
};
use crate::db::types::{Json, UtcMicros};
use crate::domain::case::Reason;
use crate::domain::catalogue::Programme;
use crate::domain::ids::InfantId;

/// Rows moved by a merge, per table.
pub type Moved = BTreeMap<String, Vec<String>>;

/// A merge as recorded.
#[derive(
    Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize, utoipa::ToSchema,
)]
#[diesel(table_name = infant_merges)]
pub struct Merge {
    /// The merge's id.
    pub id: String,
    /// The record kept.
    pub kept_id: InfantId,
    /// The record merged into it.
    pub merged_id: InfantId,
    /// The rows moved, `{table: [row ids]}`.
    #[schema(value_type = Object)]
    pub moved: Json<Moved>,
    /// Who merged.
    pub merged_by: String,
    /// When the records were merged.
    #[schema(value_type = String, format = DateTime)]
    pub merged_at: UtcMicros,
    /// Who undid it.
    pub undone_by: Option<String>,
    /// When the merge was undone, if it was.
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

/// Moves every row of infant `from` in the carried tables to infant `to` and returns what moved.
pub fn move_all(conn: &mut AnyConnection, from: InfantId, to: InfantId) -> QueryResult<Moved> {
    let mut moved = Moved::new();
    move_rows!(
        conn,
        moved,
        "dbs_cards",
        dbs_cards,
        ids_of!(conn, dbs_cards, from),
        to
    );
    let hs = ids_of!(conn, hearing_screens, from);
    move_rows!(conn, moved, "hearing_screens", hearing_screens, hs, to);
    move_rows!(
        conn,
        moved,
        "cchd_screens",
        cchd_screens,
        ids_of!(conn, cchd_screens, from),
        to
    );
    let sc = ids_of!(conn, screening_consents, from);
    move_rows!(
        conn,
        moved,
        "screening_consents",
        screening_consents,
        sc,
        to
    );
    let hi = ids_of!(conn, hearing_interventions, from);
    move_rows!(
        conn,
        moved,
        "hearing_interventions",
        hearing_interventions,
        hi,
        to
    );
    move_rows!(conn, moved, "cases", cases, ids_of!(conn, cases, from), to);
    rekey_cases(conn, &moved["cases"], to)?;
    Ok(moved)
}

/// Moves exactly the rows of `moved` to infant `to` (an undo).
pub fn move_back(conn: &mut AnyConnection, moved: &Moved, to: InfantId) -> QueryResult<()> {
    let back = |name: &str| moved.get(name).cloned().unwrap_or_default();
    let mut ignored = Moved::new();
    move_rows!(conn, ignored, "dbs_cards", dbs_cards, back("dbs_cards"), to);
    let hs = back("hearing_screens");
    move_rows!(conn, ignored, "hearing_screens", hearing_screens, hs, to);
    move_rows!(
        conn,
        ignored,
        "cchd_screens",
        cchd_screens,
        back("cchd_screens"),
        to
    );
    let sc = back("screening_consents");
    move_rows!(
        conn,
        ignored,
        "screening_consents",
        screening_consents,
        sc,
        to
    );
    let hi = back("hearing_interventions");
    move_rows!(
        conn,
        ignored,
        "hearing_interventions",
        hearing_interventions,
        hi,
        to
    );
    move_rows!(conn, ignored, "cases", cases, back("cases"), to);
    rekey_cases(conn, &back("cases"), to)
}

/// Re-keys moved open cases to their new infant; a case whose key is already taken by an open
/// case of the same reason keeps no key (it stays open and listed, but results update the other).
fn rekey_cases(conn: &mut AnyConnection, ids: &[String], infant_id: InfantId) -> QueryResult<()> {
    for id in ids {
        let row: (Programme, Reason, Option<String>) = cases::table
            .find(id)
            .select((cases::programme, cases::reason, cases::open_key))
            .first(conn)?;
        if row.2.is_none() {
            continue;
        }
        let key = crate::domain::case::open_key(infant_id, row.0, row.1);
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

/// Records a merge.
pub fn insert(conn: &mut AnyConnection, m: &Merge) -> QueryResult<()> {
    diesel::insert_into(infant_merges::table)
        .values(m)
        .execute(conn)
        .map(|_| ())
}

/// A merge by id.
pub fn get(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<Merge>> {
    infant_merges::table
        .find(id)
        .select(Merge::as_select())
        .first(conn)
        .optional()
}

/// Marks a merge undone.
pub fn mark_undone(conn: &mut AnyConnection, id: &str, by: &str, at: UtcMicros) -> QueryResult<()> {
    diesel::update(infant_merges::table.find(id))
        .set((
            infant_merges::undone_by.eq(Some(by)),
            infant_merges::undone_at.eq(Some(at)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The merges an infant took part in (kept or merged), newest first.
pub fn of_infant(conn: &mut AnyConnection, id: InfantId) -> QueryResult<Vec<Merge>> {
    infant_merges::table
        .filter(
            infant_merges::kept_id
                .eq(id)
                .or(infant_merges::merged_id.eq(id)),
        )
        .order(infant_merges::merged_at.desc())
        .select(Merge::as_select())
        .load(conn)
}

/// The latest merges, newest first, at most `limit`.
pub fn recent(conn: &mut AnyConnection, limit: i64) -> QueryResult<Vec<Merge>> {
    infant_merges::table
        .order((infant_merges::merged_at.desc(), infant_merges::id.desc()))
        .limit(limit)
        .select(Merge::as_select())
        .load(conn)
}
