//! The escalation sweep's set-wise reads and writes: a chunk of due cases is claimed in one
//! statement (row locks that another server's sweep skips, on PostgreSQL; SQLite's single
//! writer there), loaded in three queries, and written with multi-row inserts and one schedule
//! update, so a chunk costs a handful of round trips whatever its size.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::models::admin::hospital::Hospital;
use crate::db::models::follow_up::case::{Case, CaseEventRow};
use crate::db::models::follow_up::notification::Escalation;
use crate::db::models::screening::infant::Infant;
use crate::db::schema::{case_escalations, case_events, cases, hospitals, infants};
use crate::db::types::UtcMicros;
use crate::domain::escalation::Rung;
use crate::domain::ids::CaseId;
use crate::with_conn;

/// Rows per multi-row insert: well under both backends' bound-parameter limits (SQLite 32,766,
/// PostgreSQL 65,535) for the widest row written here (21 columns).
pub(crate) const ROWS_PER_INSERT: usize = 1000;

/// Claims up to `limit` open cases whose next rung is due at `now`, soonest first, leaving out
/// `skip` (cases that failed earlier in this sweep). On PostgreSQL the rows stay locked until the
/// transaction ends and a concurrent sweep skips them. Call inside a write transaction.
pub fn claim_due(
    conn: &mut AnyConnection,
    now: UtcMicros,
    limit: i64,
    skip: &[CaseId],
) -> QueryResult<Vec<CaseId>> {
    let q = cases::table
        .filter(cases::next_rung_at.le(now))
        .filter(cases::id.ne_all(skip))
        .order(cases::next_rung_at.asc())
        .limit(limit)
        .select(cases::id);
    match conn {
        AnyConnection::Postgresql(c) => q.for_update().skip_locked().load(c),
        AnyConnection::Sqlite(c) => q.load(c),
    }
}

/// Claims one case if its next rung is still due at `now` (see [`claim_due`]).
pub fn claim_case(conn: &mut AnyConnection, id: CaseId, now: UtcMicros) -> QueryResult<bool> {
    let q = cases::table
        .filter(cases::id.eq(id))
        .filter(cases::next_rung_at.le(now))
        .select(cases::id);
    let found: Option<CaseId> = match conn {
        AnyConnection::Postgresql(c) => q.for_update().skip_locked().first(c).optional()?,
        AnyConnection::Sqlite(c) => q.first(c).optional()?,
    };
    Ok(found.is_some())
}

/// The cases `ids` with their infants and birth hospitals, in one query.
pub fn case_records(
    conn: &mut AnyConnection,
    ids: &[CaseId],
) -> QueryResult<Vec<(Case, Infant, Hospital)>> {
    cases::table
        .inner_join(infants::table.on(infants::id.eq(cases::infant_id)))
        .inner_join(hospitals::table.on(hospitals::id.eq(cases::hospital_id)))
        .filter(cases::id.eq_any(ids))
        .select((
            Case::as_select(),
            Infant::as_select(),
            Hospital::as_select(),
        ))
        .load(conn)
}

/// The rungs the cases `ids` have fired.
pub fn fired_rungs(conn: &mut AnyConnection, ids: &[CaseId]) -> QueryResult<Vec<(CaseId, Rung)>> {
    case_escalations::table
        .filter(case_escalations::case_id.eq_any(ids))
        .select((case_escalations::case_id, case_escalations::rung))
        .load(conn)
}

/// Records fired rungs, skipping any already recorded (another sweep won); returns those
/// recorded.
pub fn record_escalations(
    conn: &mut AnyConnection,
    rows: &[Escalation],
) -> QueryResult<Vec<(CaseId, Rung)>> {
    let mut recorded = Vec::with_capacity(rows.len());
    for part in rows.chunks(ROWS_PER_INSERT) {
        let keys: Vec<(CaseId, Rung)> =
            with_conn!(conn, |c| diesel::insert_into(case_escalations::table)
                .values(part)
                .on_conflict((case_escalations::case_id, case_escalations::rung))
                .do_nothing()
                .returning((case_escalations::case_id, case_escalations::rung))
                .get_results(c))?;
        recorded.extend(keys);
    }
    Ok(recorded)
}

/// Appends timeline entries.
pub fn insert_events(conn: &mut AnyConnection, rows: &[CaseEventRow]) -> QueryResult<()> {
    for part in rows.chunks(ROWS_PER_INSERT) {
        with_conn!(conn, |c| diesel::insert_into(case_events::table)
            .values(part)
            .execute(c))?;
    }
    Ok(())
}

/// Sets each case's next rung and when it is due (`None`: none left). One statement on
/// PostgreSQL (three arrays, unnested); on SQLite, where a statement is a function call, one
/// prepared update per case.
pub fn set_next_rungs(
    conn: &mut AnyConnection,
    next: &[(CaseId, Option<(Rung, UtcMicros)>)],
) -> QueryResult<()> {
    use diesel::sql_types::{Array, Nullable, Text, Timestamp};
    if next.is_empty() {
        return Ok(());
    }
    match conn {
        AnyConnection::Postgresql(c) => {
            let ids: Vec<String> = next.iter().map(|(id, _)| id.to_string()).collect();
            let rungs: Vec<Option<&str>> = next
                .iter()
                .map(|(_, n)| n.map(|(r, _)| r.as_str()))
                .collect();
            let at: Vec<Option<UtcMicros>> = next.iter().map(|(_, n)| n.map(|(_, t)| t)).collect();
            diesel::sql_query(
                "UPDATE cases SET next_rung = u.rung, next_rung_at = u.at \
                 FROM unnest($1::text[], $2::text[], $3::timestamp[]) AS u(id, rung, at) \
                 WHERE cases.id = u.id",
            )
            .bind::<Array<Text>, _>(ids)
            .bind::<Array<Nullable<Text>>, _>(rungs)
            .bind::<Array<Nullable<Timestamp>>, _>(at)
            .execute(c)?;
        }
        AnyConnection::Sqlite(c) => {
            for (id, n) in next {
                diesel::update(cases::table.filter(cases::id.eq(id)))
                    .set((
                        cases::next_rung.eq(n.map(|(r, _)| r)),
                        cases::next_rung_at.eq(n.map(|(_, t)| t)),
                    ))
                    .execute(c)?;
            }
        }
    }
    Ok(())
}
