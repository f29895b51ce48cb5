//! `cases` and `case_events`: follow-up cases and their append-only timeline. Reads take a
//! [`Scope`]; updates are optimistic (they name the version they expect).

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::models::admin::audit::AuditEntry;
use crate::db::schema::{case_events, cases};
use crate::db::types::{Json, UtcMicros};
use crate::domain::case::{CaseOutcome, CaseState, EntryKind, Reason};
use crate::domain::catalogue::{Programme, Tier};
use crate::domain::escalation::Rung;
use crate::domain::ids::{CaseId, HospitalId, InfantId, UserId};
use crate::domain::principal::Scope;

/// A case row. `open_key` is `infant|programme|reason` while the case is open (unique), NULL
/// once resolved; `version` increases with every change (the ETag).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = cases)]
pub struct Case {
    pub id: CaseId,
    pub infant_id: InfantId,
    pub hospital_id: HospitalId,
    pub programme: Programme,
    pub reason: Reason,
    pub state: CaseState,
    pub tier: Tier,
    /// Suspected condition codes.
    pub suspected: Json<Vec<String>>,
    pub catalogue_version: String,
    pub policy_version: String,
    pub first_contact_due_at: UtcMicros,
    pub recall_due_at: UtcMicros,
    pub assignee: Option<UserId>,
    /// How it ended, once resolved.
    pub outcome: Option<Json<CaseOutcome>>,
    pub open_key: Option<String>,
    pub version: i32,
    pub opened_at: UtcMicros,
    pub updated_at: UtcMicros,
    pub resolved_at: Option<UtcMicros>,
    /// A contact attempt found the family's details wrong or the family gone.
    pub contact_problem: bool,
    /// Booked recall visit.
    pub appointment_at: Option<UtcMicros>,
    /// Where the recheck appointment is.
    pub appointment_place: Option<String>,
    /// The escalation rung due next (`L0`…`L4`), NULL when none is left or the case is resolved.
    pub next_rung: Option<Rung>,
    /// When it is due.
    pub next_rung_at: Option<UtcMicros>,
    /// The earliest pending deadline: first contact while nobody has been reached, then the
    /// recall. Set by [`insert`] ([`next_due`]) and kept by [`update_if_version`] and
    /// [`fill_next_due`] ([`keep_next_due`]); a test holds the two spellings of the rule equal.
    pub next_due_at: Option<UtcMicros>,
}

/// Changes to a case.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = cases)]
pub struct CaseUpdateForm {
    pub state: Option<CaseState>,
    pub tier: Option<Tier>,
    pub suspected: Option<Json<Vec<String>>>,
    pub first_contact_due_at: Option<UtcMicros>,
    pub recall_due_at: Option<UtcMicros>,
    pub assignee: Option<Option<UserId>>,
    pub outcome: Option<Option<Json<CaseOutcome>>>,
    pub open_key: Option<Option<String>>,
    pub updated_at: Option<UtcMicros>,
    pub resolved_at: Option<Option<UtcMicros>>,
    pub contact_problem: Option<bool>,
    pub appointment_at: Option<Option<UtcMicros>>,
    pub appointment_place: Option<Option<String>>,
    pub next_rung: Option<Option<Rung>>,
    pub next_rung_at: Option<Option<UtcMicros>>,
}

/// One timeline entry.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = case_events)]
pub struct CaseEventRow {
    pub id: String,
    pub case_id: CaseId,
    pub kind: EntryKind,
    pub from_state: Option<CaseState>,
    pub to_state: Option<CaseState>,
    /// Detail (triggering result, outcome, note…).
    pub detail: Json<serde_json::Value>,
    pub actor: String,
    pub at: UtcMicros,
}

