//! The quality report over the infants born in a period: every indicator that applies to the
//! cohort's programme filter, counted in one pass per table (`db::models::quality::indicators`),
//! with its target and the breakdown its definition names; and the drill-down that lists an
//! indicator's members from the source tables.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::config::QualitySettings;
use crate::db::AnyConnection;
use crate::db::models::quality::breakdowns::positive_cases;
use crate::db::models::quality::indicators::{self, Births, Member};
use crate::domain::catalogue::Programme;
use crate::domain::ids::HospitalId;
use crate::domain::quality::{
    Breakdown, Indicator, IndicatorDef, IntervalStats, Level, Limits, Part, birth_span,
};
use crate::error::AppError;
use crate::services::quality::breakdowns;

/// The cohort: infants born in `[from, to]` (local dates), optionally of one hospital.
#[derive(Debug, Clone)]
pub struct Cohort {
    /// First day (local).
    pub from: NaiveDate,
    /// Last day (local, inclusive).
    pub to: NaiveDate,
    /// Only this hospital's infants.
    pub hospital_id: Option<HospitalId>,
    /// Only the infants of this district's hospitals.
    pub district: Option<String>,
    /// Only this programme: indicators of other programmes are left out.
    pub programme: Option<Programme>,
    /// As of when (the management indicators count what is due by then).
    pub now: DateTime<Utc>,
}

impl Cohort {
    /// The cohort as the queries bind it (birth span in UTC).
    pub fn births(&self) -> Births {
        let (from, before) = birth_span(self.from, self.to);
        Births {
            from,
            before,
            hospital: self.hospital_id,
            district: self.district.clone(),
            programme: self.programme,
            now: self.now,
        }
    }

    /// The indicators reported for this cohort, in report order.
    pub fn indicators(&self) -> Vec<Indicator> {
        Indicator::ALL
            .iter()
            .copied()
            .filter(|i| i.applies_to(self.programme))
            .collect()
    }
}

/// One indicator's value.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IndicatorValue {
    /// The indicator.
    pub id: Indicator,
    /// Its programme, or none for all programmes.
    pub programme: Option<Programme>,
    /// What is counted.
    pub level: Level,
    /// English name.
    pub name: String,
    /// Chinese name.
    pub name_zh: String,
    /// How many members meet the indicator.
    pub numerator: i64,
    /// How many members the indicator counts over.
    pub denominator: i64,
    /// numerator / denominator; none when the denominator is 0.
    pub value: Option<f64>,
    /// Target (a minimum, or a maximum when `lower_is_better`).
    pub target: Option<f64>,
    /// A lower value is better.
    pub lower_is_better: bool,
    /// Whether the target is met (none without target or value).
    pub met: Option<bool>,
    /// Numerator and denominator in one line.
    pub definition: String,
    /// Source of the definition.
    pub source: String,
    /// Interval statistics (timeliness indicators): all cases, then by tier.
    #[schema(value_type = Option<Object>)]
    pub intervals: Option<BTreeMap<String, IntervalStats>>,
    /// Per suspected condition (PPV): [confirmed, screen-positive].
    #[schema(value_type = Option<Object>)]
    pub by_condition: Option<BTreeMap<String, [i64; 2]>>,
    /// Per condition group (positive rate): [screen-positive infants, screened infants].
    #[schema(value_type = Option<Object>)]
    pub by_group: Option<BTreeMap<String, [i64; 2]>>,
    /// Per catalogue version that opened the case (PPV): [confirmed, screen-positive].
    #[schema(value_type = Option<Object>)]
    pub by_catalogue_version: Option<BTreeMap<String, [i64; 2]>>,
    /// First cards per collection-age band (early and late collection).
    #[schema(value_type = Option<Object>)]
    pub distribution: Option<BTreeMap<String, i64>>,
    /// Heart screens with a device's heart-sound auscultation (AI stethoscope), on the heart
    /// screening coverage: `screens`, `infants`, `suspected_murmur_infants`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub auscultation: Option<BTreeMap<String, i64>>,
}

