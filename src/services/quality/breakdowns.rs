//! Breakdowns attached to indicators: interval statistics by tier (first contact, recall), card
//! turnaround (receipt to report), the collection-age distribution of first cards, the positive
//! rate per condition group, and PPV per suspected condition and per catalogue version. They
//! come from the cohort's screen-positive cases (about 2% of births, loaded once) and from the
//! card facts (grouped in SQL).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};

use super::facts::screened_any;
use super::report::{
    CASES_FROM, Cohort, FIRST_CONTACT, Limits, POSITIVE_REASONS, RECHECK, cohort_where,
    cohort_where_as, prog_filter,
};
use crate::db::AnyConnection;
use crate::db::types::Json;
use crate::domain::case::CaseOutcome;
use crate::domain::quality::{IntervalStats, stats};
use crate::error::AppError;

/// One screen-positive case of the cohort, with the times the timeliness indicators measure.
#[derive(QueryableByName)]
pub(crate) struct PositiveCase {
    #[diesel(sql_type = Text)]
    infant_id: String,
    #[diesel(sql_type = Text)]
    programme: String,
    #[diesel(sql_type = Text)]
    tier: String,
    #[diesel(sql_type = Text)]
    suspected: Json<Vec<String>>,
    #[diesel(sql_type = Text)]
    catalogue_version: String,
    #[diesel(sql_type = Nullable<Text>)]
    outcome: Option<Json<CaseOutcome>>,
    #[diesel(sql_type = Timestamp)]
    opened_at: NaiveDateTime,
    /// The infant counts as screened (the positive rate's denominator).
    #[diesel(sql_type = Integer)]
    screened: i32,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub(crate) first_contact: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub(crate) recheck: Option<NaiveDateTime>,
}

/// The cohort's screen-positive cases (of the programme filter).
pub(crate) fn positive_cases(
    conn: &mut AnyConnection,
    c: &Cohort,
    lim: &Limits,
) -> Result<Vec<PositiveCase>, AppError> {
    let b = conn.backend();
    let sql = format!(
        "SELECT k.infant_id, k.programme, k.tier, k.suspected, k.catalogue_version, k.outcome, k.opened_at, \
         CASE WHEN f.infant_id IS NOT NULL AND ({screened}) THEN 1 ELSE 0 END AS screened, \
         {FIRST_CONTACT} AS first_contact, {RECHECK} AS recheck \
         FROM {CASES_FROM} LEFT JOIN quality_infant_facts f ON f.infant_id = k.infant_id \
         WHERE {cohort} AND {POSITIVE_REASONS}{prog}",
        screened = screened_any(c, b, lim),
        cohort = cohort_where(c),
        prog = prog_filter(c, "k.programme"),
    );
    Ok(diesel::sql_query(sql).load(conn)?)
}

/// Hours from opening to `end`, for all cases and per tier.
pub(crate) fn intervals(
    rows: &[PositiveCase],
    end: impl Fn(&PositiveCase) -> Option<NaiveDateTime>,
) -> BTreeMap<String, IntervalStats> {
    let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in rows {
        if let Some(t) = end(r) {
            let h = (t - r.opened_at).num_seconds() as f64 / 3600.0;
            by.entry("all".into()).or_default().push(h);
            by.entry(r.tier.clone()).or_default().push(h);
        }
    }
    by.into_iter()
        .filter_map(|(k, v)| stats(v).map(|s| (k, s)))
        .collect()
}

fn confirmed_condition(r: &PositiveCase) -> Option<String> {
    match r.outcome.as_deref() {
        Some(CaseOutcome::Confirmed { condition }) => Some(condition.clone()),
        _ => None,
    }
}

/// Confirmed state as the PPV counts it: resolved now with a confirmed outcome.
fn confirmed(r: &PositiveCase) -> bool {
    confirmed_condition(r).is_some()
}

fn suspected(r: &PositiveCase) -> Vec<String> {
    r.suspected.0.clone()
}

