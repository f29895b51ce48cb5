//! `management_episodes`: one infant, one condition, from registration to closure.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{hospitals, management_episodes};
use crate::db::types::{Json, UtcMicros};
use crate::domain::catalogue::Programme;
use crate::domain::ids::{CaseId, EpisodeId, HospitalId, InfantId};
use crate::domain::management::{Closure, EpisodeState, Origin};
use crate::domain::principal::Scope;

type Db = <AnyConnection as Connection>::Backend;

/// An episode row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = management_episodes)]
pub struct Episode {
    pub id: EpisodeId,
    pub infant_id: InfantId,
    pub hospital_id: HospitalId,
    pub case_id: Option<CaseId>,
    pub origin: Origin,
    pub condition_code: String,
    pub plan_version: String,
    pub plan_code: String,
    pub state: EpisodeState,
    pub open_key: Option<String>,
    pub centre: String,
    pub diagnosed_at: UtcMicros,
    pub treatment_due_at: Option<UtcMicros>,
    pub treatment_started_at: Option<UtcMicros>,
    pub next_due_at: Option<UtcMicros>,
    pub flags: i32,
    pub reported_at: Option<UtcMicros>,
    pub report_reference: Option<String>,
    pub close_reason: Option<String>,
    pub closure: Option<Json<Closure>>,
    pub closed_at: Option<UtcMicros>,
    pub version: i32,
    pub created_by: String,
    pub created_at: UtcMicros,
    pub updated_at: UtcMicros,
    /// When staff were told the treatment-start target passed without a treatment.
    pub treatment_escalated_at: Option<UtcMicros>,
}

/// The key that keeps one open episode per infant and condition.
pub fn open_key(infant: InfantId, condition: &str) -> String {
    format!("{infant}:{condition}")
}

/// Changes to an episode (`None` leaves a column alone).
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = management_episodes)]
pub struct EpisodeUpdate {
    pub hospital_id: Option<HospitalId>,
    pub state: Option<EpisodeState>,
    pub open_key: Option<Option<String>>,
    pub centre: Option<String>,
    pub treatment_started_at: Option<Option<UtcMicros>>,
    pub flags: Option<i32>,
    pub reported_at: Option<Option<UtcMicros>>,
    pub report_reference: Option<Option<String>>,
    pub close_reason: Option<Option<String>>,
    pub closure: Option<Option<Json<Closure>>>,
    pub closed_at: Option<Option<UtcMicros>>,
    pub updated_at: Option<UtcMicros>,
}

/// Inserts an episode.
pub fn insert(conn: &mut AnyConnection, e: &Episode) -> QueryResult<()> {
    diesel::insert_into(management_episodes::table)
        .values(e)
        .execute(conn)
        .map(|_| ())
}

/// The open episode with `key`, if any.
pub fn find_open(conn: &mut AnyConnection, key: &str) -> QueryResult<Option<EpisodeId>> {
    management_episodes::table
        .filter(management_episodes::open_key.eq(key))
        .select(management_episodes::id)
        .first(conn)
        .optional()
}

/// One episode the scope may see: probed by its key alone, the scope checked on the row (see
/// `infant::get`).
pub fn get(conn: &mut AnyConnection, scope: &Scope, id: EpisodeId) -> QueryResult<Option<Episode>> {
    let row: Option<Episode> = crate::by_key!(
        conn,
        management_episodes::table
            .find(id)
            .select(Episode::as_select())
    )?;
    Ok(row.filter(|e| scope.allows(e.hospital_id)))
}

/// The episodes of an infant.
pub fn of_infant(
    conn: &mut AnyConnection,
    scope: &Scope,
    infant: InfantId,
) -> QueryResult<Vec<Episode>> {
    let q = management_episodes::table
        .filter(management_episodes::infant_id.eq(infant))
        .into_boxed::<Db>();
    crate::scoped!(q, scope, management_episodes::hospital_id)
        .order(management_episodes::created_at.asc())
        .select(Episode::as_select())
        .load(conn)
}

/// Applies `form` and bumps the version when the episode is still at `version`; returns the
/// rows changed (0: someone changed it first).
pub fn update_if_version(
    conn: &mut AnyConnection,
    id: EpisodeId,
    version: i32,
    form: &EpisodeUpdate,
) -> QueryResult<usize> {
    diesel::update(
        management_episodes::table
            .filter(management_episodes::id.eq(id))
            .filter(management_episodes::version.eq(version)),
    )
    .set((form, management_episodes::version.eq(version + 1)))
    .execute(conn)
}

/// Up to `limit` open episodes whose treatment-start target passed by `now` without a treatment
/// and without an escalation yet (a partial index holds exactly these), locked for this sweep
/// on PostgreSQL (rows another sweep holds are skipped; SQLite's writer lock does the same).
pub fn claim_treatment_overdue(
    conn: &mut AnyConnection,
    now: UtcMicros,
    limit: i64,
) -> QueryResult<Vec<Episode>> {
    use management_episodes as e;
    macro_rules! base {
        () => {
            e::table
                .filter(e::treatment_due_at.le(now))
                .filter(e::treatment_started_at.is_null())
                .filter(e::treatment_escalated_at.is_null())
                .filter(e::state.ne(EpisodeState::Closed))
                .order((e::treatment_due_at.asc(), e::id.asc()))
                .limit(limit)
                .select(Episode::as_select())
        };
    }
    match conn {
        AnyConnection::Postgresql(pg) => base!().for_update().skip_locked().load(pg),
        AnyConnection::Sqlite(s) => base!().load(s),
    }
}

