//! The quality facts tables (`quality_infant_facts`, `quality_card_facts`): per infant and per
//! card, the event times and flags the quality indicators count, recomputed from the source
//! tables. Every write that can change them (infant, card, interpretation, hearing or heart
//! screen, consent, case, merge) calls [`touch`] in its own transaction, so the report never
//! reads stale facts; [`refresh`] recomputes a range of births and [`refresh_counting`] also
//! counts what had drifted (`services::quality::facts` fills the tables at start-up when they
//! are missing, and its `quality_facts` job recomputes everything weekly as a safety net).
//!
//! The same SQL runs on both databases: aggregates per table, joined back to the infant.

use std::cell::RefCell;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Text, Timestamp};

use crate::db::sql::{CachedById, numbered};
use crate::db::types::UtcMicros;
use crate::db::{AnyConnection, Backend, MultiBackend};
use crate::domain::ids::{CardId, InfantId};

/// Which infants to recompute.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// These infants.
    Infants(&'a [InfantId]),
    /// The infants born in `[from, to)`.
    Born(DateTime<Utc>, DateTime<Utc>),
    /// One infant given as the first parameter (`$1`) of a prepared statement.
    Param,
}

impl Scope<'_> {
    /// The condition that `col` (an infant id column) is in scope; its values are parameters
    /// (`$1`, …), bound by [`Scope::query`].
    fn on(&self, col: &str) -> String {
        match self {
            Scope::Infants([]) => "1 = 0".into(),
            Scope::Infants(ids) => {
                let list: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
                format!("{col} IN ({})", list.join(","))
            }
            Scope::Param => format!("{col} = $1"),
            Scope::Born(..) => {
                format!(
                    "{col} IN (SELECT b.id FROM infants b WHERE b.birth_at >= $1 AND b.birth_at < $2)"
                )
            }
        }
    }

    /// `sql` (written with [`Scope::on`]) with the scope's values bound.
    fn query(&self, b: Backend, sql: &str) -> BoxedSqlQuery<'static, MultiBackend, SqlQuery> {
        let mut q = diesel::sql_query(numbered(b, sql)).into_boxed::<MultiBackend>();
        match self {
            Scope::Infants(ids) => {
                for id in *ids {
                    q = q.bind::<Text, _>(*id);
                }
            }
            Scope::Born(from, to) => {
                q = q
                    .bind::<Timestamp, _>(UtcMicros::new(*from))
                    .bind::<Timestamp, _>(UtcMicros::new(*to));
            }
            Scope::Param => {}
        }
        q
    }
}

/// An interpretation (alias `d`) that reports results (not awaiting, not a rejected card).
pub const REPORTED: &str = "d.outcome NOT IN ('awaiting_results','unsatisfactory_recollect')";
/// A screen-positive case (alias `k`): positive, borderline repeat, or hearing refer.
pub const POSITIVE_REASONS: &str = "k.reason IN ('positive','repeat','refer')";