/// List filters.
#[derive(Debug, Default, Clone)]
pub struct CaseFilter {
    pub state: Option<CaseState>,
    pub open_only: bool,
    pub programme: Option<Programme>,
    pub tier: Option<Tier>,
    pub hospital_id: Option<HospitalId>,
    pub infant_id: Option<String>,
    pub assignee: Option<String>,
    pub unassigned: bool,
    pub contact_problem: Option<bool>,
    /// A suspected condition code.
    pub condition: Option<String>,
    pub recall_due_from: Option<UtcMicros>,
    pub recall_due_before: Option<UtcMicros>,
    pub opened_from: Option<UtcMicros>,
    pub opened_before: Option<UtcMicros>,
    /// The earliest pending deadline (first contact while nobody was reached, else recall) at
    /// or after this time.
    pub deadline_from: Option<UtcMicros>,
    /// The earliest pending deadline before this time.
    pub deadline_before: Option<UtcMicros>,
    /// Order by the earliest pending deadline instead of the recall due time (first page only).
    pub by_deadline: bool,
    /// Rows after this (recall_due_at, id) position.
    pub after: Option<(UtcMicros, String)>,
}

/// Inserts a case, its `next_due_at` set from its state and deadlines in the insert itself
/// ([`next_due`], the row's twin of [`keep_next_due`]), with its first timeline entry `opened`
/// and its creation's `audit` entry, and returns it as stored; unless a case with the row's `open_key` is open: then nothing is
/// written and `None` is returned (on PostgreSQL once the transaction that opened it, if still
/// running, has ended). One statement on PostgreSQL (the case, its infant's facts flags, its
/// timeline entry and its audit entry) where a lookup and three inserts took four.
pub fn insert_unless_open(
    conn: &mut AnyConnection,
    row: Case,
    opened: &CaseEventRow,
    audit: &AuditEntry,
) -> QueryResult<Option<Case>> {
    use crate::db::models::admin::audit as audit_log;
    use crate::db::models::quality::{facts, touch};
    let row = with_next_due(row);
    let insert = diesel::insert_into(cases::table)
        .values(&row)
        .on_conflict(cases::open_key)
        .do_nothing();
    // The case and its infant's facts flags (one statement on PostgreSQL).
    let then = touch::new_case(&row);
    let (event, audited) = (EntryFromInserted(opened), audit_log::IfInserted(audit));
    let (inserted, changed, rode) =
        crate::db::sql::insert_then_riding(conn, insert, then.as_ref(), &[&event, &audited])?;
    if inserted == 0 {
        return Ok(None);
    }
    if !rode {
        insert_event(conn, opened)?;
        audit_log::insert(conn, audit)?;
    }
    if changed == Some(0) {
        // The infant has no facts row to update: recomputed (see `touch::new_case`).
        facts::touch(conn, &[row.infant_id])?;
    }
    Ok(Some(row))
}

/// A timeline entry written once per row of `inserted` (a case's insert, which wrote one row or
/// none): [`insert_unless_open`]'s entry riding in its insert on PostgreSQL.
struct EntryFromInserted<'a>(&'a CaseEventRow);

impl diesel::query_builder::QueryId for EntryFromInserted<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for EntryFromInserted<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Nullable, Text, Timestamp};
        let e = self.0;
        out.push_sql(
            "INSERT INTO case_events (id, case_id, kind, from_state, to_state, detail, actor, at) \
             SELECT ",
        );
        out.push_bind_param::<Text, _>(&e.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&e.case_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&e.kind)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&e.from_state)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&e.to_state)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&e.detail)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&e.actor)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&e.at)?;
        out.push_sql(" FROM inserted");
        Ok(())
    }
}

/// `row` with its `next_due_at` set from its state and deadlines ([`next_due`]), as
/// [`insert_unless_open`] stores it.
pub fn with_next_due(row: Case) -> Case {
    Case {
        next_due_at: Some(next_due(
            row.state,
            row.first_contact_due_at,
            row.recall_due_at,
        )),
        ..row
    }
}

/// A case's earliest pending deadline: the first-contact deadline while the case is `open`
/// (nobody reached yet) and it falls before the recall, else the recall. The rule of
/// [`keep_next_due`], for a row about to be inserted (test: `insert_and_update_agree`).
pub fn next_due(state: CaseState, first_contact: UtcMicros, recall: UtcMicros) -> UtcMicros {
    if state == CaseState::Open && first_contact < recall {
        first_contact
    } else {
        recall
    }
}

/// The open case with this key.
pub fn find_open(conn: &mut AnyConnection, open_key: &str) -> QueryResult<Option<Case>> {
    crate::by_key!(
        conn,
        cases::table
            .filter(cases::open_key.eq(open_key))
            .select(Case::as_select())
    )
}

