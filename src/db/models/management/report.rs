//! The rows the management report counts: episodes open in a period with their infants'
//! births and contacts, screen-positive cases, hospitals and overdue contacts, all in a scope.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{cases, hospitals, infants, management_contacts, management_episodes};
use crate::db::types::UtcMicros;
use crate::domain::case::Reason;
use crate::domain::ids::{EpisodeId, HospitalId};
use crate::domain::management::report::{ContactFacts, EpisodeFacts};
use crate::domain::management::{ContactRung, EpisodeState};
use crate::domain::principal::Scope;

type Db = <AnyConnection as Connection>::Backend;

type ContactRow = (
    EpisodeId,
    UtcMicros,
    UtcMicros,
    Option<UtcMicros>,
    Option<UtcMicros>,
);
type EpisodeRow = (
    EpisodeId,
    HospitalId,
    String,
    UtcMicros,
    UtcMicros,
    Option<UtcMicros>,
    Option<UtcMicros>,
    Option<UtcMicros>,
    Option<UtcMicros>,
    Option<String>,
);

/// What the report counts.
#[derive(Debug, Default)]
pub struct ReportRows {
    /// Episodes open at some time in the period.
    pub facts: Vec<EpisodeFacts>,
    /// The hospital of each screen-positive case opened in the period.
    pub found_by: Vec<HospitalId>,
    /// Hospitals in scope: id, name, district.
    pub hospitals: Vec<(HospitalId, String, Option<String>)>,
    /// Pending contacts of open episodes past their window now: hospital and next rung.
    pub overdue: Vec<(HospitalId, Option<ContactRung>)>,
}

/// Loads the rows for `[start, end)` at `now`.
pub fn load(
    conn: &mut AnyConnection,
    scope: &Scope,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<ReportRows> {
    use management_episodes as e;
    let (s, t) = (UtcMicros::new(start), UtcMicros::new(end));
    let mut q = e::table
        .inner_join(infants::table)
        .filter(e::created_at.lt(t))
        .filter(e::closed_at.is_null().or(e::closed_at.ge(s)))
        .into_boxed::<Db>();
    q = crate::scoped!(q, scope, e::hospital_id);
    let rows: Vec<EpisodeRow> = q
        .select((
            e::id,
            e::hospital_id,
            e::condition_code,
            infants::birth_at,
            e::created_at,
            e::reported_at,
            e::treatment_due_at,
            e::treatment_started_at,
            e::closed_at,
            e::close_reason,
        ))
        .load(conn)?;
    let ids: Vec<EpisodeId> = rows.iter().map(|r| r.0).collect();
    let mut contacts: BTreeMap<EpisodeId, Vec<ContactFacts>> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let cs: Vec<ContactRow> = management_contacts::table
            .filter(management_contacts::episode_id.eq_any(chunk))
            .filter(management_contacts::window_end.lt(t))
            .select((
                management_contacts::episode_id,
                management_contacts::window_start,
                management_contacts::window_end,
                management_contacts::done_at,
                management_contacts::cancelled_at,
            ))
            .load(conn)?;
        for (id, ws, we, done, cancelled) in cs {
            contacts.entry(id).or_default().push(ContactFacts {
                window_start: ws.utc(),
                window_end: we.utc(),
                done_at: done.map(UtcMicros::utc),
                cancelled: cancelled.is_some(),
            });
        }
    }
    let facts: Vec<EpisodeFacts> = rows
        .into_iter()
        .map(
            |(id, h, condition, birth, created, reported, due, started, closed, reason)| {
                EpisodeFacts {
                    hospital: h.to_string(),
                    condition,
                    birth: birth.utc(),
                    created_at: created.utc(),
                    reported_at: reported.map(UtcMicros::utc),
                    treatment_due_at: due.map(UtcMicros::utc),
                    treatment_started_at: started.map(UtcMicros::utc),
                    closed: closed.map(|c| (c.utc(), reason.unwrap_or_default())),
                    contacts: contacts.remove(&id).unwrap_or_default(),
                }
            },
        )
        .collect();
    let mut fq = cases::table
        .filter(cases::reason.eq(Reason::Positive))
        .filter(cases::opened_at.ge(s))
        .filter(cases::opened_at.lt(t))
        .into_boxed::<Db>();
    fq = crate::scoped!(fq, scope, cases::hospital_id);
    let found_by: Vec<HospitalId> = fq.select(cases::hospital_id).load(conn)?;
    let mut hq = hospitals::table.into_boxed::<Db>();
    hq = crate::scoped!(hq, scope, hospitals::id);
    let hs: Vec<(HospitalId, String, Option<String>)> = hq
        .order(hospitals::code.asc())
        .select((hospitals::id, hospitals::name, hospitals::district))
        .load(conn)?;
    let mut oq = management_contacts::table
        .inner_join(e::table)
        .filter(management_contacts::done_at.is_null())
        .filter(management_contacts::cancelled_at.is_null())
        .filter(management_contacts::window_end.lt(UtcMicros::new(now)))
        .filter(e::state.ne(EpisodeState::Closed))
        .into_boxed::<Db>();
    oq = crate::scoped!(oq, scope, e::hospital_id);
    let overdue = oq
        .select((e::hospital_id, management_contacts::next_rung))
        .load(conn)?;
    Ok(ReportRows {
        facts,
        found_by,
        hospitals: hs,
        overdue,
    })
}