pub(super) fn insert_infant_facts(s: &Scope) -> String {
    format!(
        "INSERT INTO quality_infant_facts (infant_id, hospital_id, birth_at, merged_into, status, status_changed_at, \
           dbs_ok_first, dbs_ok_last, dbs_bad_last, hear_screened, hear_initial_refer, hear_rescreen_at, hear_diagnostic_at, \
           cchd_screened, dbs_decided_at, dbs_refused_at, hear_decided_at, hear_refused_at, cchd_decided_at, cchd_refused_at, \
           positive_dbs, positive_hear, positive_cchd, hear_refer_case) \
         SELECT i.id, i.hospital_id, i.birth_at, i.merged_into, i.status, i.status_changed_at, \
           cf.ok_first, cf.ok_last, cf.bad_last, COALESCE(hf.screened, 0), COALESCE(hf.initial_refer, 0), \
           hf.rescreen_at, hf.diagnostic_at, COALESCE(xf.screened, 0), \
           df.dbs_last, df.dbs_refused, df.hear_last, df.hear_refused, df.cchd_last, df.cchd_refused, \
           COALESCE(kf.positive_dbs, 0), COALESCE(kf.positive_hear, 0), COALESCE(kf.positive_cchd, 0), COALESCE(kf.hear_refer, 0) \
         FROM infants i \
         LEFT JOIN (SELECT c.infant_id, \
             MIN(CASE WHEN c.quality IS NULL OR c.quality = 'acceptable' THEN c.collected_at END) AS ok_first, \
             MAX(CASE WHEN c.quality IS NULL OR c.quality = 'acceptable' THEN c.collected_at END) AS ok_last, \
             MAX(CASE WHEN c.quality <> 'acceptable' THEN c.collected_at END) AS bad_last \
           FROM dbs_cards c WHERE {cards} GROUP BY c.infant_id) cf ON cf.infant_id = i.id \
         LEFT JOIN (SELECT h.infant_id, \
             MAX(CASE WHEN h.stage IN ('initial','rescreen') THEN 1 ELSE 0 END) AS screened, \
             MAX(CASE WHEN h.stage = 'initial' AND (h.left_ear = 'refer' OR h.right_ear = 'refer') THEN 1 ELSE 0 END) AS initial_refer, \
             MIN(CASE WHEN h.stage = 'rescreen' THEN h.tested_at END) AS rescreen_at, \
             MIN(CASE WHEN h.stage = 'diagnostic' THEN h.tested_at END) AS diagnostic_at \
           FROM hearing_screens h WHERE {hearing} GROUP BY h.infant_id) hf ON hf.infant_id = i.id \
         LEFT JOIN (SELECT x.infant_id, 1 AS screened FROM cchd_screens x WHERE {heart} GROUP BY x.infant_id) xf \
           ON xf.infant_id = i.id \
         LEFT JOIN (SELECT s.infant_id, \
             MAX(CASE WHEN s.programme = 'DBS' THEN s.signed_at END) AS dbs_last, \
             MAX(CASE WHEN s.programme = 'DBS' AND s.decision = 'refusal' THEN s.signed_at END) AS dbs_refused, \
             MAX(CASE WHEN s.programme = 'HEAR' THEN s.signed_at END) AS hear_last, \
             MAX(CASE WHEN s.programme = 'HEAR' AND s.decision = 'refusal' THEN s.signed_at END) AS hear_refused, \
             MAX(CASE WHEN s.programme = 'CCHD' THEN s.signed_at END) AS cchd_last, \
             MAX(CASE WHEN s.programme = 'CCHD' AND s.decision = 'refusal' THEN s.signed_at END) AS cchd_refused \
           FROM screening_consents s WHERE {consents} GROUP BY s.infant_id) df ON df.infant_id = i.id \
         LEFT JOIN (SELECT k.infant_id, \
             MAX(CASE WHEN k.programme = 'DBS' AND {POSITIVE_REASONS} THEN 1 ELSE 0 END) AS positive_dbs, \
             MAX(CASE WHEN k.programme = 'HEAR' AND {POSITIVE_REASONS} THEN 1 ELSE 0 END) AS positive_hear, \
             MAX(CASE WHEN k.programme = 'CCHD' AND {POSITIVE_REASONS} THEN 1 ELSE 0 END) AS positive_cchd, \
             MAX(CASE WHEN k.programme = 'HEAR' AND k.reason = 'refer' THEN 1 ELSE 0 END) AS hear_refer \
           FROM cases k WHERE {cases} GROUP BY k.infant_id) kf ON kf.infant_id = i.id \
         WHERE {infants}",
        cards = s.on("c.infant_id"),
        hearing = s.on("h.infant_id"),
        heart = s.on("x.infant_id"),
        consents = s.on("s.infant_id"),
        cases = s.on("k.infant_id"),
        infants = s.on("i.id"),
    )
}

