//! What the console's quality dashboard shows besides the report itself: one coverage
//! indicator per hospital (against its target), and coverage and recall rate month by month of
//! birth over the period (the trend). Counted with the report's own definitions
//! (`db::models::quality::indicators`), so every figure agrees with the report and its
//! drill-down.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};

use crate::config::QualitySettings;
use crate::db::AnyConnection;
use crate::db::models::quality::indicators;
use crate::domain::catalogue::Programme;
use crate::domain::ids::HospitalId;
use crate::domain::quality::{Indicator, Limits};
use crate::error::AppError;
use crate::services::quality::report::{Cohort, IndicatorValue, report};

/// A count: numerator and denominator.
pub type Count = (i64, i64);

/// The dashboard's figures.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// The report's indicators (as `GET /api/v1/reports/quality` gives them).
    pub indicators: Vec<IndicatorValue>,
    /// The coverage indicator the charts follow (the programme filter's, else blood spot).
    pub coverage: Indicator,
    /// That coverage per hospital (hospitals with births only).
    pub coverage_by_hospital: Vec<(HospitalId, Count)>,
    /// Per month of birth (`YYYY-MM`): the coverage and the recall rate.
    pub months: Vec<(String, BTreeMap<Indicator, Count>)>,
    /// Escalation rungs fired on the cohort's cases: (rung, hospital, how many).
    pub rungs: Vec<(String, HospitalId, i64)>,
    /// Condition code → group (`E`, `AA`, `OA`, `FAO`), from the catalogue in force.
    pub groups: BTreeMap<String, String>,
}

/// The coverage indicator of a programme filter (blood spot without one).
pub fn coverage_of(programme: Option<Programme>) -> Indicator {
    match programme {
        Some(Programme::Hear) => Indicator::HearingCoverage,
        Some(Programme::Cchd) => Indicator::CchdCoverage,
        _ => Indicator::DbsCoverage,
    }
}

/// The months (first and last day) that meet `[from, to]`, clipped to it.
pub fn months(from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let first_next = NaiveDate::from_ymd_opt(
            if start.month() == 12 {
                start.year() + 1
            } else {
                start.year()
            },
            if start.month() == 12 {
                1
            } else {
                start.month() + 1
            },
            1,
        );
        let Some(first_next) = first_next else { break };
        let end = (first_next - Duration::days(1)).min(to);
        out.push((start, end));
        start = first_next;
    }
    out
}

/// Computes the dashboard for a cohort.
pub fn build(
    conn: &mut AnyConnection,
    c: &Cohort,
    q: &QualitySettings,
    lim: &Limits,
) -> Result<Dashboard, AppError> {
    let indicators = report(conn, c, q, lim)?;
    let coverage = coverage_of(c.programme);
    crate::db::sql::with_set_memory(conn, |conn| {
        let coverage_by_hospital = if c.hospital_id.is_some() {
            Vec::new()
        } else {
            indicators::count_by_hospital(conn, &c.births(), lim, coverage)?
                .into_iter()
                .map(|(h, n, d)| (h, (n, d)))
                .collect()
        };
        let trend = [coverage, Indicator::RecallRate];
        let mut per: BTreeMap<String, BTreeMap<Indicator, Count>> = months(c.from, c.to)
            .into_iter()
            .map(|(from, _)| (from.format("%Y-%m").to_string(), BTreeMap::new()))
            .collect();
        for ind in trend {
            for (m, n, d) in indicators::count_by_month(conn, &c.births(), lim, ind)? {
                if let Some(e) = per.get_mut(&m) {
                    e.insert(ind, (n, d));
                }
            }
        }
        let by_month: Vec<(String, BTreeMap<Indicator, Count>)> = per.into_iter().collect();
        let rungs = crate::db::models::quality::breakdowns::rungs_fired(conn, &c.births())?
            .into_iter()
            .map(|r| (r.rung, r.hospital_id, r.n))
            .collect();
        Ok(Dashboard {
            indicators,
            coverage,
            coverage_by_hospital,
            months: by_month,
            rungs,
            groups: lim.groups.clone(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_splits_into_its_calendar_months() {
        assert_eq!(
            months(d("2026-11-15"), d("2027-01-10")),
            vec![
                (d("2026-11-15"), d("2026-11-30")),
                (d("2026-12-01"), d("2026-12-31")),
                (d("2027-01-01"), d("2027-01-10")),
            ]
        );
        assert_eq!(months(d("2026-02-01"), d("2026-02-28")).len(), 1);
        assert!(months(d("2026-03-01"), d("2026-02-28")).is_empty());
    }
}
