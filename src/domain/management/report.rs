//! The management report as pure arithmetic over loaded rows: the five-step funnel
//! (发现、登记、报告、管理、救治), age at treatment start, the follow-up rate (随访率), the
//! lost-to-management rate and overdue contacts by rung. Definitions are in
//! `docs/management.md`; every figure here names its numerator and denominator.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What the report needs of an episode.
#[derive(Debug, Clone)]
pub struct EpisodeFacts {
    /// Responsible hospital (id text).
    pub hospital: String,
    /// Condition.
    pub condition: String,
    /// Infant's birth.
    pub birth: DateTime<Utc>,
    /// Registered.
    pub created_at: DateTime<Utc>,
    /// Reported to the province.
    pub reported_at: Option<DateTime<Utc>>,
    /// Treatment target.
    pub treatment_due_at: Option<DateTime<Utc>>,
    /// Treatment started.
    pub treatment_started_at: Option<DateTime<Utc>>,
    /// Closed, with reason.
    pub closed: Option<(DateTime<Utc>, String)>,
    /// Its contacts.
    pub contacts: Vec<ContactFacts>,
}

/// What the report needs of a contact.
#[derive(Debug, Clone, Copy)]
pub struct ContactFacts {
    /// Window.
    pub window_start: DateTime<Utc>,
    /// Window end.
    pub window_end: DateTime<Utc>,
    /// Done.
    pub done_at: Option<DateTime<Utc>>,
    /// Cancelled (closure).
    pub cancelled: bool,
}

/// A rate with its parts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rate {
    /// Numerator.
    pub numerator: u64,
    /// Denominator.
    pub denominator: u64,
    /// numerator / denominator (none when the denominator is 0).
    pub rate: Option<f64>,
}

impl Rate {
    fn new(numerator: u64, denominator: u64) -> Self {
        let rate = (denominator > 0).then(|| numerator as f64 / denominator as f64);
        Self {
            numerator,
            denominator,
            rate,
        }
    }
}

/// The five steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Funnel {
    /// 发现: screen-positive cases opened in the period.
    pub found: u64,
    /// 登记: episodes registered in the period.
    pub registered: u64,
    /// 报告: of those, reported to the province.
    pub reported: u64,
    /// 管理: of those, with their plan on schedule at the period's end.
    pub managed: u64,
    /// 救治: of those, with treatment started.
    pub treated: u64,
}

/// Age at treatment start for one condition.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TreatmentAge {
    /// Condition.
    pub condition: String,
    /// Treatments started in the period.
    pub n: u64,
    /// Median age in days.
    pub median_days: f64,
    /// 90th percentile age in days.
    pub p90_days: f64,
    /// Started by the plan's target.
    pub within_target: Rate,
}

/// The report body.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// The funnel.
    pub funnel: Funnel,
    /// Age at treatment start, per condition.
    pub age_at_treatment: Vec<TreatmentAge>,
    /// 随访率: episodes whose every contact due in the period was done within its window /
    /// episodes with a contact due in the period.
    pub follow_up_rate: Rate,
    /// Episodes closed as lost to follow-up in the period / episodes open at some time in it.
    pub lost_rate: Rate,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Whether the episode is on schedule at `at`: no pending contact whose window closed and no
/// treatment start past its target.
pub fn on_schedule(e: &EpisodeFacts, at: DateTime<Utc>) -> bool {
    let treatment_late =
        e.treatment_started_at.is_none() && e.treatment_due_at.is_some_and(|d| d < at);
    let contact_late = e
        .contacts
        .iter()
        .any(|c| !c.cancelled && c.window_end < at && c.done_at.is_none_or(|d| d > at));
    !treatment_late && !contact_late
}

