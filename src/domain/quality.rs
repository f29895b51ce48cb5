//! Quality indicators (catalogue §9) as one closed set: [`Indicator`] names every indicator, and
//! [`Indicator::def`] gives its level, programme, direction, names, definition, source and the
//! breakdown it carries. How each is counted lives in `db::models::quality::indicators` (an
//! exhaustive match over the same enum), so adding an indicator is one variant here and the
//! compiler lists what else to fill. Also the age limits the definitions use ([`Limits`]), the
//! cohort's birth span in China Standard Time, and the interval statistics (median, 90th
//! percentile) the follow-up indicators report by tier.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::catalogue::{Catalogue, Programme};

/// What an indicator counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Infants born in the period.
    Infant,
    /// Blood-spot cards of infants born in the period.
    Card,
    /// Follow-up cases of infants born in the period.
    Case,
    /// Management episodes (高危儿专案管理) of infants born in the period.
    Episode,
}

/// Every quality indicator, in report order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Indicator {
    /// Blood-spot screening coverage.
    #[serde(rename = "dbs_coverage")]
    DbsCoverage,
    /// Hearing screening coverage.
    #[serde(rename = "hearing_coverage")]
    HearingCoverage,
    /// Heart (CCHD) screening coverage.
    #[serde(rename = "cchd_coverage")]
    CchdCoverage,
    /// Blood-spot refusals.
    #[serde(rename = "dbs_refusal_rate")]
    DbsRefusalRate,
    /// Hearing refusals.
    #[serde(rename = "hearing_refusal_rate")]
    HearingRefusalRate,
    /// Heart screen refusals.
    #[serde(rename = "cchd_refusal_rate")]
    CchdRefusalRate,
    /// Consent or refusal recorded.
    #[serde(rename = "consent_awareness")]
    ConsentAwareness,
    /// Unsatisfactory cards.
    #[serde(rename = "unsatisfactory_cards")]
    UnsatisfactoryCards,
    /// Unsatisfactory cards never recollected.
    #[serde(rename = "unsatisfactory_not_recollected")]
    UnsatisfactoryNotRecollected,
    /// Late cards.
    #[serde(rename = "late_cards")]
    LateCards,
    /// First cards collected before 48 h.
    #[serde(rename = "early_collection")]
    EarlyCollection,
    /// First cards collected after day 7.
    #[serde(rename = "late_collection")]
    LateCollection,
    /// Results reported in time.
    #[serde(rename = "report_timeliness")]
    ReportTimeliness,
    /// Screen-positive rate.
    #[serde(rename = "positive_rate")]
    PositiveRate,
    /// Recall rate.
    #[serde(rename = "recall_rate")]
    RecallRate,
    /// First contact in time.
    #[serde(rename = "first_contact_timeliness")]
    FirstContactTimeliness,
    /// Recall in time.
    #[serde(rename = "recall_timeliness")]
    RecallTimeliness,
    /// Lost to follow-up.
    #[serde(rename = "lost_to_follow_up")]
    LostToFollowUp,
    /// Positive predictive value.
    #[serde(rename = "confirmed_ppv")]
    ConfirmedPpv,
    /// Hearing rescreen by 42 days.
    #[serde(rename = "hearing_rescreen_by_42d")]
    HearingRescreenBy42d,
    /// Hearing diagnosis by 3 months.
    #[serde(rename = "hearing_diagnosis_by_3m")]
    HearingDiagnosisBy3m,
    /// Hearing intervention by 6 months.
    #[serde(rename = "hearing_intervention_by_6m")]
    HearingInterventionBy6m,
    /// Echocardiography after a positive heart screen.
    #[serde(rename = "cchd_echo_completion")]
    CchdEchoCompletion,
    /// Confirmed cases registered for long-term management.
    #[serde(rename = "management_registration")]
    ManagementRegistration,
    /// Management episodes reported to the province.
    #[serde(rename = "management_reporting")]
    ManagementReporting,
    /// Treatment started by the plan's target.
    #[serde(rename = "management_treatment_timeliness")]
    ManagementTreatmentTimeliness,
    /// Every follow-up contact due so far done within its window (随访率).
    #[serde(rename = "management_follow_up_rate")]
    ManagementFollowUpRate,
    /// Episodes closed as lost to follow-up.
    #[serde(rename = "management_lost")]
    ManagementLost,
}