/// Whether the infant has an open case of `programme`, whatever its reason (a programme's open
/// case covers a missing specimen too: one recall, one ladder).
pub fn has_open_of_programme(
    conn: &mut AnyConnection,
    infant_id: InfantId,
    programme: Programme,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        cases::table
            .filter(cases::infant_id.eq(infant_id))
            .filter(cases::programme.eq(programme))
            .filter(cases::open_key.is_not_null()),
    ))
    .get_result(conn)
}

/// The ids of an infant's open cases, oldest first.
pub fn open_ids_of_infant(
    conn: &mut AnyConnection,
    infant_id: InfantId,
) -> QueryResult<Vec<CaseId>> {
    cases::table
        .filter(cases::infant_id.eq(infant_id))
        .filter(cases::open_key.is_not_null())
        .order(cases::opened_at.asc())
        .select(cases::id)
        .load(conn)
}

/// `HOSPITALCODE-MRN` of each case's infant (what staff quote; never a name), by case id.
pub fn infant_refs(
    conn: &mut AnyConnection,
    case_ids: &[CaseId],
) -> QueryResult<std::collections::HashMap<CaseId, String>> {
    let by_case: Vec<(CaseId, InfantId)> = cases::table
        .filter(cases::id.eq_any(case_ids))
        .select((cases::id, cases::infant_id))
        .load(conn)?;
    let infant_ids: Vec<InfantId> = by_case.iter().map(|(_, i)| *i).collect();
    let refs = crate::db::models::screening::infant::refs(conn, &infant_ids)?;
    Ok(by_case
        .into_iter()
        .filter_map(|(case, infant)| refs.get(&infant).map(|r| (case, r.clone())))
        .collect())
}

/// A case within `scope`: probed by its key alone, the scope checked on the row (see
/// `infant::get`).
pub fn get(conn: &mut AnyConnection, scope: &Scope, id: CaseId) -> QueryResult<Option<Case>> {
    let row: Option<Case> = crate::by_key!(conn, cases::table.find(id).select(Case::as_select()))?;
    Ok(row.filter(|c| scope.allows(c.hospital_id)))
}

type Db = <AnyConnection as Connection>::Backend;

/// A condition on cases.
type CaseCondition =
    Box<dyn diesel::BoxableExpression<cases::table, Db, SqlType = diesel::sql_types::Bool>>;

/// Sets `next_due_at` of the cases `which` selects to their earliest pending deadline: the
/// first-contact deadline while the case is `open` (nobody reached yet), else the recall. The
/// rule in SQL; [`next_due`] is its twin for a row being inserted (test `insert_and_update_agree`).
fn keep_next_due(conn: &mut AnyConnection, which: CaseCondition) -> QueryResult<usize> {
    let next = diesel::dsl::sql::<diesel::sql_types::Timestamp>(
        "CASE WHEN cases.state = 'open' AND cases.first_contact_due_at < cases.recall_due_at \
         THEN cases.first_contact_due_at ELSE cases.recall_due_at END",
    );
    diesel::update(cases::table.filter(which))
        .set(cases::next_due_at.eq(next.nullable()))
        .execute(conn)
}

/// Sets `next_due_at` of cases written in bulk without it (the data generator).
pub fn fill_next_due(conn: &mut AnyConnection) -> QueryResult<usize> {
    keep_next_due(conn, Box::new(cases::next_due_at.is_null()))
}

