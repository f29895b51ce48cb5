//! One-pass counting of the infant-level and card-level quality indicators: per-infant (and
//! per-card) facts are aggregated from each table once (`GROUP BY` over the cohort's rows, joined
//! back), and every indicator of the level is a pair of sums over those plain columns in the
//! same query. This gives the same numbers as the per-indicator definitions in
//! `services::quality::spec` (which the drill-down uses; the cohort test checks both), at a
//! fraction of the cost over a year of births.

use std::collections::HashMap;

use chrono::Duration;
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::quality::{Cohort, Limits, cohort_where, cohort_where_as, plus};
use crate::config::QualitySettings;
use crate::db::{AnyConnection, Backend};
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

fn run(
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

/// Counts every infant-level and card-level indicator of the cohort in two queries.
pub fn counts(
    conn: &mut AnyConnection,
    c: &Cohort,
    q: &QualitySettings,
    lim: &Limits,
) -> Result<Counts, AppError> {
    let b: Backend = conn.backend();
    let cohort = cohort_where(c);
    let cohort2 = cohort_where_as(c, "i2");
    let p = |col: &str, d: Duration| plus(b, col, d);
    let prog = |col: &str| match &c.programme {
        Some(x) => format!(" AND {col} = '{x}'"),
        None => String::new(),
    };
    let facts = format!(
        "FROM infants i \
         LEFT JOIN (SELECT c.infant_id, \
             MIN(CASE WHEN c.quality IS NULL OR c.quality = 'acceptable' THEN c.collected_at END) AS ok_first, \
             MAX(CASE WHEN c.quality IS NULL OR c.quality = 'acceptable' THEN c.collected_at END) AS ok_last, \
             MAX(CASE WHEN c.quality <> 'acceptable' THEN c.collected_at END) AS bad_last \
           FROM dbs_cards c JOIN infants i2 ON i2.id = c.infant_id WHERE {cohort2} GROUP BY c.infant_id) cf ON cf.infant_id = i.id \
         LEFT JOIN (SELECT h.infant_id, \
             MAX(CASE WHEN h.stage IN ('initial','rescreen') THEN 1 ELSE 0 END) AS screened, \
             MAX(CASE WHEN h.stage = 'initial' AND (h.left_ear = 'refer' OR h.right_ear = 'refer') THEN 1 ELSE 0 END) AS initial_refer, \
             MIN(CASE WHEN h.stage = 'rescreen' THEN h.tested_at END) AS rescreen_at, \
             MIN(CASE WHEN h.stage = 'diagnostic' THEN h.tested_at END) AS diagnostic_at \
           FROM hearing_screens h JOIN infants i2 ON i2.id = h.infant_id WHERE {cohort2} GROUP BY h.infant_id) hf ON hf.infant_id = i.id \
         LEFT JOIN (SELECT s.infant_id, 1 AS screened \
           FROM cchd_screens s JOIN infants i2 ON i2.id = s.infant_id WHERE {cohort2} GROUP BY s.infant_id) xf ON xf.infant_id = i.id \
         LEFT JOIN (SELECT s.infant_id, \
             MAX(CASE WHEN s.programme = 'DBS' THEN s.signed_at END) AS dbs_last, \
             MAX(CASE WHEN s.programme = 'DBS' AND s.decision = 'refusal' THEN s.signed_at END) AS dbs_refused, \
             MAX(CASE WHEN s.programme = 'HEAR' THEN s.signed_at END) AS hear_last, \
             MAX(CASE WHEN s.programme = 'HEAR' AND s.decision = 'refusal' THEN s.signed_at END) AS hear_refused, \
             MAX(CASE WHEN s.programme = 'CCHD' THEN s.signed_at END) AS cchd_last, \
             MAX(CASE WHEN s.programme = 'CCHD' AND s.decision = 'refusal' THEN s.signed_at END) AS cchd_refused \
           FROM screening_consents s JOIN infants i2 ON i2.id = s.infant_id WHERE {cohort2} GROUP BY s.infant_id) df ON df.infant_id = i.id \
         LEFT JOIN (SELECT k.infant_id, \
             MAX(CASE WHEN k.reason IN ('positive','repeat','refer'){} THEN 1 ELSE 0 END) AS positive, \
             MAX(CASE WHEN k.programme = 'HEAR' AND k.reason = 'refer' THEN 1 ELSE 0 END) AS hear_refer \
           FROM cases k JOIN infants i2 ON i2.id = k.infant_id WHERE {cohort2} GROUP BY k.infant_id) kf ON kf.infant_id = i.id \
         WHERE {cohort}",
        prog("k.programme")
    );
    let screened = |prog: &str| -> String {
        match prog {
            "DBS" => format!(
                "cf.ok_first IS NOT NULL AND cf.ok_first <= {}",
                p("i.birth_at", lim.dbs)
            ),
            "HEAR" => "hf.screened = 1".into(),
            _ => "xf.screened = 1".into(),
        }
    };
    let eligible = |prog: &str, age: Duration| -> String {
        format!(
            "NOT (i.status = 'deceased' AND i.status_changed_at < {} AND NOT ({}))",
            p("i.birth_at", age),
            screened(prog)
        )
    };
    let any_screened = {
        let progs: Vec<&str> = match &c.programme {
            Some(x) => vec![x.as_str()],
            None => vec!["DBS", "HEAR", "CCHD"],
        };
        progs
            .iter()
            .map(|x| format!("({})", screened(x)))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let all = "1 = 1".to_string();
    let infant_items: Vec<(&'static str, String, String)> = vec![
        ("dbs_coverage", eligible("DBS", lim.dbs), screened("DBS")),
        (
            "hearing_coverage",
            eligible("HEAR", lim.hearing),
            screened("HEAR"),
        ),
        (
            "cchd_coverage",
            eligible("CCHD", lim.cchd),
            screened("CCHD"),
        ),
        (
            "dbs_refusal_rate",
            all.clone(),
            "df.dbs_refused IS NOT NULL AND df.dbs_refused = df.dbs_last".into(),
        ),
        (
            "hearing_refusal_rate",
            all.clone(),
            "df.hear_refused IS NOT NULL AND df.hear_refused = df.hear_last".into(),
        ),
        (
            "cchd_refusal_rate",
            all.clone(),
            "df.cchd_refused IS NOT NULL AND df.cchd_refused = df.cchd_last".into(),
        ),
        (
            "consent_awareness",
            all.clone(),
            "df.dbs_last IS NOT NULL OR df.hear_last IS NOT NULL OR df.cchd_last IS NOT NULL"
                .into(),
        ),
        (
            "unsatisfactory_not_recollected",
            "cf.bad_last IS NOT NULL".into(),
            "cf.ok_last IS NULL OR cf.ok_last <= cf.bad_last".into(),
        ),
        ("positive_rate", any_screened, "kf.positive = 1".into()),
        (
            "hearing_rescreen_by_42d",
            "hf.initial_refer = 1".into(),
            format!("hf.rescreen_at <= {}", p("i.birth_at", Duration::days(42))),
        ),
        (
            "hearing_diagnosis_by_3m",
            "kf.hear_refer = 1".into(),
            format!(
                "hf.diagnostic_at <= {}",
                p("i.birth_at", Duration::days(90))
            ),
        ),
    ];
    let mut out = Counts::new();
    run(conn, &infant_items, &facts, &mut out)?;

    let reported = "d.outcome NOT IN ('awaiting_results','unsatisfactory_recollect')";
    let cards = format!(
        "FROM dbs_cards c JOIN infants i ON i.id = c.infant_id \
         LEFT JOIN (SELECT d.card_id, MIN(d.interpreted_at) AS reported_at FROM dbs_interpretations d \
           JOIN dbs_cards c2 ON c2.id = d.card_id JOIN infants i2 ON i2.id = c2.infant_id \
           WHERE {cohort2} AND {reported} GROUP BY d.card_id) rf ON rf.card_id = c.id \
         WHERE {cohort}"
    );
    let card_items: Vec<(&'static str, String, String)> = vec![
        (
            "unsatisfactory_cards",
            "c.quality IS NOT NULL".into(),
            "c.quality <> 'acceptable'".into(),
        ),
        (
            "late_cards",
            "c.received_at IS NOT NULL".into(),
            format!(
                "c.received_at > {}",
                p("c.collected_at", Duration::days(q.late_card_days))
            ),
        ),
        (
            "early_collection",
            "c.repeat_of IS NULL".into(),
            format!("c.collected_at < {}", p("i.birth_at", Duration::hours(48))),
        ),
        (
            "late_collection",
            "c.repeat_of IS NULL".into(),
            format!("c.collected_at > {}", p("i.birth_at", Duration::days(7))),
        ),
        (
            "report_timeliness",
            "c.received_at IS NOT NULL AND rf.reported_at IS NOT NULL".into(),
            format!(
                "rf.reported_at <= {}",
                p("c.received_at", Duration::days(q.report_days))
            ),
        ),
    ];
    run(conn, &card_items, &cards, &mut out)?;
    Ok(out)
}
