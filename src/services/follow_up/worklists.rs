//! The queues staff work from (overdue, due today, due in 48 h, unassigned, contact problems,
//! critical): the filter behind each, their counts, and one page of a list with its read
//! audited. The JSON API and the console both read them here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::db::AnyConnection;
use crate::db::models::admin::{hospital, user};
use crate::db::models::follow_up::case::{self, Case, CaseFilter};
use crate::db::models::follow_up::{contact, notification};
use crate::db::types::UtcMicros;
use crate::domain::catalogue::Tier;
use crate::domain::contact::AttemptOutcome;
use crate::domain::ids::{CaseId, HospitalId, UserId};
use crate::domain::notification::Status;
use crate::domain::principal::{Principal, Scope};
use crate::domain::worklist::Worklist;
use crate::error::AppError;

/// The filter behind a worklist at `now`.
pub fn filter(list: Worklist, now: DateTime<Utc>) -> CaseFilter {
    let open = CaseFilter {
        open_only: true,
        ..Default::default()
    };
    // The time-bound lists go by the earliest pending deadline: first contact while nobody was
    // reached, then the recall.
    if let Some(w) = list.deadline_window(now) {
        return CaseFilter {
            deadline_from: w.from.map(UtcMicros::new),
            deadline_before: w.before.map(UtcMicros::new),
            by_deadline: true,
            ..open
        };
    }
    match list {
        Worklist::Unassigned => CaseFilter {
            unassigned: true,
            ..open
        },
        Worklist::ContactProblems => CaseFilter {
            contact_problem: Some(true),
            ..open
        },
        Worklist::Critical => CaseFilter {
            tier: Some(Tier::T0),
            ..open
        },
        Worklist::Overdue | Worklist::DueToday | Worklist::Due48h => open,
    }
}

/// Every worklist's size for `p`, in order, and how many of their notices could not be
/// delivered.
pub fn counts(
    conn: &mut AnyConnection,
    p: &Principal,
    now: DateTime<Utc>,
) -> Result<(Vec<(Worklist, i64)>, i64), AppError> {
    let scope = p.scope();
    let lists = Worklist::ALL
        .into_iter()
        .map(|w| Ok((w, case::count(conn, &scope, &filter(w, now))?)))
        .collect::<Result<Vec<_>, AppError>>()?;
    let failed = notification::count_status(conn, &scope, Status::Failed.as_str())?;
    Ok((lists, failed))
}

/// One worklist for `p` with `extra` conditions (hospital, programme, tier, assignee): its size
/// and first `limit` cases, soonest due first; the cases shown are audited as read.
pub fn page(
    conn: &mut AnyConnection,
    p: &Principal,
    list: Worklist,
    extra: impl Fn(CaseFilter) -> CaseFilter,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<(i64, Vec<Case>), AppError> {
    let scope = p.scope();
    let f = extra(filter(list, now));
    let rows = case::list(conn, &scope, &f, limit)?;
    crate::services::admin::audit::list_read(conn, p, "case", rows.iter().map(|r| r.id), now)?;
    Ok((case::count(conn, &scope, &f)?, rows))
}

/// A case as a worklist row shows it: the case with its infant's reference, its hospital's
/// name, its assignee's name and its latest contact attempt.
#[derive(Debug, Clone)]
pub struct BoardRow {
    /// The case.
    pub case: Case,
    /// `HOSPITALCODE-MRN` of the infant.
    pub infant_ref: String,
    /// The hospital's name.
    pub hospital: String,
    /// The assignee's display name.
    pub assignee: Option<String>,
    /// When the family was last tried, and how it went.
    pub last_contact: Option<(DateTime<Utc>, AttemptOutcome)>,
}

/// [`page`] with each case's row details, for the console.
pub fn board(
    conn: &mut AnyConnection,
    p: &Principal,
    list: Worklist,
    extra: impl Fn(CaseFilter) -> CaseFilter,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<(i64, Vec<BoardRow>), AppError> {
    let (count, cases) = page(conn, p, list, extra, limit, now)?;
    let ids: Vec<CaseId> = cases.iter().map(|c| c.id).collect();
    let mut refs = case::infant_refs(conn, &ids)?;
    let mut last = contact::latest_of(conn, &ids)?;
    let hospitals: HashMap<HospitalId, String> =
        hospital::list(conn, &Scope::unrestricted(), None)?
            .into_iter()
            .map(|h| (h.id, h.name))
            .collect();
    let users: HashMap<UserId, String> = if cases.iter().any(|c| c.assignee.is_some()) {
        user::list(conn)?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect()
    } else {
        HashMap::new()
    };
    let rows = cases
        .into_iter()
        .map(|c| BoardRow {
            infant_ref: refs.remove(&c.id).unwrap_or_default(),
            hospital: hospitals.get(&c.hospital_id).cloned().unwrap_or_default(),
            assignee: c.assignee.and_then(|a| users.get(&a).cloned()),
            last_contact: last.remove(&c.id).map(|(at, o)| (at.utc(), o)),
            case: c,
        })
        .collect();
    Ok((count, rows))
}