super::text_enum!(Indicator {
    DbsCoverage = "dbs_coverage",
    HearingCoverage = "hearing_coverage",
    CchdCoverage = "cchd_coverage",
    DbsRefusalRate = "dbs_refusal_rate",
    HearingRefusalRate = "hearing_refusal_rate",
    CchdRefusalRate = "cchd_refusal_rate",
    ConsentAwareness = "consent_awareness",
    UnsatisfactoryCards = "unsatisfactory_cards",
    UnsatisfactoryNotRecollected = "unsatisfactory_not_recollected",
    LateCards = "late_cards",
    EarlyCollection = "early_collection",
    LateCollection = "late_collection",
    ReportTimeliness = "report_timeliness",
    PositiveRate = "positive_rate",
    RecallRate = "recall_rate",
    FirstContactTimeliness = "first_contact_timeliness",
    RecallTimeliness = "recall_timeliness",
    LostToFollowUp = "lost_to_follow_up",
    ConfirmedPpv = "confirmed_ppv",
    HearingRescreenBy42d = "hearing_rescreen_by_42d",
    HearingDiagnosisBy3m = "hearing_diagnosis_by_3m",
    HearingInterventionBy6m = "hearing_intervention_by_6m",
    CchdEchoCompletion = "cchd_echo_completion",
    ManagementRegistration = "management_registration",
    ManagementReporting = "management_reporting",
    ManagementTreatmentTimeliness = "management_treatment_timeliness",
    ManagementFollowUpRate = "management_follow_up_rate",
    ManagementLost = "management_lost",
});

/// The extra figures an indicator's value carries besides its numerator and denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    /// No breakdown.
    Plain,
    /// Hours from the result to the first contact with the family: median and p90, by tier.
    FirstContactIntervals,
    /// Hours from the result to the recheck: median and p90, by tier.
    RecheckIntervals,
    /// Confirmed cases per suspected condition and per catalogue version.
    Ppv,
    /// Screen-positive infants per condition group.
    ByGroup,
    /// Hours from card receipt to the first reported result.
    Turnaround,
    /// Heart screens with a device auscultation.
    Auscultation,
    /// First cards per collection-age band.
    CollectionAges,
    /// Age at treatment start (hours): median and p90, all episodes and per condition.
    TreatmentAges,
}

/// One indicator's definition.
#[derive(Debug, Clone, Copy)]
pub struct IndicatorDef {
    /// The indicator.
    pub id: Indicator,
    /// The programme it belongs to, or none for all programmes.
    pub programme: Option<Programme>,
    /// What is counted.
    pub level: Level,
    /// A lower value is better (rates of problems).
    pub lower_is_better: bool,
    /// English name.
    pub name_en: &'static str,
    /// Chinese name.
    pub name_zh: &'static str,
    /// Numerator / denominator in one line.
    pub definition: &'static str,
    /// Where the definition comes from.
    pub source: &'static str,
    /// The extra figures its value carries.
    pub breakdown: Breakdown,
}

const CN_QI: &str =
    "NCCL 新生儿遗传代谢病筛查质量指标共识 (2017); Zhejiang 质量控制监测与评价指标 (2020)";
const NEWSTEPS: &str = "NewSTEPs quality indicators";
const MGMT: &str =
    "Zhejiang birth-defect prevention plan: 发现、登记、报告、管理、救治一例 (docs/management.md)";