fn card_facts_sql(s: &Scope) -> String {
    // A few infants (a write, a bulk write's flush): each card's first report is an index probe
    // on `dbs_interpretations (card_id, …)`, a plan that holds whatever the table statistics
    // say (without them, the aggregate join below is planned as a scan of every
    // interpretation). A range of births: one aggregate over the range's interpretations.
    let reported = match s {
        Scope::Born(..) => "rf.reported_at".to_string(),
        _ => format!(
            "(SELECT MIN(d.interpreted_at) FROM dbs_interpretations d WHERE d.card_id = c.id AND {REPORTED})"
        ),
    };
    let join = match s {
        Scope::Born(..) => format!(
            "LEFT JOIN (SELECT d.card_id, MIN(d.interpreted_at) AS reported_at FROM dbs_interpretations d \
             JOIN dbs_cards c2 ON c2.id = d.card_id WHERE {} AND {REPORTED} GROUP BY d.card_id) rf ON rf.card_id = c.id ",
            s.on("c2.infant_id")
        ),
        _ => String::new(),
    };
    format!(
        "INSERT INTO quality_card_facts (card_id, infant_id, hospital_id, birth_at, merged_into, collected_at, received_at, \
           quality, first_card, reported_at) \
         SELECT c.id, i.id, i.hospital_id, i.birth_at, i.merged_into, c.collected_at, c.received_at, c.quality, \
           CASE WHEN c.repeat_of IS NULL THEN 1 ELSE 0 END, {reported} \
         FROM dbs_cards c JOIN infants i ON i.id = c.infant_id \
         {join}WHERE {cards} AND {infants}",
        cards = s.on("c.infant_id"),
        // The infants too: each is then a probe of the primary key, not a pass over them all.
        infants = s.on("i.id"),
    )
}

/// The statements that recompute the facts of the infants in `scope`, in order. On PostgreSQL
/// the first locks the infants until the transaction ends, so two writes for the same infant
/// recompute its facts one after the other, the second seeing the first's rows (under READ
/// COMMITTED each statement sees what committed before it began). `NO KEY UPDATE` does not
/// conflict with the key-share locks that inserting a card or screen takes on its infant.
/// SQLite needs no lock: a write transaction there holds the database. The card facts are
/// deleted in two statements, each served by an index (an OR of the two would scan the table).
fn statements(b: Backend, scope: &Scope) -> Vec<String> {
    let mut out = vec![];
    if b == Backend::Postgres {
        out.push(format!(
            "SELECT i.id FROM infants i WHERE {} ORDER BY i.id FOR NO KEY UPDATE",
            scope.on("i.id")
        ));
    }
    out.push(format!(
        "DELETE FROM quality_card_facts WHERE {}",
        scope.on("infant_id")
    ));
    // On PostgreSQL `= ANY(ARRAY(…))` makes the cards a list probed through the primary key,
    // whatever the statistics (an `IN (SELECT …)` may be planned as a scan of the table).
    let cards = format!(
        "SELECT c.id FROM dbs_cards c WHERE {}",
        scope.on("c.infant_id")
    );
    out.push(match (b, scope) {
        (Backend::Postgres, Scope::Infants(_) | Scope::Param) => {
            format!("DELETE FROM quality_card_facts WHERE card_id = ANY(ARRAY({cards}))")
        }
        _ => format!("DELETE FROM quality_card_facts WHERE card_id IN ({cards})"),
    });
    out.push(format!(
        "DELETE FROM quality_infant_facts WHERE {}",
        scope.on("infant_id")
    ));
    out.push(insert_infant_facts(scope));
    out.push(card_facts_sql(scope));
    out
}

