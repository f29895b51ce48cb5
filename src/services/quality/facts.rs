//! One-pass counting of the infant-level, card-level and case-level quality indicators. Infant
//! and card indicators are sums over the narrow facts tables (`quality_infant_facts`,
//! `quality_card_facts`, kept up to date by every write: `db::models::quality_facts`), one scan
//! each; case-level indicators are sums over the cohort's cases in one query. This gives the same
//! numbers as the per-indicator definitions in `services::quality::spec` over the source tables
//! (which the drill-down uses; the cohort test checks both), at a fraction of the cost over a
//! year of births.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::report::{Cohort, Limits, cohort_where_as, programmes};
use crate::config::QualitySettings;
use crate::db::models::quality::facts::{self as facts, Scope};
use crate::db::sql::plus;
use crate::db::{AnyConnection, Backend, write_transaction};
use crate::error::AppError;

#[derive(QueryableByName)]
struct Joined {
    #[diesel(sql_type = Text)]
    v: String,
}

/// (numerator, denominator) per indicator id.
pub type Counts = HashMap<&'static str, (i64, i64)>;

/// `(id, denominator condition, numerator condition)` → the pair of sums, as text.
fn sums(items: &[(&'static str, String, String)]) -> String {
    items
        .iter()
        .flat_map(|(_, den, num)| {
            [
                format!("CAST(COALESCE(SUM(CASE WHEN {den} THEN 1 ELSE 0 END), 0) AS TEXT)"),
                format!("CAST(COALESCE(SUM(CASE WHEN ({den}) AND ({num}) THEN 1 ELSE 0 END), 0) AS TEXT)"),
            ]
        })
        .collect::<Vec<_>>()
        .join(" || ',' || ")
}

/// Runs the sums of `items` over `from_where` (one row) into `out`.
pub(crate) fn run(
    conn: &mut AnyConnection,
    items: &[(&'static str, String, String)],
    from_where: &str,
    out: &mut Counts,
) -> Result<(), AppError> {
    let sql = format!("SELECT {} AS v {from_where}", sums(items));
    let row: Joined = diesel::sql_query(sql).get_result(conn)?;
    let n: Vec<i64> = row
        .v
        .split(',')
        .map(|x| x.trim().parse().unwrap_or(0))
        .collect();
    for (k, (id, _, _)) in items.iter().enumerate() {
        out.insert(
            id,
            (
                n.get(2 * k + 1).copied().unwrap_or(0),
                n.get(2 * k).copied().unwrap_or(0),
            ),
        );
    }
    Ok(())
}

/// "Screened" for a programme, on the facts alias `f`.
fn screened(b: Backend, lim: &Limits, prog: &str) -> String {
    match prog {
        "DBS" => format!(
            "(f.dbs_ok_first IS NOT NULL AND f.dbs_ok_first <= {})",
            plus(b, "f.birth_at", lim.dbs)
        ),
        "HEAR" => "f.hear_screened = 1".into(),
        _ => "f.cchd_screened = 1".into(),
    }
}

/// Screened in any programme of the cohort's filter (the positive rate's denominator), on the
/// facts alias `f`.
pub(crate) fn screened_any(c: &Cohort, b: Backend, lim: &Limits) -> String {
    programmes(c)
        .iter()
        .map(|x| screened(b, lim, x))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Counts every infant-level and card-level indicator of the cohort, one scan of each facts
/// table.
pub fn counts(
    conn: &mut AnyConnection,
    c: &Cohort,
    q: &QualitySettings,
    lim: &Limits,
) -> Result<Counts, AppError> {
    let b: Backend = conn.backend();
    let cohort = cohort_where_as(c, "f");
    let p = |col: &str, d: Duration| plus(b, col, d);
    let screened = |prog: &str| screened(b, lim, prog);
    let eligible = |prog: &str, age: Duration| -> String {
        format!(
            "NOT (f.status = 'deceased' AND f.status_changed_at < {} AND NOT {})",
            p("f.birth_at", age),
            screened(prog)
        )
    };
    let any_screened = screened_any(c, b, lim);
    let positive = programmes(c)
        .iter()
        .map(|x| match *x {
            "DBS" => "f.positive_dbs = 1",
            "HEAR" => "f.positive_hear = 1",
            _ => "f.positive_cchd = 1",
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    let refused =
        |x: &str| format!("f.{x}_refused_at IS NOT NULL AND f.{x}_refused_at = f.{x}_decided_at");
    let all = "1 = 1".to_string();
    let infant_items: Vec<(&'static str, String, String)> = vec![
        ("dbs_coverage", eligible("DBS", lim.dbs), screened("DBS")),
        ("hearing_coverage", eligible("HEAR", lim.hearing), screened("HEAR")),
        ("cchd_coverage", eligible("CCHD", lim.cchd), screened("CCHD")),
        ("dbs_refusal_rate", all.clone(), refused("dbs")),
        ("hearing_refusal_rate", all.clone(), refused("hear")),
        ("cchd_refusal_rate", all.clone(), refused("cchd")),
        (
            "consent_awareness",
            all,
            "f.dbs_decided_at IS NOT NULL OR f.hear_decided_at IS NOT NULL OR f.cchd_decided_at IS NOT NULL".into(),
        ),
        (
            "unsatisfactory_not_recollected",
            "f.dbs_bad_last IS NOT NULL".into(),
            "f.dbs_ok_last IS NULL OR f.dbs_ok_last <= f.dbs_bad_last".into(),
        ),
        ("positive_rate", any_screened, positive),
        (
            "hearing_rescreen_by_42d",
            "f.hear_initial_refer = 1".into(),
            format!("f.hear_rescreen_at <= {}", p("f.birth_at", lim.hearing_rescreen)),
        ),
        (
            "hearing_diagnosis_by_3m",
            "f.hear_refer_case = 1".into(),
            format!("f.hear_diagnostic_at <= {}", p("f.birth_at", lim.hearing_diagnosis)),
        ),
    ];
    let mut out = Counts::new();
    run(
        conn,
        &infant_items,
        &format!("FROM quality_infant_facts f WHERE {cohort}"),
        &mut out,
    )?;
    let card_items: Vec<(&'static str, String, String)> = vec![
        (
            "unsatisfactory_cards",
            "f.quality IS NOT NULL".into(),
            "f.quality <> 'acceptable'".into(),
        ),
        (
            "late_cards",
            "f.received_at IS NOT NULL".into(),
            format!(
                "f.received_at > {}",
                p("f.collected_at", Duration::days(q.late_card_days))
            ),
        ),
        (
            "early_collection",
            "f.first_card = 1".into(),
            format!("f.collected_at < {}", p("f.birth_at", lim.dbs_early)),
        ),
        (
            "late_collection",
            "f.first_card = 1".into(),
            format!("f.collected_at > {}", p("f.birth_at", lim.dbs_late)),
        ),
        (
            "report_timeliness",
            "f.received_at IS NOT NULL AND f.reported_at IS NOT NULL".into(),
            format!(
                "f.reported_at <= {}",
                p("f.received_at", Duration::days(q.report_days))
            ),
        ),
    ];
    run(
        conn,
        &card_items,
        &format!("FROM quality_card_facts f WHERE {cohort}"),
        &mut out,
    )?;
    Ok(out)
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Rebuilt {
    /// Months of births recomputed.
    pub months: usize,
    /// Infants whose kept facts differed from the recompute (and are now corrected).
    pub infants_corrected: i64,
}

/// Recomputes the facts of every infant, one month of births per transaction (the facts of a
/// month are replaced at once, so a report never sees a half-built month), counting the
/// infants whose kept facts had drifted.
pub fn rebuild_all(conn: &mut AnyConnection) -> Result<Rebuilt, AppError> {
    rebuild(conn, true)
}

/// Computes the facts of every infant without comparing them with what is kept (they are
/// missing, or the rows were loaded by SQL); returns the months of births.
pub fn fill_all(conn: &mut AnyConnection) -> Result<usize, AppError> {
    Ok(rebuild(conn, false)?.months)
}

fn rebuild(conn: &mut AnyConnection, counting: bool) -> Result<Rebuilt, AppError> {
    let mut out = Rebuilt::default();
    let Some((lo, hi)) = facts::birth_range(conn)? else {
        return Ok(out);
    };
    let mut from = month_start(lo.date());
    while from <= hi {
        let next = month_start(from.date() + Duration::days(32));
        let scope = Scope::Born(from, next);
        out.infants_corrected += write_transaction(conn, |conn| {
            if counting {
                facts::refresh_counting(conn, &scope)
            } else {
                facts::refresh(conn, &scope).map(|()| 0)
            }
        })?;
        out.months += 1;
        from = next;
    }
    Ok(out)
}

fn month_start(d: NaiveDate) -> NaiveDateTime {
    use chrono::Datelike;
    d.with_day(1).unwrap_or(d).and_time(chrono::NaiveTime::MIN)
}

/// Fills the facts tables when some infant has none (first start after the tables were added).
pub fn ensure_built(conn: &mut AnyConnection) -> Result<(), AppError> {
    if facts::incomplete(conn)? {
        let t = std::time::Instant::now();
        let months = fill_all(conn)?;
        tracing::info!(
            months,
            seconds = t.elapsed().as_secs_f64(),
            "quality facts filled: some infants had none"
        );
    }
    Ok(())
}
