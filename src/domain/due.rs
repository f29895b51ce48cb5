//! Due times of follow-up (catalogue §6): first contact and recall deadlines per tier, from the
//! result time, capped by the infant's age limit, on a working-day calendar with public holidays
//! and make-up working days, in the policy's time zone. The policy is versioned data.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::catalogue::Tier;

/// A deadline interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// Clock hours.
    Hours(i64),
    /// Calendar days.
    Days(i64),
    /// By the end of the n-th working day after the start day (0: the same working day).
    WorkingDays(i64),
}

/// Deadlines of one tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierDue {
    /// First contact of the family or provider.
    pub first_contact: Interval,
    /// Recall visit, test or new specimen.
    pub recall: Interval,
    /// No deadline may fall after this age (days of life).
    #[serde(default)]
    pub age_limit_days: Option<i64>,
}

/// Holidays and make-up working days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Days off (public holidays).
    pub holidays: BTreeSet<NaiveDate>,
    /// Weekend days that are working days (调休).
    pub make_up_workdays: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// Whether `d` is a working day.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.make_up_workdays.contains(&d) {
            return true;
        }
        !self.holidays.contains(&d) && !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
    }
}

/// A due-time policy version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuePolicy {
    /// Version id.
    pub version: String,
    /// First day in force.
    pub effective_from: NaiveDate,
    /// IANA time zone of working days and "end of day".
    pub time_zone: String,
    /// Per-tier deadlines.
    pub tiers: BTreeMap<Tier, TierDue>,
    /// Tier of the case opened for a missed screen, per programme.
    pub missed_screen_tiers: BTreeMap<super::catalogue::Programme, Tier>,
    /// Long-term follow-up visits after a confirmed diagnosis, in months after confirmation.
    /// Superseded by the management plans (`config/management/`): kept so stored versions
    /// still read; nothing is scheduled from it.
    pub long_term_visit_months: Vec<u32>,
    /// Working-day calendar.
    pub calendar: Calendar,
    /// Escalation ladder timing (catalogue §7); the defaults when the file has no section.
    #[serde(default)]
    pub escalation: super::escalation::Ladder,
}

/// Deadlines of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DueTimes {
    /// First contact by.
    pub first_contact_by: DateTime<Utc>,
    /// Recall by.
    pub recall_by: DateTime<Utc>,
    /// True when the age limit, not the interval, set a deadline.
    pub capped_by_age: bool,
}

/// Why a due policy cannot be used; the message names the policy and entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DuePolicyError(pub String);

impl DuePolicy {
    /// Parses and checks a TOML policy.
    pub fn from_toml(text: &str) -> Result<Self, DuePolicyError> {
        Self::parse(text).map_err(DuePolicyError)
    }

    fn parse(text: &str) -> Result<Self, String> {
        let p: DuePolicy = toml::from_str(text).map_err(|e| e.to_string())?;
        p.tz().map_err(|e| e.0)?;
        for prog in [
            super::catalogue::Programme::Dbs,
            super::catalogue::Programme::Hear,
            super::catalogue::Programme::Cchd,
        ] {
            if !p.missed_screen_tiers.contains_key(&prog) {
                return Err(format!(
                    "due policy {}: missed_screen_tiers has no {prog:?}",
                    p.version
                ));
            }
        }
        for t in [Tier::T0, Tier::T1, Tier::T2, Tier::T3] {
            if !p.tiers.contains_key(&t) {
                return Err(format!(
                    "due policy {}: tier {t:?} has no deadlines",
                    p.version
                ));
            }
        }
        Ok(p)
    }

    /// The time zone.
    pub fn tz(&self) -> Result<Tz, DuePolicyError> {
        self.time_zone.parse().map_err(|_| {
            DuePolicyError(format!(
                "due policy {}: unknown time zone {}",
                self.version, self.time_zone
            ))
        })
    }

    /// Deadlines for a result of `tier` at `result_at` for an infant born at `birth_at`.
    pub fn due(
        &self,
        tier: Tier,
        result_at: DateTime<Utc>,
        birth_at: DateTime<Utc>,
    ) -> Result<DueTimes, DuePolicyError> {
        let tz = self.tz()?;
        let t = self.tiers.get(&tier).ok_or_else(|| {
            DuePolicyError(format!("due policy {}: no tier {tier:?}", self.version))
        })?;
        let limit = t.age_limit_days.map(|d| birth_at + Duration::days(d));
        let cap = |at: DateTime<Utc>| match limit {
            Some(l) if l < at => (l, true),
            _ => (at, false),
        };
        let (first_contact_by, c1) = cap(self.add(tz, result_at, t.first_contact));
        let (recall_by, c2) = cap(self.add(tz, result_at, t.recall));
        Ok(DueTimes {
            first_contact_by,
            recall_by,
            capped_by_age: c1 || c2,
        })
    }

    fn add(&self, tz: Tz, at: DateTime<Utc>, i: Interval) -> DateTime<Utc> {
        match i {
            Interval::Hours(h) => at + Duration::hours(h),
            Interval::Days(d) => at + Duration::days(d),
            Interval::WorkingDays(n) => {
                let mut day = at.with_timezone(&tz).date_naive();
                // The start day counts as day 0 only when it is a working day.
                let mut remaining = n;
                if !self.calendar.is_working_day(day) {
                    day = self.next_working_day(day);
                }
                while remaining > 0 {
                    day = self.next_working_day(day);
                    remaining -= 1;
                }
                end_of_day(tz, day)
            }
        }
    }

