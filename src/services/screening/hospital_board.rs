//! What a maternity hospital sees of its own work (the console's hospital view): its births
//! this month with, per programme, whether the screen is done or by when it is due; its open
//! cases, the unsatisfactory cards awaiting recollection apart. Scoped like every read.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};

use crate::db::AnyConnection;
use crate::db::models::follow_up::case::{self, Case, CaseFilter};
use crate::db::models::quality::facts;
use crate::db::models::screening::infant::{self, Infant};
use crate::db::types::UtcMicros;
use crate::domain::case::Reason;
use crate::domain::catalogue::{Catalogue, Programme};
use crate::domain::principal::{Principal, Scope};
use crate::error::AppError;
use crate::services::admin::audit;

/// Births listed at most.
pub const BIRTHS: i64 = 500;
/// Open cases listed at most.
pub const CASES: i64 = 200;

/// One birth with its screens.
#[derive(Debug, Clone)]
pub struct Birth {
    /// The infant.
    pub infant: Infant,
    /// Per programme (`Programme::ALL` order): screened, and the age limit's deadline.
    pub screens: Vec<(Programme, bool, DateTime<Utc>)>,
}

/// The hospital view's rows.
#[derive(Debug, Clone, Default)]
pub struct Board {
    /// Births this month, latest first.
    pub births: Vec<Birth>,
    /// Open cases for unsatisfactory or too-early cards (a new card is needed).
    pub recollect: Vec<Case>,
    /// Other open cases, soonest deadline first.
    pub cases: Vec<Case>,
}

/// The first instant of `now`'s month in China Standard Time.
pub fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let day = crate::services::admin::versions::local_day(now);
    let first = day.with_day(1).unwrap_or(day);
    chrono::FixedOffset::east_opt(8 * 3600)
        .and_then(|tz| {
            tz.from_local_datetime(&first.and_hms_opt(0, 0, 0)?)
                .single()
        })
        .map_or(now, |t| t.with_timezone(&Utc))
}

/// The age by which a programme's screen is due.
pub fn screen_age(cat: &Catalogue, p: Programme) -> Duration {
    match p {
        Programme::Dbs => Duration::days(cat.specimen.normal_collection_max_days),
        Programme::Hear => Duration::days(cat.hearing.initial_by_days),
        Programme::Cchd => Duration::hours(cat.cchd.screen_by_hours),
    }
}

/// Loads the view for `scope` at `now`; the infants listed are audited as read.
pub fn board(
    conn: &mut AnyConnection,
    cat: &Catalogue,
    who: &Principal,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<Board, AppError> {
    let born = infant::born_between(
        conn,
        scope,
        UtcMicros::new(month_start(now)),
        UtcMicros::new(now + Duration::minutes(1)),
        BIRTHS,
    )?;
    let ids: Vec<_> = born.iter().map(|i| i.id).collect();
    let screened = facts::screened_of(conn, &ids)?;
    let births = born
        .into_iter()
        .map(|i| {
            let done = screened.get(&i.id).copied().unwrap_or_default();
            let screens = Programme::ALL
                .iter()
                .enumerate()
                .map(|(k, p)| (*p, done[k], i.birth_at.utc() + screen_age(cat, *p)))
                .collect();
            Birth { infant: i, screens }
        })
        .collect::<Vec<_>>();
    let open = case::list(
        conn,
        scope,
        &CaseFilter {
            open_only: true,
            by_deadline: true,
            ..Default::default()
        },
        CASES,
    )?;
    let (recollect, cases): (Vec<Case>, Vec<Case>) = open
        .into_iter()
        .partition(|k| k.reason == Reason::Recollect);
    audit::list_read(
        conn,
        who,
        "infant",
        births
            .iter()
            .map(|b| b.infant.id)
            .chain(recollect.iter().chain(&cases).map(|k| k.infant_id)),
        now,
    )?;
    Ok(Board {
        births,
        recollect,
        cases,
    })
}