impl Indicator {
    /// This indicator's definition.
    pub const fn def(self) -> IndicatorDef {
        use Breakdown as B;
        use Level::{Card, Case, Episode, Infant};
        #[allow(clippy::too_many_arguments)]
        const fn d(
            id: Indicator,
            programme: Option<Programme>,
            level: Level,
            lower_is_better: bool,
            name_en: &'static str,
            name_zh: &'static str,
            definition: &'static str,
            source: &'static str,
            breakdown: Breakdown,
        ) -> IndicatorDef {
            IndicatorDef {
                id,
                programme,
                level,
                lower_is_better,
                name_en,
                name_zh,
                definition,
                source,
                breakdown,
            }
        }
        match self {
            Indicator::DbsCoverage => d(
                self,
                Some(Programme::Dbs),
                Infant,
                false,
                "Blood-spot screening coverage",
                "新筛率（遗传代谢病）",
                "infants with an acceptable (or not yet assessed) card collected by day 20 / live births registered, less infants who died unscreened before day 20",
                CN_QI,
                B::Plain,
            ),
            Indicator::HearingCoverage => d(
                self,
                Some(Programme::Hear),
                Infant,
                false,
                "Hearing screening coverage",
                "听力筛查率",
                "infants with an initial or rescreen hearing test / live births registered, less infants who died unscreened before the initial-screen age",
                "Zhejiang NBS programme targets",
                B::Plain,
            ),
            Indicator::CchdCoverage => d(
                self,
                Some(Programme::Cchd),
                Infant,
                false,
                "Heart (CCHD) screening coverage",
                "先心病筛查率",
                "infants with a pulse-oximetry screen / live births registered, less infants who died unscreened before the screening age",
                "National CHD screening programme (2018)",
                B::Auscultation,
            ),
            Indicator::DbsRefusalRate => d(
                self,
                Some(Programme::Dbs),
                Infant,
                false,
                "Blood-spot refusals",
                "新筛拒筛率",
                "infants whose latest blood-spot decision is a refusal / live births registered (reported, no target)",
                NEWSTEPS,
                B::Plain,
            ),
            Indicator::HearingRefusalRate => d(
                self,
                Some(Programme::Hear),
                Infant,
                false,
                "Hearing refusals",
                "听筛拒筛率",
                "infants whose latest hearing decision is a refusal / live births registered (reported, no target)",
                NEWSTEPS,
                B::Plain,
            ),
            Indicator::CchdRefusalRate => d(
                self,
                Some(Programme::Cchd),
                Infant,
                false,
                "Heart screen refusals",
                "先心筛查拒筛率",
                "infants whose latest heart-screen decision is a refusal / live births registered (reported, no target)",
                NEWSTEPS,
                B::Plain,
            ),
            Indicator::ConsentAwareness => d(
                self,
                None,
                Infant,
                false,
                "Consent or refusal recorded",
                "新筛健康教育知晓率",
                "infants with a signed consent or refusal for any programme / live births registered",
                CN_QI,
                B::Plain,
            ),
            Indicator::UnsatisfactoryCards => d(
                self,
                Some(Programme::Dbs),
                Card,
                true,
                "Unsatisfactory cards",
                "血片不合格率",
                "cards assessed unsatisfactory by the laboratory / cards assessed",
                CN_QI,
                B::Plain,
            ),
            Indicator::UnsatisfactoryNotRecollected => d(
                self,
                Some(Programme::Dbs),
                Infant,
                true,
                "Unsatisfactory cards never recollected",
                "不合格血片未补采率",
                "infants whose latest unsatisfactory card has no later acceptable or pending card / infants with an unsatisfactory card",
                CN_QI,
                B::Plain,
            ),
            Indicator::LateCards => d(
                self,
                Some(Programme::Dbs),
                Card,
                true,
                "Late cards",
                "血片迟递率",
                "cards received more than quality.late_card_days after collection / cards received",
                CN_QI,
                B::Plain,
            ),
            Indicator::EarlyCollection => d(
                self,
                Some(Programme::Dbs),
                Card,
                true,
                "First cards collected before 48 h",
                "48小时内采血率",
                "first cards collected before 48 h of age / first cards",
                "Catalogue §3 (collection 48 h – 7 days)",
                B::CollectionAges,
            ),
            Indicator::LateCollection => d(
                self,
                Some(Programme::Dbs),
                Card,
                true,
                "First cards collected after day 7",
                "7天后采血率",
                "first cards collected after 7 days of age / first cards",
                "Catalogue §3 (collection 48 h – 7 days)",
                B::CollectionAges,
            ),
            Indicator::ReportTimeliness => d(
                self,
                Some(Programme::Dbs),
                Card,
                false,
                "Results reported in time",
                "检验报告发出及时率",
                "received cards interpreted within quality.report_days of receipt / received cards interpreted",
                CN_QI,
                B::Turnaround,
            ),
            Indicator::PositiveRate => d(
                self,
                None,
                Infant,
                false,
                "Screen-positive rate",
                "初筛阳性率",
                "screened infants with a positive, borderline-repeat or refer case / screened infants (reported, no target)",
                NEWSTEPS,
                B::ByGroup,
            ),
            Indicator::RecallRate => d(
                self,
                None,
                Case,
                false,
                "Recall rate",
                "召回复查率",
                "screen-positive cases rechecked (recheck done, work-up, or a diagnostic outcome) / screen-positive cases",
                CN_QI,
                B::Plain,
            ),
            Indicator::FirstContactTimeliness => d(
                self,
                None,
                Case,
                false,
                "First contact in time",
                "首次联系及时率",
                "screen-positive cases whose family was first reached by the first-contact deadline / screen-positive cases; median and p90 of result → first contact, by tier",
                "Catalogue §6",
                B::FirstContactIntervals,
            ),
            Indicator::RecallTimeliness => d(
                self,
                None,
                Case,
                false,
                "Recall in time",
                "召回及时率",
                "screen-positive cases rechecked by the recall deadline / screen-positive cases; median and p90 of result → recheck, by tier",
                "Catalogue §6",
                B::RecheckIntervals,
            ),
            Indicator::LostToFollowUp => d(
                self,
                None,
                Case,
                true,
                "Lost to follow-up",
                "失访率",
                "screen-positive cases now resolved as lost to follow-up / screen-positive cases",
                CN_QI,
                B::Plain,
            ),
            Indicator::ConfirmedPpv => d(
                self,
                None,
                Case,
                false,
                "Positive predictive value",
                "阳性预测值",
                "screen-positive cases confirmed with a condition / screen-positive cases (reported per suspected condition too)",
                NEWSTEPS,
                B::Ppv,
            ),
            Indicator::HearingRescreenBy42d => d(
                self,
                Some(Programme::Hear),
                Infant,
                false,
                "Hearing rescreen by 42 days",
                "42天复筛率",
                "infants referred at the initial hearing screen with a rescreen by day 42 / infants referred at the initial screen",
                "1-3-6 pathway (catalogue §4)",
                B::Plain,
            ),
            Indicator::HearingDiagnosisBy3m => d(
                self,
                Some(Programme::Hear),
                Infant,
                false,
                "Hearing diagnosis by 3 months",
                "3月龄诊断率",
                "infants with a hearing refer case and a diagnostic assessment by day 90 / infants with a hearing refer case",
                "1-3-6 pathway (catalogue §4)",
                B::Plain,
            ),
            Indicator::HearingInterventionBy6m => d(
                self,
                Some(Programme::Hear),
                Case,
                false,
                "Hearing intervention by 6 months",
                "6月龄干预率",
                "hearing cases resolved as a confirmed hearing loss whose infant started an intervention by day 180 / hearing cases resolved as a confirmed hearing loss",
                "1-3-6 pathway (catalogue §4); Jiangsu hearing-screening QC standard (intervene within 6 months)",
                B::Plain,
            ),
            Indicator::CchdEchoCompletion => d(
                self,
                Some(Programme::Cchd),
                Case,
                false,
                "Echocardiography after a positive heart screen",
                "阳性儿超声心动图完成率",
                "positive heart-screen cases rechecked (echo done, work-up, or a diagnostic outcome) / positive heart-screen cases",
                "National CHD screening programme (2018)",
                B::Plain,
            ),
            Indicator::ManagementRegistration => d(
                self,
                None,
                Case,
                false,
                "Confirmed cases registered for management",
                "确诊病例登记率",
                "cases resolved as confirmed with a management episode opened for them / cases resolved as confirmed",
                MGMT,
                B::Plain,
            ),
            Indicator::ManagementReporting => d(
                self,
                None,
                Episode,
                false,
                "Management episodes reported to the province",
                "确诊病例报告率",
                "episodes with a provincial report recorded / episodes, less those closed as diagnosis revised",
                MGMT,
                B::Plain,
            ),
            Indicator::ManagementTreatmentTimeliness => d(
                self,
                None,
                Episode,
                false,
                "Treatment started by the plan's target",
                "及时治疗率",
                "episodes whose treatment started by the plan's target / episodes with a treatment target that has passed or whose treatment started, less those closed as diagnosis revised",
                MGMT,
                B::TreatmentAges,
            ),
            Indicator::ManagementFollowUpRate => d(
                self,
                None,
                Episode,
                false,
                "Follow-up contacts done within their windows",
                "随访率",
                "episodes whose every contact with a closed window was done within it / episodes with a contact whose window has closed (cancelled contacts left out)",
                MGMT,
                B::Plain,
            ),
            Indicator::ManagementLost => d(
                self,
                None,
                Episode,
                true,
                "Lost to management",
                "失访率（专案管理）",
                "episodes closed as lost to follow-up / episodes, less those closed as diagnosis revised",
                MGMT,
                B::Plain,
            ),
        }
    }