/// Recomputes the facts of the infants in `scope` (and of their cards). Call it in the
/// transaction of the write; a card moved between infants needs both in one call.
pub fn refresh(conn: &mut AnyConnection, scope: &Scope) -> QueryResult<()> {
    let b = conn.backend();
    let run = |conn: &mut AnyConnection| {
        for sql in statements(b, scope) {
            scope.query(b, &sql).execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    };
    // A list of infants is a few rows of each table, reached through their infant indexes
    // (8–15 ms each at 10,000 cards when planned as scans, growing with the data).
    match scope {
        Scope::Infants(_) => crate::db::sql::index_probes(conn, run),
        _ => run(conn),
    }
}

/// Runs `list` (statements over one id, `$1`) in order, each prepared once per connection
/// ([`CachedById`]), so a write pays their execution, not their planning (about 1 ms per write
/// on PostgreSQL otherwise).
fn run_prepared(conn: &mut AnyConnection, list: &[String], id: uuid::Uuid) -> QueryResult<()> {
    for sql in list {
        by_id(conn, sql, id)?;
    }
    Ok(())
}

/// Runs `sql` over one id (`$1`, wherever it appears); returns the rows it changed. Prepared
/// once per connection on both databases.
pub(super) fn by_id(conn: &mut AnyConnection, sql: &str, id: impl ToString) -> QueryResult<usize> {
    by_ids(conn, sql, vec![id.to_string()])
}

/// Like [`by_id`] over several ids: `$1` is `ids[0]`, `$2` is `ids[1]`, and so on.
pub(super) fn by_ids(conn: &mut AnyConnection, sql: &str, ids: Vec<String>) -> QueryResult<usize> {
    crate::with_conn!(conn, |c| CachedById::with_ids(sql, ids).execute(c))
}

/// Like [`refresh`], and counts the infants whose facts (their own row or one of their cards')
/// were not what the recompute gives: kept facts that drifted from the source tables. Zero
/// unless some write path missed its [`touch`].
pub fn refresh_counting(conn: &mut AnyConnection, scope: &Scope) -> QueryResult<i64> {
    let b = conn.backend();
    for (table, copy) in [
        ("quality_infant_facts", "quality_old_infants"),
        ("quality_card_facts", "quality_old_cards"),
    ] {
        diesel::sql_query(format!("DROP TABLE IF EXISTS {copy}")).execute(conn)?;
        // An empty copy, then the rows in scope (a statement creating a table takes no
        // parameters on PostgreSQL).
        diesel::sql_query(format!(
            "CREATE TEMP TABLE {copy} AS SELECT * FROM {table} WHERE 1 = 0"
        ))
        .execute(conn)?;
        let keep = format!(
            "INSERT INTO {copy} SELECT * FROM {table} WHERE {}",
            scope.on("infant_id")
        );
        scope.query(b, &keep).execute(conn)?;
    }
    refresh(conn, scope)?;
    let differ = |table: &str, copy: &str| {
        let now = format!("SELECT * FROM {table} WHERE {}", scope.on("infant_id"));
        format!(
            "SELECT infant_id FROM ({now} EXCEPT SELECT * FROM {copy}) a \
             UNION SELECT infant_id FROM (SELECT * FROM {copy} EXCEPT {now}) b"
        )
    };
    let n: Count = scope
        .query(
            b,
            &format!(
                "SELECT COUNT(*) AS n FROM ({} UNION {}) d",
                differ("quality_infant_facts", "quality_old_infants"),
                differ("quality_card_facts", "quality_old_cards")
            ),
        )
        .get_result(conn)?;
    for copy in ["quality_old_infants", "quality_old_cards"] {
        diesel::sql_query(format!("DROP TABLE {copy}")).execute(conn)?;
    }
    Ok(n.n)
}

thread_local! {
    /// The infants and cards whose facts a [`deferred`] block will recompute at its end.
    static DEFERRED: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

#[derive(Default)]
struct Pending {
    infants: BTreeSet<InfantId>,
    cards: BTreeSet<CardId>,
}

/// Whether this thread is inside a [`deferred`] block: if so, records what to recompute.
pub(super) fn defer(infants: &[InfantId], card: Option<CardId>) -> bool {
    DEFERRED.with(|d| match d.borrow_mut().as_mut() {
        Some(p) => {
            p.infants.extend(infants.iter().copied());
            p.cards.extend(card);
            true
        }
        None => false,
    })
}

/// Runs `f` (inside the caller's transaction) with the facts upkeep of its writes gathered, then
/// recomputes the facts of every infant they touched at once: a bulk write (a plate, an HL7
/// batch) pays a handful of set-wise statements instead of several per card. Writes inside
/// that roll back to a savepoint leave their infant listed; recomputing it from the source
/// tables is harmless. Nested blocks join the outermost. If `f` fails nothing is recomputed
/// (its transaction rolls back).
pub fn deferred<T, E: From<diesel::result::Error>>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            DEFERRED.with(|d| *d.borrow_mut() = None);
        }
    }
    if DEFERRED.with(|d| d.borrow().is_some()) {
        return f(conn);
    }
    DEFERRED.with(|d| *d.borrow_mut() = Some(Pending::default()));
    let _reset = Reset;
    let out = f(conn)?;
    let pending = DEFERRED.with(|d| d.borrow_mut().take()).unwrap_or_default();
    flush(conn, pending)?;
    Ok(out)
}