/// PPV per suspected condition: `[confirmed with it, cases suspecting it]`.
pub(crate) fn ppv_by_condition(rows: &[PositiveCase]) -> BTreeMap<String, [i64; 2]> {
    let mut by: BTreeMap<String, [i64; 2]> = BTreeMap::new();
    for r in rows {
        let confirmed = confirmed_condition(r);
        for code in suspected(r) {
            let e = by.entry(code.clone()).or_default();
            e[1] += 1;
            if confirmed.as_deref() == Some(code.as_str()) {
                e[0] += 1;
            }
        }
    }
    by
}

/// PPV per catalogue version that opened the case: `[confirmed, cases]`.
pub(crate) fn ppv_by_version(rows: &[PositiveCase]) -> BTreeMap<String, [i64; 2]> {
    let mut by: BTreeMap<String, [i64; 2]> = BTreeMap::new();
    for r in rows {
        let e = by.entry(r.catalogue_version.clone()).or_default();
        e[1] += 1;
        if confirmed(r) {
            e[0] += 1;
        }
    }
    by
}

/// Positive rate per condition group: `[screened infants with a screen-positive case in the
/// group, screened infants]`. Blood-spot cases count under the groups of their suspected
/// conditions (catalogue §2: E, AA, OA, FAO; an unknown code under `other`), hearing and heart
/// cases under `HEAR` and `CCHD`; an infant counts once per group.
pub(crate) fn positive_by_group(
    rows: &[PositiveCase],
    groups: &BTreeMap<String, String>,
    screened: i64,
) -> BTreeMap<String, [i64; 2]> {
    let mut seen: BTreeSet<(String, &str)> = BTreeSet::new();
    for r in rows.iter().filter(|r| r.screened == 1) {
        if r.programme == "DBS" {
            for code in suspected(r) {
                let g = groups.get(&code).cloned().unwrap_or_else(|| "other".into());
                seen.insert((g, r.infant_id.as_str()));
            }
        } else {
            seen.insert((r.programme.clone(), r.infant_id.as_str()));
        }
    }
    let mut by: BTreeMap<String, [i64; 2]> = BTreeMap::new();
    for (g, _) in seen {
        by.entry(g).or_insert([0, screened])[0] += 1;
    }
    by
}

#[derive(QueryableByName)]
struct Bucket {
    /// Minutes or hours, by the query.
    #[diesel(sql_type = BigInt)]
    key: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Hours from receipt to the first reported result, over the cohort's received and reported
/// cards (to the minute: grouped in SQL, so a year of cards is one scan).
pub(crate) fn turnaround(
    conn: &mut AnyConnection,
    c: &Cohort,
) -> Result<BTreeMap<String, IntervalStats>, AppError> {
    let b = conn.backend();
    let sql = format!(
        "SELECT {m} AS key, COUNT(*) AS n FROM quality_card_facts f \
         WHERE {cohort} AND f.received_at IS NOT NULL AND f.reported_at IS NOT NULL GROUP BY {m}",
        m = crate::db::sql::minutes(b, "f.received_at", "f.reported_at"),
        cohort = cohort_where_as(c, "f"),
    );
    let buckets: Vec<Bucket> = diesel::sql_query(sql).load(conn)?;
    let hours: Vec<f64> = buckets
        .iter()
        .flat_map(|k| std::iter::repeat_n(k.key as f64 / 60.0, k.n.max(0) as usize))
        .collect();
    Ok(stats(hours)
        .map(|s| BTreeMap::from([("all".to_string(), s)]))
        .unwrap_or_default())
}

/// The cohort's heart screens with a device auscultation (AI stethoscope): how many screens,
/// infants, and infants with a suspected murmur.
pub(crate) fn auscultation(
    conn: &mut AnyConnection,
    c: &Cohort,
) -> Result<BTreeMap<String, i64>, AppError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        screens: i64,
        #[diesel(sql_type = BigInt)]
        infants: i64,
        #[diesel(sql_type = BigInt)]
        suspected: i64,
    }
    let sql = format!(
        "SELECT COUNT(*) AS screens, COUNT(DISTINCT s.infant_id) AS infants, \
         COUNT(DISTINCT CASE WHEN s.auscultation_result = 'suspected_murmur' THEN s.infant_id END) AS suspected \
         FROM cchd_screens s JOIN infants i ON i.id = s.infant_id \
         WHERE {} AND s.auscultation_method IS NOT NULL",
        cohort_where(c)
    );
    let r: Row = diesel::sql_query(sql).get_result(conn)?;
    Ok(BTreeMap::from([
        ("screens".to_string(), r.screens),
        ("infants".to_string(), r.infants),
        ("suspected_murmur_infants".to_string(), r.suspected),
    ]))
}

