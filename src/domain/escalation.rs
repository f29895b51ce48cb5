//! The escalation ladder (catalogue §7) as pure rules: which rungs of a case are due at a given
//! time, and when the next one falls. Rungs fire once per case, in order; the numbers are part
//! of the versioned due policy.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::catalogue::Tier;

/// A rung of the ladder.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Rung {
    /// Case opened: family, birth hospital, on-call clinician for the urgent tiers.
    L0,
    /// First-contact deadline passed with no contact: birth hospital again and the coordinator.
    L1,
    /// Recall due time passed: screening-centre supervisor.
    L2,
    /// Some days past due: district MCH institution, for a home visit.
    L3,
    /// Two weeks past due: district health bureau; proposed lost to follow-up.
    L4,
}

super::text_enum!(Rung { L0 = "L0", L1 = "L1", L2 = "L2", L3 = "L3", L4 = "L4" });

/// The ladder's timing, part of the due policy (`[escalation]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ladder {
    /// L3 fires this many days after the recall due time, per tier.
    pub home_visit_after_due_days: BTreeMap<Tier, u32>,
    /// L4 fires this many days after the recall due time.
    pub bureau_after_due_days: u32,
    /// Tiers whose L0 also notifies the centre's on-call clinician.
    pub on_call_tiers: Vec<Tier>,
}

impl Default for Ladder {
    fn default() -> Self {
        Self {
            home_visit_after_due_days: BTreeMap::from([
                (Tier::T0, 1),
                (Tier::T1, 3),
                (Tier::T2, 7),
                (Tier::T3, 7),
            ]),
            bureau_after_due_days: 14,
            on_call_tiers: vec![Tier::T0, Tier::T1],
        }
    }
}

/// What the ladder needs to know about a case.
#[derive(Debug, Clone, Copy)]
pub struct CaseTimes {
    /// Tier now.
    pub tier: Tier,
    /// When the case was opened.
    pub opened_at: DateTime<Utc>,
    /// First-contact deadline.
    pub first_contact_due_at: DateTime<Utc>,
    /// Recall deadline.
    pub recall_due_at: DateTime<Utc>,
    /// The family has been reached (the case left the `open` state).
    pub contacted: bool,
}

impl Ladder {
    /// When `rung` falls for a case.
    pub fn at(&self, rung: Rung, c: &CaseTimes) -> DateTime<Utc> {
        match rung {
            Rung::L0 => c.opened_at,
            Rung::L1 => c.first_contact_due_at,
            Rung::L2 => c.recall_due_at,
            Rung::L3 => {
                let days = self
                    .home_visit_after_due_days
                    .get(&c.tier)
                    .copied()
                    .unwrap_or(7);
                c.recall_due_at + Duration::days(i64::from(days))
            }
            Rung::L4 => c.recall_due_at + Duration::days(i64::from(self.bureau_after_due_days)),
        }
    }

    /// Whether `rung` still has a reason to fire: L1 only while nobody has reached the family.
    fn applies(rung: Rung, c: &CaseTimes) -> bool {
        rung != Rung::L1 || !c.contacted
    }

    /// The rungs not yet fired that are due at `now`, in order.
    pub fn due(&self, fired: &[Rung], c: &CaseTimes, now: DateTime<Utc>) -> Vec<Rung> {
        Rung::ALL
            .iter()
            .copied()
            .filter(|r| !fired.contains(r) && Self::applies(*r, c) && self.at(*r, c) <= now)
            .collect()
    }

    /// The first rung not yet fired that may still fire, and when. `None`: the ladder is done.
    pub fn next(&self, fired: &[Rung], c: &CaseTimes) -> Option<(Rung, DateTime<Utc>)> {
        Rung::ALL
            .iter()
            .copied()
            .find(|r| !fired.contains(r) && Self::applies(*r, c))
            .map(|r| (r, self.at(r, c)))
    }

    /// Whether L0 of a case of `tier` pages the on-call clinician.
    pub fn pages_on_call(&self, tier: Tier) -> bool {
        self.on_call_tiers.contains(&tier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::hours(h)
    }

    fn case(tier: Tier, contacted: bool) -> CaseTimes {
        CaseTimes {
            tier,
            opened_at: t(0),
            first_contact_due_at: t(4),
            recall_due_at: t(24),
            contacted,
        }
    }

    #[test]
    fn t0_rungs_fall_at_open_first_contact_due_and_after() {
        let l = Ladder::default();
        let c = case(Tier::T0, false);
        assert_eq!(l.due(&[], &c, t(0)), vec![Rung::L0]);
        assert_eq!(l.due(&[Rung::L0], &c, t(3)), vec![]);
        assert_eq!(l.due(&[Rung::L0], &c, t(4)), vec![Rung::L1]);
        assert_eq!(l.due(&[Rung::L0, Rung::L1], &c, t(24)), vec![Rung::L2]);
        assert_eq!(
            l.due(&[Rung::L0, Rung::L1, Rung::L2], &c, t(47)),
            Vec::<Rung>::new()
        );
        assert_eq!(
            l.due(&[Rung::L0, Rung::L1, Rung::L2], &c, t(48)),
            vec![Rung::L3]
        );
        let all_but_l4 = [Rung::L0, Rung::L1, Rung::L2, Rung::L3];
        assert_eq!(l.due(&all_but_l4, &c, t(24 + 14 * 24 - 1)), vec![]);
        assert_eq!(l.due(&all_but_l4, &c, t(24 + 14 * 24)), vec![Rung::L4]);
        assert_eq!(l.next(Rung::ALL, &c), None);
    }

    #[test]
    fn l3_offset_follows_the_tier() {
        let l = Ladder::default();
        for (tier, days) in [(Tier::T1, 3), (Tier::T2, 7), (Tier::T3, 7)] {
            let c = case(tier, true);
            assert_eq!(l.at(Rung::L3, &c), t(24) + Duration::days(days));
        }
    }

    #[test]
    fn contact_skips_l1_but_not_later_rungs() {
        let l = Ladder::default();
        let c = case(Tier::T2, true);
        assert_eq!(l.due(&[Rung::L0], &c, t(10)), vec![]);
        assert_eq!(l.next(&[Rung::L0], &c), Some((Rung::L2, t(24))));
    }

    #[test]
    fn a_missed_tick_catches_up_every_due_rung_in_order() {
        let l = Ladder::default();
        let c = case(Tier::T0, false);
        assert_eq!(
            l.due(&[], &c, t(30 * 24)),
            vec![Rung::L0, Rung::L1, Rung::L2, Rung::L3, Rung::L4]
        );
    }

    #[test]
    fn fired_rungs_never_fire_again() {
        let l = Ladder::default();
        let c = case(Tier::T1, false);
        assert!(l.due(Rung::ALL, &c, t(1000)).is_empty());
        assert_eq!(l.next(&[Rung::L0, Rung::L1], &c), Some((Rung::L2, t(24))));
    }

    #[test]
    fn on_call_pages_only_urgent_tiers() {
        let l = Ladder::default();
        assert!(l.pages_on_call(Tier::T0) && l.pages_on_call(Tier::T1));
        assert!(!l.pages_on_call(Tier::T2) && !l.pages_on_call(Tier::T3));
        assert_eq!(Rung::parse("L3"), Some(Rung::L3));
        assert_eq!(Rung::parse("L9"), None);
    }
}