    /// Whether it measures long-term management (the episodes, or the cases that open them).
    pub const fn is_management(self) -> bool {
        matches!(
            self,
            Indicator::ManagementRegistration
                | Indicator::ManagementReporting
                | Indicator::ManagementTreatmentTimeliness
                | Indicator::ManagementFollowUpRate
                | Indicator::ManagementLost
        )
    }

    /// Whether it is reported for a cohort limited to `programme` (all are, without a limit).
    pub fn applies_to(self, programme: Option<Programme>) -> bool {
        if programme.is_some() && self.is_management() {
            // Episodes carry a condition, not a programme: reported for the whole cohort only.
            return false;
        }
        match (programme, self.def().programme) {
            (Some(p), Some(own)) => p == own,
            _ => true,
        }
    }
}

/// The ages and delays the definitions use, from the catalogue and the quality settings.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A blood-spot card counts for coverage when collected by this age.
    pub dbs: Duration,
    /// A card collected before this age is early.
    pub dbs_early: Duration,
    /// A card collected after this age is late.
    pub dbs_late: Duration,
    /// Initial hearing screen by this age.
    pub hearing: Duration,
    /// Hearing rescreen by this age.
    pub hearing_rescreen: Duration,
    /// Diagnostic audiology by this age.
    pub hearing_diagnosis: Duration,
    /// Hearing intervention by this age.
    pub hearing_intervention: Duration,
    /// Heart screen by this age.
    pub cchd: Duration,
    /// A card received more than this long after collection is late.
    pub late_card: Duration,
    /// A result reported more than this long after receipt is late.
    pub report: Duration,
    /// Condition code → group (`E`, `AA`, `OA`, `FAO`), for the positive rate per group.
    pub groups: BTreeMap<String, String>,
}