/// Recomputes the facts of the gathered infants and of the cards' infants, in chunks of
/// [`FLUSH_CHUNK`] (bound parameters).
fn flush(conn: &mut AnyConnection, pending: Pending) -> QueryResult<()> {
    use crate::db::schema::dbs_cards;
    let mut infants = pending.infants;
    let cards: Vec<CardId> = pending.cards.into_iter().collect();
    for chunk in cards.chunks(FLUSH_CHUNK) {
        let of_cards: Vec<InfantId> = dbs_cards::table
            .filter(dbs_cards::id.eq_any(chunk))
            .select(dbs_cards::infant_id)
            .load(conn)?;
        infants.extend(of_cards);
    }
    let infants: Vec<InfantId> = infants.into_iter().collect();
    for chunk in infants.chunks(FLUSH_CHUNK) {
        recompute(conn, chunk)?;
    }
    Ok(())
}

/// Infants recomputed per statement when a [`deferred`] block ends.
const FLUSH_CHUNK: usize = 200;

/// Recomputes the facts of these infants.
pub fn touch(conn: &mut AnyConnection, infant_ids: &[InfantId]) -> QueryResult<()> {
    if defer(infant_ids, None) {
        return Ok(());
    }
    recompute(conn, infant_ids)
}

/// Recomputes now: one infant through statements prepared once per connection (their parsing
/// and planning cost more than their execution), several set-wise.
fn recompute(conn: &mut AnyConnection, infant_ids: &[InfantId]) -> QueryResult<()> {
    match infant_ids {
        [id] => {
            let list = statements(conn.backend(), &Scope::Param);
            run_prepared(conn, &list, id.0)
        }
        _ => refresh(conn, &Scope::Infants(infant_ids)),
    }
}

/// Recomputes the facts of a card's infant.
pub fn touch_card(conn: &mut AnyConnection, card_id: CardId) -> QueryResult<()> {
    use crate::db::schema::dbs_cards;
    if defer(&[], Some(card_id)) {
        return Ok(());
    }
    let infant: Option<InfantId> = dbs_cards::table
        .find(card_id)
        .select(dbs_cards::infant_id)
        .first(conn)
        .optional()?;
    match infant {
        Some(id) => touch(conn, &[id]),
        None => Ok(()),
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Whether some infant has no facts row (the tables are new, or were emptied).
pub fn incomplete(conn: &mut AnyConnection) -> QueryResult<bool> {
    let missing: Count = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM (SELECT i.id FROM infants i WHERE NOT EXISTS \
         (SELECT 1 FROM quality_infant_facts f WHERE f.infant_id = i.id) LIMIT 1) m",
    )
    .get_result(conn)?;
    Ok(missing.n > 0)
}

/// The earliest and latest birth on record, to rebuild in ranges.
pub fn birth_range(
    conn: &mut AnyConnection,
) -> QueryResult<Option<(DateTime<Utc>, DateTime<Utc>)>> {
    use crate::db::schema::infants;
    use diesel::dsl::{max, min};
    let (lo, hi): (Option<UtcMicros>, Option<UtcMicros>) = infants::table
        .select((min(infants::birth_at), max(infants::birth_at)))
        .first(conn)?;
    Ok(lo.zip(hi).map(|(lo, hi)| (lo.utc(), hi.utc())))
}

#[derive(QueryableByName)]
struct Screened {
    #[diesel(sql_type = diesel::sql_types::Text)]
    infant_id: InfantId,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    dbs: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    hear: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    cchd: i32,
}

/// Whether each of these infants has a screen per programme (blood spot: an acceptable or not
/// yet judged card; hearing: an initial or rescreen test; heart: a pulse-oximetry screen), from
/// the kept facts, as `[DBS, HEAR, CCHD]`.
pub fn screened_of(
    conn: &mut AnyConnection,
    ids: &[InfantId],
) -> QueryResult<std::collections::HashMap<InfantId, [bool; 3]>> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = crate::db::sql::numbered(
            conn.backend(),
            &format!(
                "SELECT infant_id, CASE WHEN dbs_ok_first IS NULL THEN 0 ELSE 1 END AS dbs, \
                 hear_screened AS hear, cchd_screened AS cchd \
                 FROM quality_infant_facts WHERE infant_id IN ({})",
                marks.join(",")
            ),
        );
        let mut q = diesel::sql_query(sql).into_boxed::<crate::db::MultiBackend>();
        for id in chunk {
            q = q.bind::<diesel::sql_types::Text, _>(*id);
        }
        for r in q.load::<Screened>(conn)? {
            out.insert(r.infant_id, [r.dbs == 1, r.hear == 1, r.cchd == 1]);
        }
    }
    Ok(out)
}