/// Marks these episodes' treatment escalation as done at `at`; returns how many were still
/// unmarked (fewer than asked: another sweep marked some first).
pub fn mark_treatment_escalated(
    conn: &mut AnyConnection,
    ids: &[EpisodeId],
    at: UtcMicros,
) -> QueryResult<usize> {
    use management_episodes as e;
    diesel::update(
        e::table
            .filter(e::id.eq_any(ids))
            .filter(e::treatment_escalated_at.is_null()),
    )
    .set(e::treatment_escalated_at.eq(at))
    .execute(conn)
}

/// Sets an open episode's next deadline: treatment start while it has not started, else the
/// earliest window end of its pending contacts; none once closed.
pub fn refresh_next_due(conn: &mut AnyConnection, id: EpisodeId) -> QueryResult<()> {
    use crate::db::schema::management_contacts as c;
    use management_episodes as e;
    let (state, due, started): (EpisodeState, Option<UtcMicros>, Option<UtcMicros>) = e::table
        .find(id)
        .select((e::state, e::treatment_due_at, e::treatment_started_at))
        .first(conn)?;
    let next = if state == EpisodeState::Closed {
        None
    } else if started.is_none() && due.is_some() {
        due
    } else {
        c::table
            .filter(c::episode_id.eq(id))
            .filter(c::done_at.is_null())
            .filter(c::cancelled_at.is_null())
            .select(diesel::dsl::min(c::window_end))
            .first::<Option<UtcMicros>>(conn)?
    };
    diesel::update(e::table.find(id))
        .set(e::next_due_at.eq(next))
        .execute(conn)
        .map(|_| ())
}

/// Sets every episode's next deadline in one statement (after rows were written in bulk).
pub fn fill_next_due(conn: &mut AnyConnection) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE management_episodes SET next_due_at = CASE WHEN state = 'closed' THEN NULL \
         WHEN treatment_started_at IS NULL AND treatment_due_at IS NOT NULL THEN treatment_due_at \
         ELSE (SELECT MIN(c.window_end) FROM management_contacts c WHERE c.episode_id = \
         management_episodes.id AND c.done_at IS NULL AND c.cancelled_at IS NULL) END",
    )
    .execute(conn)
}

/// List filters.
#[derive(Debug, Default, Clone)]
pub struct EpisodeFilter {
    pub condition: Option<String>,
    pub hospital_id: Option<HospitalId>,
    pub district: Option<String>,
    pub state: Option<EpisodeState>,
    pub open_only: bool,
    /// Open and past its next deadline at this time.
    pub overdue_at: Option<UtcMicros>,
    /// Next deadline before this time (worklist).
    pub due_before: Option<UtcMicros>,
    pub flagged: Option<bool>,
    pub infant_id: Option<InfantId>,
    pub programme: Option<Programme>,
    /// Worklist order: (next_due_at, id) after this key; else id after this one.
    pub after_due: Option<(UtcMicros, String)>,
    pub after_id: Option<String>,
    /// Order by next deadline (worklist) instead of by id.
    pub by_due: bool,
}

/// One page of episodes the scope may see.
pub fn list(
    conn: &mut AnyConnection,
    scope: &Scope,
    f: &EpisodeFilter,
    limit: i64,
) -> QueryResult<Vec<Episode>> {
    use management_episodes as e;
    let mut q = e::table.into_boxed::<Db>();
    q = crate::scoped!(q, scope, e::hospital_id);
    if f.open_only || f.overdue_at.is_some() || f.due_before.is_some() || f.by_due {
        // Literal, as in the partial indexes' predicate.
        q = q.filter(crate::db::sql::fixed::<diesel::sql_types::Bool>(
            "management_episodes.state <> 'closed'",
        ));
    }
    if let Some(v) = &f.condition {
        q = q.filter(e::condition_code.eq(v));
    }
    if let Some(v) = f.hospital_id {
        q = q.filter(e::hospital_id.eq(v));
    }
    if let Some(d) = &f.district {
        q = q.filter(
            e::hospital_id.eq_any(
                hospitals::table
                    .filter(hospitals::district.eq(d))
                    .select(hospitals::id),
            ),
        );
    }
    if let Some(v) = f.state {
        q = q.filter(e::state.eq(v));
    }
    if let Some(t) = f.overdue_at {
        q = q.filter(e::next_due_at.lt(t));
    }
    if let Some(t) = f.due_before {
        q = q.filter(e::next_due_at.le(t));
    }
    match f.flagged {
        Some(true) => q = q.filter(e::flags.gt(0)),
        Some(false) => q = q.filter(e::flags.eq(0)),
        None => {}
    }
    if let Some(v) = f.infant_id {
        q = q.filter(e::infant_id.eq(v));
    }
    if f.by_due {
        q = q.filter(e::next_due_at.is_not_null());
        if let Some((t, id)) = &f.after_due {
            q = q.filter(
                e::next_due_at
                    .gt(*t)
                    .or(e::next_due_at.eq(*t).and(e::id.gt(id.clone()))),
            );
        }
        q = q.order((e::next_due_at.asc(), e::id.asc()));
    } else {
        if let Some(id) = &f.after_id {
            q = q.filter(e::id.gt(id.clone()));
        }
        q = q.order(e::id.asc());
    }
    q.limit(limit).select(Episode::as_select()).load(conn)
}
