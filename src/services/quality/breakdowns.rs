//! Breakdowns attached to indicators: interval statistics by tier (first contact, recall), card
//! turnaround (receipt to report), the collection-age distribution of first cards, the positive
//! rate per condition group, and PPV per suspected condition and per catalogue version. They
//! are computed here from the cohort's screen-positive cases (about 2% of births, loaded once)
//! and from histograms of the card facts (`db::models::quality::breakdowns`).

use std::collections::{BTreeMap, BTreeSet};

use crate::db::AnyConnection;
use crate::db::models::quality::breakdowns as rows;
use crate::db::models::quality::breakdowns::PositiveCase;
use crate::db::models::quality::indicators::Births;
use crate::db::types::UtcMicros;
use crate::domain::case::CaseOutcome;
use crate::domain::catalogue::Programme;
use crate::domain::ids::InfantId;
use crate::domain::quality::{IntervalStats, stats};
use crate::error::AppError;

/// Hours from opening to `end`, for all cases and per tier.
pub fn intervals(
    rows: &[PositiveCase],
    end: impl Fn(&PositiveCase) -> Option<UtcMicros>,
) -> BTreeMap<String, IntervalStats> {
    let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in rows {
        if let Some(t) = end(r) {
            let h = (t.utc() - r.opened_at.utc()).num_seconds() as f64 / 3600.0;
            by.entry("all".into()).or_default().push(h);
            by.entry(r.tier.as_str().into()).or_default().push(h);
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
pub fn ppv_by_condition(rows: &[PositiveCase]) -> BTreeMap<String, [i64; 2]> {
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
pub fn ppv_by_version(rows: &[PositiveCase]) -> BTreeMap<String, [i64; 2]> {
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
pub fn positive_by_group(
    rows: &[PositiveCase],
    groups: &BTreeMap<String, String>,
    screened: i64,
) -> BTreeMap<String, [i64; 2]> {
    let mut seen: BTreeSet<(String, InfantId)> = BTreeSet::new();
    for r in rows.iter().filter(|r| r.screened == 1) {
        match r.programme {
            Programme::Dbs => {
                for code in suspected(r) {
                    let g = groups.get(&code).cloned().unwrap_or_else(|| "other".into());
                    seen.insert((g, r.infant_id));
                }
            }
            Programme::Hear | Programme::Cchd => {
                seen.insert((r.programme.as_str().into(), r.infant_id));
            }
        }
    }
    let mut by: BTreeMap<String, [i64; 2]> = BTreeMap::new();
    for (g, _) in seen {
        by.entry(g).or_insert([0, screened])[0] += 1;
    }
    by
}

/// Hours from receipt to the first reported result, over the cohort's received and reported
/// cards (to the minute).
pub fn turnaround(
    conn: &mut AnyConnection,
    births: &Births,
) -> Result<BTreeMap<String, IntervalStats>, AppError> {
    let buckets = rows::turnaround_minutes(conn, births)?;
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
pub fn auscultation(
    conn: &mut AnyConnection,
    births: &Births,
) -> Result<BTreeMap<String, i64>, AppError> {
    let r = rows::auscultation(conn, births)?;
    Ok(BTreeMap::from([
        ("screens".to_string(), r.screens),
        ("infants".to_string(), r.infants),
        ("suspected_murmur_infants".to_string(), r.suspected),
    ]))
}

/// First cards per collection-age band (hours of life when collected).
pub fn collection_ages(
    conn: &mut AnyConnection,
    births: &Births,
) -> Result<BTreeMap<String, i64>, AppError> {
    let hours = rows::collection_hours(conn, births)?;
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

/// Age at treatment start (hours of life): median and p90 over all the cohort's treated
/// episodes (`all`) and per condition.
pub fn treatment_ages(
    conn: &mut AnyConnection,
    births: &Births,
) -> Result<BTreeMap<String, IntervalStats>, AppError> {
    let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in rows::treatment_starts(conn, births)? {
        let h = (r.started_at.utc() - r.birth_at.utc()).num_seconds() as f64 / 3600.0;
        by.entry("all".into()).or_default().push(h);
        by.entry(r.condition).or_default().push(h);
    }
    Ok(by
        .into_iter()
        .filter_map(|(k, v)| stats(v).map(|s| (k, s)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::types::Json;

    fn case(infant: u128, programme: Programme, suspected: &str, screened: i32) -> PositiveCase {
        PositiveCase {
            infant_id: InfantId(uuid::Uuid::from_u128(infant)),
            programme,
            tier: crate::domain::catalogue::Tier::T2,
            suspected: Json(serde_json::from_str(suspected).unwrap()),
            catalogue_version: "v1".into(),
            outcome: None,
            opened_at: UtcMicros::new(chrono::DateTime::UNIX_EPOCH),
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
            case(1, Programme::Dbs, r#"["PKU","MSUD"]"#, 1),
            case(1, Programme::Dbs, r#"["CH"]"#, 1),
            case(2, Programme::Dbs, r#"["PKU","NEW"]"#, 1),
            case(3, Programme::Dbs, r#"["PKU"]"#, 0),
            case(3, Programme::Hear, "[]", 1),
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
        let mut a = case(1, Programme::Dbs, r#"["PKU"]"#, 1);
        a.outcome = Some(Json(CaseOutcome::Confirmed {
            condition: "PKU".into(),
        }));
        let mut b = case(2, Programme::Dbs, r#"["PKU"]"#, 1);
        b.outcome = Some(Json(CaseOutcome::RuledOut));
        let mut c = case(3, Programme::Dbs, r#"["PKU"]"#, 1);
        c.catalogue_version = "v2".into();
        let by = ppv_by_version(&[a, b, c]);
        assert_eq!(by.get("v1"), Some(&[1, 2]));
        assert_eq!(by.get("v2"), Some(&[0, 1]));
    }
}
