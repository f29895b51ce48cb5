//! `management_contacts`: the scheduled follow-up contacts of an episode, and
//! `management_contact_escalations`: each contact's fired rungs.

use std::collections::BTreeMap;

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{management_contact_escalations, management_contacts, management_episodes};
use crate::db::types::{Json, UtcMicros};
use crate::domain::ids::{ContactId, EpisodeId};
use crate::domain::management::ContactRung;
use crate::domain::management::plan::{ContactKind, OutOfRange};
use crate::with_conn;

/// A contact row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = management_contacts)]
pub struct Contact {
    pub id: ContactId,
    pub episode_id: EpisodeId,
    pub code: String,
    pub kind: ContactKind,
    pub seq: i32,
    pub due_at: UtcMicros,
    pub window_start: UtcMicros,
    pub window_end: UtcMicros,
    pub done_at: Option<UtcMicros>,
    pub measurements: Option<Json<BTreeMap<String, f64>>>,
    pub off_target: Option<Json<Vec<OutOfRange>>>,
    pub note: Option<String>,
    pub recorded_by: Option<String>,
    pub cancelled_at: Option<UtcMicros>,
    pub next_rung: Option<ContactRung>,
    pub next_rung_at: Option<UtcMicros>,
    pub created_at: UtcMicros,
}

/// A fired rung.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = management_contact_escalations)]
pub struct ContactEscalation {
    pub contact_id: ContactId,
    pub rung: ContactRung,
    pub fired_at: UtcMicros,
    pub recipients: Json<Vec<serde_json::Value>>,
}

/// Inserts contacts; an occurrence already scheduled (same episode, code and number) is kept.
pub fn insert_all(conn: &mut AnyConnection, rows: &[Contact]) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut n = 0;
    // Chunks keep each statement under SQLite's bound-parameter limit.
    for chunk in rows.chunks(500) {
        n += with_conn!(conn, |c| diesel::insert_into(management_contacts::table)
            .values(chunk)
            .on_conflict((
                management_contacts::episode_id,
                management_contacts::code,
                management_contacts::seq,
            ))
            .do_nothing()
            .execute(c))?;
    }
    Ok(n)
}

/// An episode's contacts, soonest first.
pub fn of_episode(conn: &mut AnyConnection, id: EpisodeId) -> QueryResult<Vec<Contact>> {
    management_contacts::table
        .filter(management_contacts::episode_id.eq(id))
        .order((
            management_contacts::due_at.asc(),
            management_contacts::code.asc(),
        ))
        .select(Contact::as_select())
        .load(conn)
}

/// One contact of an episode.
pub fn get(
    conn: &mut AnyConnection,
    episode: EpisodeId,
    id: ContactId,
) -> QueryResult<Option<Contact>> {
    management_contacts::table
        .filter(management_contacts::id.eq(id))
        .filter(management_contacts::episode_id.eq(episode))
        .select(Contact::as_select())
        .first(conn)
        .optional()
}

/// What recording a contact writes.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = management_contacts)]
pub struct Recorded {
    pub done_at: Option<UtcMicros>,
    pub measurements: Option<Json<BTreeMap<String, f64>>>,
    pub off_target: Option<Json<Vec<OutOfRange>>>,
    pub note: Option<String>,
    pub recorded_by: Option<String>,
    pub next_rung: Option<Option<ContactRung>>,
    pub next_rung_at: Option<Option<UtcMicros>>,
}

/// Records a pending contact; returns the rows changed (0: already recorded or cancelled).
pub fn record(conn: &mut AnyConnection, id: ContactId, r: &Recorded) -> QueryResult<usize> {
    diesel::update(
        management_contacts::table
            .filter(management_contacts::id.eq(id))
            .filter(management_contacts::done_at.is_null())
            .filter(management_contacts::cancelled_at.is_null()),
    )
    .set(r)
    .execute(conn)
}

/// Cancels an episode's pending contacts (closure): their escalation stops.
pub fn cancel_pending(
    conn: &mut AnyConnection,
    episode: EpisodeId,
    at: UtcMicros,
) -> QueryResult<usize> {
    diesel::update(
        management_contacts::table
            .filter(management_contacts::episode_id.eq(episode))
            .filter(management_contacts::done_at.is_null())
            .filter(management_contacts::cancelled_at.is_null()),
    )
    .set((
        management_contacts::cancelled_at.eq(at),
        management_contacts::next_rung.eq(None::<ContactRung>),
        management_contacts::next_rung_at.eq(None::<UtcMicros>),
    ))
    .execute(conn)
}

/// A contact due for its next rung, with what its notices need from its episode.
#[derive(Debug, Clone, Queryable)]
pub struct DueContact {
    pub contact: Contact,
    pub infant_id: crate::domain::ids::InfantId,
    pub hospital_id: crate::domain::ids::HospitalId,
    pub condition_code: String,
    pub plan_version: String,
    pub plan_code: String,
}

/// Up to `limit` pending contacts whose next rung is due at `now`, locked for this sweep on
/// PostgreSQL (rows another sweep holds are skipped; SQLite's writer lock does the same).
pub fn claim_due(
    conn: &mut AnyConnection,
    now: UtcMicros,
    limit: i64,
) -> QueryResult<Vec<DueContact>> {
    use management_contacts as c;
    use management_episodes as e;
    macro_rules! base {
        () => {
            c::table
                .inner_join(e::table)
                .filter(c::next_rung_at.le(now))
                .filter(c::done_at.is_null())
                .filter(c::cancelled_at.is_null())
                .order((c::next_rung_at.asc(), c::id.asc()))
                .limit(limit)
                .select((
                    Contact::as_select(),
                    e::infant_id,
                    e::hospital_id,
                    e::condition_code,
                    e::plan_version,
                    e::plan_code,
                ))
        };
    }
    match conn {
        AnyConnection::Postgresql(pg) => base!().for_update().skip_locked().load(pg),
        AnyConnection::Sqlite(s) => base!().load(s),
    }
}

/// The rungs fired for `ids`.
pub fn fired(
    conn: &mut AnyConnection,
    ids: &[ContactId],
) -> QueryResult<Vec<(ContactId, ContactRung)>> {
    management_contact_escalations::table
        .filter(management_contact_escalations::contact_id.eq_any(ids))
        .select((
            management_contact_escalations::contact_id,
            management_contact_escalations::rung,
        ))
        .load(conn)
}

/// Records fired rungs; returns how many were new (fewer: another sweep fired one first).
pub fn record_escalations(
    conn: &mut AnyConnection,
    rows: &[ContactEscalation],
) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    with_conn!(conn, |c| diesel::insert_into(
        management_contact_escalations::table
    )
    .values(rows)
    .on_conflict_do_nothing()
    .execute(c))
}

/// Sets a contact's next rung.
pub fn set_next_rung(
    conn: &mut AnyConnection,
    id: ContactId,
    next: Option<(ContactRung, UtcMicros)>,
) -> QueryResult<()> {
    diesel::update(management_contacts::table.find(id))
        .set((
            management_contacts::next_rung.eq(next.map(|n| n.0)),
            management_contacts::next_rung_at.eq(next.map(|n| n.1)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The fired rungs of an episode's contacts.
pub fn escalations_of(
    conn: &mut AnyConnection,
    episode: EpisodeId,
) -> QueryResult<Vec<ContactEscalation>> {
    management_contact_escalations::table
        .inner_join(management_contacts::table)
        .filter(management_contacts::episode_id.eq(episode))
        .order(management_contact_escalations::fired_at.asc())
        .select(ContactEscalation::as_select())
        .load(conn)
}