/// The filtered query shared by [`list`] and [`count`].
fn filtered<'a>(scope: &Scope, f: &'a CaseFilter) -> cases::BoxedQuery<'a, Db> {
    let mut q = cases::table.into_boxed();
    q = crate::scoped!(q, scope, cases::hospital_id);
    if let Some(v) = &f.state {
        q = q.filter(cases::state.eq(*v));
    }
    if f.open_only {
        // Written as literal SQL, identical to the partial index's predicate, so both planners
        // can use `cases_open_due` (a bound parameter would hide the match from SQLite).
        q = q.filter(crate::db::sql::fixed::<diesel::sql_types::Bool>(
            "cases.state <> 'resolved'",
        ));
    }
    if let Some(v) = &f.programme {
        q = q.filter(cases::programme.eq(*v));
    }
    if let Some(v) = &f.tier {
        q = q.filter(cases::tier.eq(*v));
    }
    if let Some(v) = &f.hospital_id {
        q = q.filter(cases::hospital_id.eq(v));
    }
    if let Some(v) = &f.infant_id {
        q = q.filter(cases::infant_id.eq(v));
    }
    if let Some(v) = &f.assignee {
        q = q.filter(cases::assignee.eq(v));
    }
    if f.unassigned {
        q = q.filter(cases::assignee.is_null());
    }
    if let Some(v) = f.contact_problem {
        q = q.filter(cases::contact_problem.eq(v));
    }
    if let Some(c) = &f.condition {
        // `suspected` is a JSON array of codes: match the quoted code.
        q = q.filter(cases::suspected.like(format!("%\"{c}\"%")));
    }
    if let Some(t) = f.recall_due_from {
        q = q.filter(cases::recall_due_at.ge(t));
    }
    if let Some(t) = f.recall_due_before {
        q = q.filter(cases::recall_due_at.lt(t));
    }
    if let Some(t) = f.deadline_from {
        q = q.filter(cases::next_due_at.ge(t));
    }
    if let Some(t) = f.deadline_before {
        q = q.filter(cases::next_due_at.lt(t));
    }
    if let Some(t) = f.opened_from {
        q = q.filter(cases::opened_at.ge(t));
    }
    if let Some(t) = f.opened_before {
        q = q.filter(cases::opened_at.lt(t));
    }
    q
}

/// Cases within `scope`, by recall due time then id, at most `limit`.
pub fn list(
    conn: &mut AnyConnection,
    scope: &Scope,
    f: &CaseFilter,
    limit: i64,
) -> QueryResult<Vec<Case>> {
    let mut q = filtered(scope, f);
    // The cursor is the last row's sort key: the earliest pending deadline for the deadline
    // lists, else the recall due time; then the id.
    if let Some((t, id)) = &f.after {
        q = if f.by_deadline {
            q.filter(
                cases::next_due_at
                    .gt(*t)
                    .or(cases::next_due_at.eq(*t).and(cases::id.gt(id.clone()))),
            )
        } else {
            q.filter(
                cases::recall_due_at
                    .gt(*t)
                    .or(cases::recall_due_at.eq(*t).and(cases::id.gt(id.clone()))),
            )
        };
    }
    if f.by_deadline {
        return q
            .order((cases::next_due_at.asc(), cases::id.asc()))
            .limit(limit)
            .select(Case::as_select())
            .load(conn);
    }
    q.order((cases::recall_due_at.asc(), cases::id.asc()))
        .limit(limit)
        .select(Case::as_select())
        .load(conn)
}

/// How many cases match (the cursor is ignored).
pub fn count(conn: &mut AnyConnection, scope: &Scope, f: &CaseFilter) -> QueryResult<i64> {
    filtered(scope, f).count().get_result(conn)
}

/// Applies `form` only if the case is still at `version`; returns rows changed (0 = stale).
pub fn update_if_version(
    conn: &mut AnyConnection,
    id: CaseId,
    version: i32,
    form: &CaseUpdateForm,
) -> QueryResult<usize> {
    let n = diesel::update(
        cases::table
            .filter(cases::id.eq(id))
            .filter(cases::version.eq(version)),
    )
    .set((form, cases::version.eq(version + 1)))
    .execute(conn)?;
    if n > 0
        && (form.state.is_some()
            || form.first_contact_due_at.is_some()
            || form.recall_due_at.is_some())
    {
        keep_next_due(conn, Box::new(cases::id.eq(id)))?;
    }
    Ok(n)
}