/// Computes the figures for `[start, end)` as of `now` (the end of an unfinished period is
/// `now`); `found` is counted by the caller.
pub fn figures(
    episodes: &[EpisodeFacts],
    found: u64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Figures {
    let at = end.min(now);
    let within = |t: DateTime<Utc>| start <= t && t < end;
    let mut funnel = Funnel {
        found,
        ..Funnel::default()
    };
    for e in episodes.iter().filter(|e| within(e.created_at)) {
        funnel.registered += 1;
        funnel.reported += u64::from(e.reported_at.is_some_and(|r| r < end));
        funnel.managed += u64::from(
            on_schedule(e, at)
                && e.closed
                    .as_ref()
                    .is_none_or(|(_, r)| r != "lost_to_follow_up"),
        );
        funnel.treated += u64::from(e.treatment_started_at.is_some_and(|t| t < end));
    }
    let mut ages: BTreeMap<&str, (Vec<f64>, u64, u64)> = BTreeMap::new();
    for e in episodes {
        let Some(t) = e.treatment_started_at.filter(|t| within(*t)) else {
            continue;
        };
        let a = ages.entry(e.condition.as_str()).or_default();
        a.0.push((t - e.birth).num_seconds() as f64 / 86_400.0);
        if let Some(d) = e.treatment_due_at {
            a.2 += 1;
            a.1 += u64::from(t <= d);
        }
    }
    let age_at_treatment = ages
        .into_iter()
        .map(|(c, (mut v, on, with_target))| {
            v.sort_by(f64::total_cmp);
            TreatmentAge {
                condition: c.to_string(),
                n: v.len() as u64,
                median_days: percentile(&v, 0.5),
                p90_days: percentile(&v, 0.9),
                within_target: Rate::new(on, with_target),
            }
        })
        .collect();
    let (mut due, mut kept) = (0, 0);
    for e in episodes {
        let in_period: Vec<_> = e
            .contacts
            .iter()
            .filter(|c| !c.cancelled && within(c.window_end))
            .collect();
        if in_period.is_empty() {
            continue;
        }
        due += 1;
        kept += u64::from(in_period.iter().all(|c| {
            c.done_at
                .is_some_and(|d| c.window_start <= d && d <= c.window_end)
        }));
    }
    let open_in_period = episodes
        .iter()
        .filter(|e| e.created_at < end && e.closed.as_ref().is_none_or(|(t, _)| *t >= start))
        .count() as u64;
    let lost = episodes
        .iter()
        .filter(|e| {
            e.closed
                .as_ref()
                .is_some_and(|(t, r)| within(*t) && r == "lost_to_follow_up")
        })
        .count() as u64;
    Figures {
        funnel,
        age_at_treatment,
        follow_up_rate: Rate::new(kept, due),
        lost_rate: Rate::new(lost, open_in_period),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn d(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, 0, 0, 0).unwrap()
    }

    fn ep(condition: &str, birth: DateTime<Utc>, treated_after_days: Option<i64>) -> EpisodeFacts {
        EpisodeFacts {
            hospital: "h".into(),
            condition: condition.into(),
            birth,
            created_at: birth + Duration::days(5),
            reported_at: None,
            treatment_due_at: Some(birth + Duration::days(14)),
            treatment_started_at: treated_after_days.map(|x| birth + Duration::days(x)),
            closed: None,
            contacts: vec![],
        }
    }

    #[test]
    fn a_fixed_cohort_gives_known_figures() {
        let b = d(1);
        let mut eps = vec![
            ep("CH", b, Some(10)),
            ep("CH", b, Some(12)),
            ep("CH", b, Some(20)),
            ep("CH", b, None),
            ep("PKU", b, Some(8)),
        ];
        eps[0].reported_at = Some(d(7));
        eps[1].reported_at = Some(d(7));
        // One contact due in the period done in its window, one missed.
        let c = |done: Option<DateTime<Utc>>| ContactFacts {
            window_start: d(20),
            window_end: d(24),
            done_at: done,
            cancelled: false,
        };
        eps[0].contacts = vec![c(Some(d(22)))];
        eps[1].contacts = vec![c(None)];
        eps[4].closed = Some((d(28), "lost_to_follow_up".into()));
        let f = figures(&eps, 9, d(1), d(31), d(31));
        assert_eq!(
            f.funnel,
            Funnel {
                found: 9,
                registered: 5,
                reported: 2,
                managed: 2,
                treated: 4
            }
        );
        // CH: 10, 12, 20 days; median 12, p90 20; two of three by day 14.
        let ch = &f.age_at_treatment[0];
        assert_eq!((ch.condition.as_str(), ch.n), ("CH", 3));
        assert_eq!((ch.median_days, ch.p90_days), (12.0, 20.0));
        assert_eq!(
            (ch.within_target.numerator, ch.within_target.denominator),
            (2, 3)
        );
        assert_eq!(f.follow_up_rate, Rate::new(1, 2));
        assert_eq!(f.lost_rate, Rate::new(1, 5));
    }
}