    fn next_working_day(&self, mut d: NaiveDate) -> NaiveDate {
        loop {
            d = d.succ_opt().unwrap_or(d);
            if self.calendar.is_working_day(d) {
                return d;
            }
        }
    }
}

/// Local midnight after `day`, in UTC.
fn end_of_day(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let next = day.succ_opt().unwrap_or(day);
    let midnight = next.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// The default policy shipped with Guthrie.
pub const DEFAULT_DUE_POLICY_TOML: &str = include_str!("../../config/policy/due-2026.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> DuePolicy {
        DuePolicy::from_toml(DEFAULT_DUE_POLICY_TOML).unwrap()
    }

    /// Beijing local time as UTC.
    fn bj(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn t0_is_hours_and_same_day() {
        let d = policy()
            .due(Tier::T0, bj(2026, 11, 21, 22), bj(2026, 11, 18, 8))
            .unwrap();
        assert_eq!(
            d.first_contact_by,
            bj(2026, 11, 22, 2),
            "4 h, night or weekend alike"
        );
        assert_eq!(d.recall_by, bj(2026, 11, 22, 22));
        assert!(!d.capped_by_age);
    }

    #[test]
    fn t1_and_t2_deadlines() {
        let p = policy();
        let d = p
            .due(Tier::T1, bj(2026, 11, 20, 10), bj(2026, 11, 17, 8))
            .unwrap();
        assert_eq!(
            (d.first_contact_by, d.recall_by),
            (bj(2026, 11, 21, 10), bj(2026, 11, 23, 10))
        );
        // T2 from a Friday: two working days skip the weekend → end of Tuesday.
        let d = p
            .due(Tier::T2, bj(2026, 11, 20, 10), bj(2026, 11, 17, 8))
            .unwrap();
        assert_eq!(d.first_contact_by, bj(2026, 11, 25, 0));
        assert_eq!(d.recall_by, bj(2026, 11, 27, 10));
    }

    #[test]
    fn the_2027_policy_knows_the_statutory_holidays() {
        let p = DuePolicy::from_toml(include_str!("../../config/policy/due-2027.toml")).unwrap();
        assert_eq!(p.version, "due-2027");
        let d = |m, day| NaiveDate::from_ymd_opt(2027, m, day).unwrap();
        // Thu 4 Feb works; 5–8 Feb (除夕 to 初三) do not; Tue 9 Feb works again.
        assert!(p.calendar.is_working_day(d(2, 4)));
        assert!((5..=8).all(|x| !p.calendar.is_working_day(d(2, x))));
        assert!(p.calendar.is_working_day(d(2, 9)));
        assert!(!p.calendar.is_working_day(d(10, 1)) && !p.calendar.is_working_day(d(1, 1)));
        // Same deadlines and ladder as 2026.
        assert_eq!(p.tiers, policy().tiers);
        assert_eq!(p.escalation, policy().escalation);
    }

    #[test]
    fn working_days_skip_public_holidays_and_count_make_up_days() {
        let p = policy();
        // Wed 30 Sep, before the National Day week (1–7 Oct): Thu 8, Fri 9 Oct.
        let d = p
            .due(Tier::T2, bj(2026, 9, 30, 10), bj(2026, 9, 27, 8))
            .unwrap();
        assert_eq!(d.first_contact_by, bj(2026, 10, 10, 0));
        // Fri 9 Oct: Sat 10 Oct is a make-up working day, then Mon 12.
        let d = p
            .due(Tier::T2, bj(2026, 10, 9, 10), bj(2026, 10, 6, 8))
            .unwrap();
        assert_eq!(d.first_contact_by, bj(2026, 10, 13, 0));
        // T3 same working day: a result on a holiday is due by the end of the next working day.
        let d = p
            .due(Tier::T3, bj(2026, 10, 3, 9), bj(2026, 9, 30, 8))
            .unwrap();
        assert_eq!(d.first_contact_by, bj(2026, 10, 9, 0));
        let d = p
            .due(Tier::T3, bj(2026, 11, 23, 9), bj(2026, 11, 20, 8))
            .unwrap();
        assert_eq!(
            d.first_contact_by,
            bj(2026, 11, 24, 0),
            "a working Monday: the same day"
        );
    }

    #[test]
    fn recollection_never_after_day_20() {
        let p = policy();
        let birth = bj(2026, 11, 1, 8);
        let d = p.due(Tier::T3, bj(2026, 11, 10, 9), birth).unwrap();
        assert_eq!(d.recall_by, bj(2026, 11, 15, 9));
        assert!(!d.capped_by_age);
        let d = p.due(Tier::T3, bj(2026, 11, 18, 9), birth).unwrap();
        assert_eq!(
            d.recall_by,
            birth + Duration::days(20),
            "5 days would pass day 20"
        );
        assert!(d.capped_by_age);
    }

    #[test]
    fn calendar_rules() {
        let c = policy().calendar;
        assert!(!c.is_working_day(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()));
        assert!(
            c.is_working_day(NaiveDate::from_ymd_opt(2026, 10, 10).unwrap()),
            "make-up Saturday"
        );
        assert!(
            !c.is_working_day(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()),
            "ordinary Saturday"
        );
        assert!(c.is_working_day(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()));
        assert!(
            DuePolicy::from_toml(&DEFAULT_DUE_POLICY_TOML.replace("Asia/Shanghai", "Mars/Base"))
                .is_err()
        );
    }
}