/// First cards per collection-age band (hours of life when collected), from an hourly
/// histogram grouped in SQL.
pub(crate) fn collection_ages(
    conn: &mut AnyConnection,
    c: &Cohort,
) -> Result<BTreeMap<String, i64>, AppError> {
    let b = conn.backend();
    // Whole hours, rounded down: SQL integer division truncates toward zero, and a card is
    // never collected before birth.
    let sql = format!(
        "SELECT {m} / 60 AS key, COUNT(*) AS n FROM quality_card_facts f \
         WHERE {cohort} AND f.first_card = 1 GROUP BY {m} / 60",
        m = crate::db::sql::minutes_floor(b, "f.birth_at", "f.collected_at"),
        cohort = cohort_where_as(c, "f"),
    );
    let hours: Vec<Bucket> = diesel::sql_query(sql).load(conn)?;
    let mut out: BTreeMap<String, i64> = AGE_BANDS
        .iter()
        .map(|(k, _, _)| (k.to_string(), 0))
        .collect();
    for h in hours {
        if let Some((k, _, _)) = AGE_BANDS
            .iter()
            .find(|(_, lo, hi)| h.key >= *lo && h.key < *hi)
        {
            *out.entry(k.to_string()).or_default() += h.n;
        }
    }
    Ok(out)
}

/// Collection-age bands of first cards: `(key, from hours, to hours)`, lower bound included.
pub const AGE_BANDS: [(&str, i64, i64); 6] = [
    ("under_24h", 0, 24),
    ("24h_to_48h", 24, 48),
    ("48h_to_72h", 48, 72),
    ("72h_to_7d", 72, 168),
    ("7d_to_20d", 168, 480),
    ("over_20d", 480, i64::MAX),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn case(infant: &str, programme: &str, suspected: &str, screened: i32) -> PositiveCase {
        PositiveCase {
            infant_id: infant.into(),
            programme: programme.into(),
            tier: "T2".into(),
            suspected: Json(serde_json::from_str(suspected).unwrap()),
            catalogue_version: "v1".into(),
            outcome: None,
            opened_at: NaiveDateTime::default(),
            screened,
            first_contact: None,
            recheck: None,
        }
    }

    #[test]
    fn an_infant_counts_once_per_group_and_only_when_screened() {
        let groups: BTreeMap<String, String> = [("PKU", "AA"), ("MSUD", "AA"), ("CH", "E")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let rows = [
            case("a", "DBS", r#"["PKU","MSUD"]"#, 1),
            case("a", "DBS", r#"["CH"]"#, 1),
            case("b", "DBS", r#"["PKU","NEW"]"#, 1),
            case("c", "DBS", r#"["PKU"]"#, 0),
            case("c", "HEAR", "[]", 1),
        ];
        let by = positive_by_group(&rows, &groups, 100);
        let want: BTreeMap<String, [i64; 2]> = [
            ("AA", [2, 100]),
            ("E", [1, 100]),
            ("HEAR", [1, 100]),
            ("other", [1, 100]),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        assert_eq!(by, want);
    }

    #[test]
    fn ppv_per_version_counts_confirmed_outcomes() {
        let mut a = case("a", "DBS", r#"["PKU"]"#, 1);
        a.outcome = Some(Json(CaseOutcome::Confirmed {
            condition: "PKU".into(),
        }));
        let mut b = case("b", "DBS", r#"["PKU"]"#, 1);
        b.outcome = Some(Json(CaseOutcome::RuledOut));
        let mut c = case("c", "DBS", r#"["PKU"]"#, 1);
        c.catalogue_version = "v2".into();
        let by = ppv_by_version(&[a, b, c]);
        assert_eq!(by.get("v1"), Some(&[1, 2]));
        assert_eq!(by.get("v2"), Some(&[0, 1]));
    }
}
