//! Loads what the management report needs (episodes open in the period with their infants'
//! births and their contacts, screen positives, overdue contacts) and computes it with
//! [`crate::domain::management::report`], for the whole scope and per hospital.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::AnyConnection;
use crate::db::schema::{cases, hospitals, infants, management_contacts, management_episodes};
use crate::db::types::UtcMicros;
use crate::domain::case::Reason;
use crate::domain::ids::{EpisodeId, HospitalId};
use crate::domain::management::report::{ContactFacts, EpisodeFacts, Figures, figures};
use crate::domain::management::{ContactRung, EpisodeState};
use crate::domain::principal::Scope;
use crate::error::AppError;

type Db = <AnyConnection as Connection>::Backend;

/// One hospital's figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HospitalFigures {
    /// Hospital.
    pub hospital_id: HospitalId,
    /// Its name.
    pub hospital: String,
    /// District.
    pub district: Option<String>,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// Overdue contacts of one hospital at one rung.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OverdueCount {
    /// Hospital.
    pub hospital_id: HospitalId,
    /// The highest rung fired so far (`none`, `M0`, `M1`, `M2`).
    pub rung_reached: String,
    /// Contacts past their window, not done.
    pub contacts: u64,
}

/// The report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ManagementReport {
    /// Whole scope.
    pub total: Figures,
    /// Per hospital.
    pub by_hospital: Vec<HospitalFigures>,
    /// Overdue contacts now, by hospital and rung reached.
    pub overdue_contacts: Vec<OverdueCount>,
}

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

/// Computes the report for `[start, end)` at `now`.
pub fn build(
    conn: &mut AnyConnection,
    scope: &Scope,
    hospital: Option<HospitalId>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ManagementReport, AppError> {
    use management_episodes as e;
    let scope = match hospital {
        Some(h) => scope.narrowed_to(h),
        None => *scope,
    };
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
    let total = figures(&facts, found_by.len() as u64, start, end, now);
    let by_hospital = hs
        .into_iter()
        .filter_map(|(id, name, district)| {
            let key = id.to_string();
            let mine: Vec<EpisodeFacts> = facts
                .iter()
                .filter(|f| f.hospital == key)
                .cloned()
                .collect();
            let found = found_by.iter().filter(|h| **h == id).count() as u64;
            (found > 0 || !mine.is_empty()).then(|| HospitalFigures {
                hospital_id: id,
                hospital: name,
                district,
                figures: figures(&mine, found, start, end, now),
            })
        })
        .collect();
    // Overdue now: pending contacts of open episodes past their window.
    let mut oq = management_contacts::table
        .inner_join(e::table)
        .filter(management_contacts::done_at.is_null())
        .filter(management_contacts::cancelled_at.is_null())
        .filter(management_contacts::window_end.lt(UtcMicros::new(now)))
        .filter(e::state.ne(EpisodeState::Closed))
        .into_boxed::<Db>();
    oq = crate::scoped!(oq, scope, e::hospital_id);
    let over: Vec<(HospitalId, Option<ContactRung>)> = oq
        .select((e::hospital_id, management_contacts::next_rung))
        .load(conn)?;
    let mut counts: BTreeMap<(HospitalId, &'static str), u64> = BTreeMap::new();
    for (h, next) in over {
        let reached = match next {
            Some(ContactRung::M0) => "none",
            Some(ContactRung::M1) => "M0",
            Some(ContactRung::M2) => "M1",
            None => "M2",
        };
        *counts.entry((h, reached)).or_default() += 1;
    }
    Ok(ManagementReport {
        total,
        by_hospital,
        overdue_contacts: counts
            .into_iter()
            .map(|((hospital_id, r), contacts)| OverdueCount {
                hospital_id,
                rung_reached: r.into(),
                contacts,
            })
            .collect(),
    })
}