impl Limits {
    /// From a catalogue and the quality settings' delays (days).
    pub fn of(c: &Catalogue, late_card_days: i64, report_days: i64) -> Self {
        Self {
            dbs: Duration::days(c.specimen.max_collection_age_days),
            dbs_early: Duration::hours(c.specimen.min_collection_age_hours),
            dbs_late: Duration::days(c.specimen.normal_collection_max_days),
            hearing: Duration::days(c.hearing.initial_by_days),
            hearing_rescreen: Duration::days(c.hearing.rescreen_by_days),
            hearing_diagnosis: Duration::days(c.hearing.diagnosis_by_days),
            hearing_intervention: Duration::days(c.hearing.intervention_by_days),
            cchd: Duration::hours(c.cchd.screen_by_hours),
            late_card: Duration::days(late_card_days),
            report: Duration::days(report_days),
            groups: c
                .conditions
                .iter()
                .map(|k| (k.code.clone(), k.group.clone()))
                .collect(),
        }
    }

    /// The coverage age limit of a programme.
    pub fn coverage_age(&self, p: Programme) -> Duration {
        match p {
            Programme::Dbs => self.dbs,
            Programme::Hear => self.hearing,
            Programme::Cchd => self.cchd,
        }
    }
}

/// Births from the start of local day `from` to the end of local day `to` (China Standard Time),
/// as UTC instants: `[start, end)`.
pub fn birth_span(from: NaiveDate, to: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let tz = FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix());
    let at = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
            .single()
            .map_or_else(
                || Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)),
                |t| t.with_timezone(&Utc),
            )
    };
    (at(from), at(to + Duration::days(1)))
}