/// Appends a timeline entry.
pub fn insert_event(conn: &mut AnyConnection, row: &CaseEventRow) -> QueryResult<()> {
    diesel::insert_into(case_events::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// A case's timeline, oldest first.
pub fn events_of(conn: &mut AnyConnection, case_id: CaseId) -> QueryResult<Vec<CaseEventRow>> {
    case_events::table
        .filter(case_events::case_id.eq(case_id))
        .order((case_events::at.asc(), case_events::id.asc()))
        .select(CaseEventRow::as_select())
        .load(conn)
}

/// Clears the contact-problem flag of an infant's open cases (its details were corrected).
pub fn clear_contact_problem(
    conn: &mut AnyConnection,
    infant_id: InfantId,
    now: UtcMicros,
) -> QueryResult<usize> {
    diesel::update(
        cases::table
            .filter(cases::infant_id.eq(infant_id))
            .filter(cases::contact_problem.eq(true)),
    )
    .set((
        cases::contact_problem.eq(false),
        cases::updated_at.eq(now),
        cases::version.eq(cases::version + 1),
    ))
    .execute(conn)
}

/// States in which the family still has a recall to come to.
const AWAITING_RECALL: [CaseState; 3] = [
    CaseState::Open,
    CaseState::FamilyContacted,
    CaseState::RecallScheduled,
];

/// Open cases awaiting recall with a visit booked in `[from, to)`, soonest first.
pub fn visits_booked(
    conn: &mut AnyConnection,
    from: UtcMicros,
    to: UtcMicros,
    limit: i64,
) -> QueryResult<Vec<(CaseId, Option<UtcMicros>)>> {
    cases::table
        .filter(cases::open_key.is_not_null())
        .filter(cases::state.eq_any(AWAITING_RECALL))
        .filter(cases::appointment_at.gt(from))
        .filter(cases::appointment_at.lt(to))
        .order(cases::appointment_at.asc())
        .limit(limit)
        .select((cases::id, cases::appointment_at))
        .load(conn)
}

/// Cases awaiting recall whose recall was due before `now`, most overdue first.
pub fn overdue_recalls(
    conn: &mut AnyConnection,
    now: UtcMicros,
    limit: i64,
) -> QueryResult<Vec<(CaseId, UtcMicros)>> {
    cases::table
        .filter(cases::state.eq_any(AWAITING_RECALL))
        .filter(cases::recall_due_at.lt(now))
        .order(cases::recall_due_at.asc())
        .limit(limit)
        .select((cases::id, cases::recall_due_at))
        .load(conn)
}

/// One hospital's unresolved cases for its daily digest.
#[derive(Debug, Clone, Default)]
pub struct HospitalDigest {
    /// Unresolved cases.
    pub open: i64,
    /// Of which past their recall due time.
    pub overdue: i64,
    /// The first `lines` by recall due time: id, tier, programme, recall due.
    pub rows: Vec<(CaseId, Tier, Programme, UtcMicros)>,
}

/// The digest of `hospital_id`'s unresolved cases at `now`.
pub fn hospital_digest(
    conn: &mut AnyConnection,
    hospital_id: HospitalId,
    now: UtcMicros,
    lines: i64,
) -> QueryResult<HospitalDigest> {
    let open = || {
        cases::table
            .filter(cases::hospital_id.eq(hospital_id))
            .filter(cases::state.ne(CaseState::Resolved))
    };
    let open_count: i64 = open().count().get_result(conn)?;
    if open_count == 0 {
        return Ok(HospitalDigest::default());
    }
    Ok(HospitalDigest {
        open: open_count,
        overdue: open()
            .filter(cases::recall_due_at.lt(now))
            .count()
            .get_result(conn)?,
        rows: open()
            .order(cases::recall_due_at.asc())
            .limit(lines)
            .select((
                cases::id,
                cases::tier,
                cases::programme,
                cases::recall_due_at,
            ))
            .load(conn)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::query_builder::QueryFragment;

    #[test]
    fn worklist_queries_with_the_open_predicate_stay_cacheable() {
        let f = CaseFilter {
            open_only: true,
            deadline_before: Some(UtcMicros::new(chrono::Utc::now())),
            ..Default::default()
        };
        let count = filtered(&Scope::unrestricted(), &f).count();
        let count: &dyn QueryFragment<Db> = &count;
        for backend in [
            crate::db::MultiBackend::Postgresql(diesel::pg::Pg),
            crate::db::MultiBackend::Sqlite(diesel::sqlite::Sqlite),
        ] {
            assert!(count.is_safe_to_cache_prepared(&backend).unwrap());
        }
    }
}
