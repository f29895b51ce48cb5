//! Quality indicators (catalogue §9) as data: each indicator's id, level, programme, whether a
//! lower value is better, and its one-line definition and source; plus the interval statistics
//! (median, 90th percentile) the follow-up indicators report by tier.

use serde::Serialize;

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
}

/// One indicator's definition.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct IndicatorDef {
    /// Stable id (`dbs_coverage`, `recall_rate`, …).
    pub id: &'static str,
    /// `DBS`, `HEAR`, `CCHD`, or none for all programmes.
    pub programme: Option<&'static str>,
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
}

#[allow(clippy::too_many_arguments)]
const fn def(
    id: &'static str,
    programme: Option<&'static str>,
    level: Level,
    lower_is_better: bool,
    name_en: &'static str,
    name_zh: &'static str,
    definition: &'static str,
    source: &'static str,
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
    }
}

const CN_QI: &str =
    "NCCL 新生儿遗传代谢病筛查质量指标共识 (2017); Zhejiang 质量控制监测与评价指标 (2020)";
const NEWSTEPS: &str = "NewSTEPs quality indicators";

/// Every indicator, in report order.
pub const INDICATORS: &[IndicatorDef] = &[
    def(
        "dbs_coverage",
        Some("DBS"),
        Level::Infant,
        false,
        "Blood-spot screening coverage",
        "新筛率（遗传代谢病）",
        "infants with an acceptable (or not yet assessed) card collected by day 20 / live births registered, less infants who died unscreened before day 20",
        CN_QI,
    ),
    def(
        "hearing_coverage",
        Some("HEAR"),
        Level::Infant,
        false,
        "Hearing screening coverage",
        "听力筛查率",
        "infants with an initial or rescreen hearing test / live births registered, less infants who died unscreened before the initial-screen age",
        "Zhejiang NBS programme targets",
    ),
    def(
        "cchd_coverage",
        Some("CCHD"),
        Level::Infant,
        false,
        "Heart (CCHD) screening coverage",
        "先心病筛查率",
        "infants with a pulse-oximetry screen / live births registered, less infants who died unscreened before the screening age",
        "National CHD screening programme (2018)",
    ),
    def(
        "dbs_refusal_rate",
        Some("DBS"),
        Level::Infant,
        false,
        "Blood-spot refusals",
        "新筛拒筛率",
        "infants whose latest blood-spot decision is a refusal / live births registered (reported, no target)",
        NEWSTEPS,
    ),
    def(
        "hearing_refusal_rate",
        Some("HEAR"),
        Level::Infant,
        false,
        "Hearing refusals",
        "听筛拒筛率",
        "infants whose latest hearing decision is a refusal / live births registered (reported, no target)",
        NEWSTEPS,
    ),
    def(
        "cchd_refusal_rate",
        Some("CCHD"),
        Level::Infant,
        false,
        "Heart screen refusals",
        "先心筛查拒筛率",
        "infants whose latest heart-screen decision is a refusal / live births registered (reported, no target)",
        NEWSTEPS,
    ),
    def(
        "consent_awareness",
        None,
        Level::Infant,
        false,
        "Consent or refusal recorded",
        "新筛健康教育知晓率",
        "infants with a signed consent or refusal for any programme / live births registered",
        CN_QI,
    ),
    def(
        "unsatisfactory_cards",
        Some("DBS"),
        Level::Card,
        true,
        "Unsatisfactory cards",
        "血片不合格率",
        "cards assessed unsatisfactory by the laboratory / cards assessed",
        CN_QI,
    ),
    def(
        "unsatisfactory_not_recollected",
        Some("DBS"),
        Level::Infant,
        true,
        "Unsatisfactory cards never recollected",
        "不合格血片未补采率",
        "infants whose latest unsatisfactory card has no later acceptable or pending card / infants with an unsatisfactory card",
        CN_QI,
    ),
    def(
        "late_cards",
        Some("DBS"),
        Level::Card,
        true,
        "Late cards",
        "血片迟递率",
        "cards received more than quality.late_card_days after collection / cards received",
        CN_QI,
    ),
    def(
        "early_collection",
        Some("DBS"),
        Level::Card,
        true,
        "First cards collected before 48 h",
        "48小时内采血率",
        "first cards collected before 48 h of age / first cards",
        "Catalogue §3 (collection 48 h – 7 days)",
    ),
    def(
        "late_collection",
        Some("DBS"),
        Level::Card,
        true,
        "First cards collected after day 7",
        "7天后采血率",
        "first cards collected after 7 days of age / first cards",
        "Catalogue §3 (collection 48 h – 7 days)",
    ),
    def(
        "report_timeliness",
        Some("DBS"),
        Level::Card,
        false,
        "Results reported in time",
        "检验报告发出及时率",
        "received cards interpreted within quality.report_days of receipt / received cards interpreted",
        CN_QI,
    ),
    def(
        "positive_rate",
        None,
        Level::Infant,
        false,
        "Screen-positive rate",
        "初筛阳性率",
        "screened infants with a positive, borderline-repeat or refer case / screened infants (reported, no target)",
        NEWSTEPS,
    ),
    def(
        "recall_rate",
        None,
        Level::Case,
        false,
        "Recall rate",
        "召回复查率",
        "screen-positive cases rechecked (recheck done, work-up, or a diagnostic outcome) / screen-positive cases",
        CN_QI,
    ),
    def(
        "first_contact_timeliness",
        None,
        Level::Case,
        false,
        "First contact in time",
        "首次联系及时率",
        "screen-positive cases whose family was first reached by the first-contact deadline / screen-positive cases; median and p90 of result → first contact, by tier",
        "Catalogue §6",
    ),
    def(
        "recall_timeliness",
        None,
        Level::Case,
        false,
        "Recall in time",
        "召回及时率",
        "screen-positive cases rechecked by the recall deadline / screen-positive cases; median and p90 of result → recheck, by tier",
        "Catalogue §6",
    ),
    def(
        "lost_to_follow_up",
        None,
        Level::Case,
        true,
        "Lost to follow-up",
        "失访率",
        "screen-positive cases now resolved as lost to follow-up / screen-positive cases",
        CN_QI,
    ),
    def(
        "confirmed_ppv",
        None,
        Level::Case,
        false,
        "Positive predictive value",
        "阳性预测值",
        "screen-positive cases confirmed with a condition / screen-positive cases (reported per suspected condition too)",
        NEWSTEPS,
    ),
    def(
        "hearing_rescreen_by_42d",
        Some("HEAR"),
        Level::Infant,
        false,
        "Hearing rescreen by 42 days",
        "42天复筛率",
        "infants referred at the initial hearing screen with a rescreen by day 42 / infants referred at the initial screen",
        "1-3-6 pathway (catalogue §4)",
    ),
    def(
        "hearing_diagnosis_by_3m",
        Some("HEAR"),
        Level::Infant,
        false,
        "Hearing diagnosis by 3 months",
        "3月龄诊断率",
        "infants with a hearing refer case and a diagnostic assessment by day 90 / infants with a hearing refer case",
        "1-3-6 pathway (catalogue §4)",
    ),
    def(
        "hearing_intervention_by_6m",
        Some("HEAR"),
        Level::Case,
        false,
        "Hearing intervention by 6 months",
        "6月龄干预率",
        "hearing cases resolved as a confirmed hearing loss whose infant started an intervention by day 180 / hearing cases resolved as a confirmed hearing loss",
        "1-3-6 pathway (catalogue §4); Jiangsu hearing-screening QC standard (intervene within 6 months)",
    ),
    def(
        "cchd_echo_completion",
        Some("CCHD"),
        Level::Case,
        false,
        "Echocardiography after a positive heart screen",
        "阳性儿超声心动图完成率",
        "positive heart-screen cases rechecked (echo done, work-up, or a diagnostic outcome) / positive heart-screen cases",
        "National CHD screening programme (2018)",
    ),
];

/// The definition of `id`.
pub fn find(id: &str) -> Option<&'static IndicatorDef> {
    INDICATORS.iter().find(|d| d.id == id)
}

/// Median, 90th percentile and count of a set of durations (hours).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntervalStats {
    /// Values.
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
    fn ids_are_unique_and_found() {
        let mut ids: Vec<_> = INDICATORS.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), INDICATORS.len());
        assert!(find("recall_rate").is_some() && find("nope").is_none());
    }
}