/// Which members of an indicator a drill-down lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The denominator.
    Denominator,
    /// The numerator.
    Numerator,
    /// The members that miss the goal: the denominator less the numerator, or for rates of
    /// problems the numerator.
    Gap,
}

/// Median, 90th percentile and count of a set of durations (hours).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntervalStats {
    /// How many values.
    pub n: usize,
    /// Median, hours.
    pub median_hours: f64,
    /// 90th percentile, hours.
    pub p90_hours: f64,
}

/// Nearest-rank percentile `p` (0–1] of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// Median (mean of the middle two for an even count) and nearest-rank p90.
pub fn stats(mut values: Vec<f64>) -> Option<IntervalStats> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return None;
    }
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    Some(IntervalStats {
        n,
        median_hours: median,
        p90_hours: percentile(&values, 0.9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90() {
        let s = stats(vec![5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.n, s.median_hours, s.p90_hours), (5, 3.0, 5.0));
        let s = stats((1..=10).map(f64::from).collect()).unwrap();
        assert_eq!((s.median_hours, s.p90_hours), (5.5, 9.0));
        assert!(stats(vec![]).is_none());
        assert_eq!(percentile(&[7.0], 0.9), Some(7.0));
    }

    #[test]
    fn each_indicator_has_its_own_definition_and_one_text() {
        for &i in Indicator::ALL {
            assert_eq!(i.def().id, i);
            assert_eq!(Indicator::parse(i.as_str()), Some(i));
            assert_eq!(serde_json::to_value(i).unwrap(), i.as_str());
        }
        assert_eq!(Indicator::parse("nope"), None);
    }

    #[test]
    fn a_programme_filter_keeps_its_own_and_the_shared_indicators() {
        let hearing: Vec<_> = Indicator::ALL
            .iter()
            .filter(|i| i.applies_to(Some(Programme::Hear)))
            .map(|i| i.as_str())
            .collect();
        assert!(hearing.contains(&"hearing_coverage") && hearing.contains(&"recall_rate"));
        assert!(!hearing.contains(&"dbs_coverage") && !hearing.contains(&"cchd_coverage"));
    }

    #[test]
    fn the_birth_span_is_in_china_time() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let (a, b) = birth_span(d("2026-11-01"), d("2026-11-30"));
        assert_eq!(a.to_rfc3339(), "2026-10-31T16:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "2026-11-30T16:00:00+00:00");
    }
}