/// Computes every applicable indicator.
pub fn report(
    conn: &mut AnyConnection,
    c: &Cohort,
    q: &QualitySettings,
    lim: &Limits,
) -> Result<Vec<IndicatorValue>, AppError> {
    crate::db::sql::with_set_memory(conn, |conn| report_in(conn, c, q, lim))
}

fn report_in(
    conn: &mut AnyConnection,
    c: &Cohort,
    q: &QualitySettings,
    lim: &Limits,
) -> Result<Vec<IndicatorValue>, AppError> {
    let births = c.births();
    let inds = c.indicators();
    let counts = indicators::count(conn, &births, lim, &inds)?;
    let positives = positive_cases(conn, &births, lim)?;
    let mut ages = None;
    let mut out = Vec::new();
    for ind in inds {
        let (num, den) = counts.get(&ind).copied().ok_or_else(|| {
            AppError::Unexpected(anyhow::anyhow!("indicator {ind} was not counted"))
        })?;
        let d = ind.def();
        let mut v = value(&d, num, den, q);
        match d.breakdown {
            Breakdown::Plain => {}
            Breakdown::FirstContactIntervals => {
                v.intervals = Some(breakdowns::intervals(&positives, |r| r.first_contact));
            }
            Breakdown::RecheckIntervals => {
                v.intervals = Some(breakdowns::intervals(&positives, |r| r.recheck));
            }
            Breakdown::Ppv => {
                v.by_condition = Some(breakdowns::ppv_by_condition(&positives));
                v.by_catalogue_version = Some(breakdowns::ppv_by_version(&positives));
            }
            Breakdown::ByGroup => {
                v.by_group = Some(breakdowns::positive_by_group(&positives, &lim.groups, den));
            }
            Breakdown::Turnaround => v.intervals = Some(breakdowns::turnaround(conn, &births)?),
            Breakdown::Auscultation => {
                v.auscultation = Some(breakdowns::auscultation(conn, &births)?);
            }
            Breakdown::CollectionAges => {
                if ages.is_none() {
                    ages = Some(breakdowns::collection_ages(conn, &births)?);
                }
                v.distribution = ages.clone();
            }
            Breakdown::TreatmentAges => {
                v.intervals = Some(breakdowns::treatment_ages(conn, &births)?);
            }
        }
        out.push(v);
    }
    Ok(out)
}

fn value(d: &IndicatorDef, num: i64, den: i64, q: &QualitySettings) -> IndicatorValue {
    let value = (den > 0).then(|| num as f64 / den as f64);
    let target = q.targets.get(&d.id).copied();
    let met = match (value, target) {
        (Some(v), Some(t)) if d.lower_is_better => Some(v <= t),
        (Some(v), Some(t)) => Some(v >= t),
        _ => None,
    };
    IndicatorValue {
        id: d.id,
        programme: d.programme,
        level: d.level,
        name: d.name_en.into(),
        name_zh: d.name_zh.into(),
        numerator: num,
        denominator: den,
        value,
        target,
        lower_is_better: d.lower_is_better,
        met,
        definition: d.definition.into(),
        source: d.source.into(),
        intervals: None,
        by_condition: None,
        by_group: None,
        by_catalogue_version: None,
        distribution: None,
        auscultation: None,
    }
}

/// Which page of an indicator's members to list.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Which members.
    pub part: Part,
    /// After this id.
    pub after: Option<uuid::Uuid>,
    /// At most this many.
    pub limit: i64,
}

/// Lists the members of an indicator, by id.
pub fn members(
    conn: &mut AnyConnection,
    ind: Indicator,
    c: &Cohort,
    lim: &Limits,
    page: Page,
) -> Result<Vec<Member>, AppError> {
    let births = c.births();
    crate::db::sql::with_set_memory(conn, |conn| {
        Ok(indicators::members(
            conn, ind, &births, lim, page.part, page.after, page.limit,
        )?)
    })
}

/// The previous calendar month of `now` (China Standard Time).
pub fn previous_month(now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let today = crate::services::admin::versions::local_day(now);
    let first_this = today.with_day0(0).unwrap_or(today);
    let last_prev = first_this - Duration::days(1);
    (last_prev.with_day0(0).unwrap_or(last_prev), last_prev)
}
