//! The hearing pathway (catalogue §4, "1-3-6"): initial screen, rescreen by day 42, diagnostic
//! audiology by 3 months, intervention by 6 months, AABR for long NICU stays, and surveillance for
//! risk factors even after a pass.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Pathway limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HearingPolicy {
    /// Earliest age for the initial screen (h).
    pub initial_min_age_hours: i64,
    /// Initial screen expected by this age (days); later counts as missed.
    pub initial_by_days: i64,
    /// Rescreen due by this age (days).
    pub rescreen_by_days: i64,
    /// Diagnostic audiology due by this age (days).
    pub diagnosis_by_days: i64,
    /// Intervention due by this age (days).
    pub intervention_by_days: i64,
    /// A NICU stay longer than this (days) requires AABR.
    pub nicu_aabr_after_days: i64,
    /// Surveillance interval (months) for infants with risk factors.
    pub surveillance_every_months: i64,
    /// Surveillance continues until this age (months).
    pub surveillance_until_months: i64,
    /// Recognised risk-factor codes.
    pub risk_factors: Vec<String>,
}

/// Screening stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HearingStage {
    /// First screen, normally before discharge.
    Initial,
    /// Rescreen after a refer or a missed initial screen.
    Rescreen,
    /// Diagnostic audiology.
    Diagnostic,
}

/// Test method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum HearingMethod {
    /// Otoacoustic emissions.
    #[serde(rename = "OAE")]
    Oae,
    /// Automated auditory brainstem response.
    #[serde(rename = "AABR")]
    Aabr,
    /// Diagnostic ABR / audiological assessment.
    #[serde(rename = "DIAGNOSTIC")]
    Diagnostic,
}

super::text_enum!(HearingStage {
    Initial = "initial",
    Rescreen = "rescreen",
    Diagnostic = "diagnostic",
});
super::text_enum!(HearingMethod {
    Oae = "OAE",
    Aabr = "AABR",
    Diagnostic = "DIAGNOSTIC",
});

/// Per-ear result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EarResult {
    /// Pass (screen) or normal hearing (diagnostic).
    Pass,
    /// Refer (screen) or hearing loss (diagnostic).
    Refer,
}

super::text_enum!(EarResult { Pass = "pass", Refer = "refer" });

/// A hearing intervention (the 1-3-6 pathway's last step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InterventionKind {
    /// Hearing aids fitted.
    HearingAids,
    /// A cochlear implant.
    CochlearImplant,
    /// An early-intervention programme.
    EarlyIntervention,
    /// Anything else.
    Other,
}

super::text_enum!(InterventionKind {
    HearingAids = "hearing_aids",
    CochlearImplant = "cochlear_implant",
    EarlyIntervention = "early_intervention",
    Other = "other",
});

/// One test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HearingTest {
    /// Initial screen, rescreen or diagnostic assessment.
    pub stage: HearingStage,
    /// OAE or AABR.
    pub method: HearingMethod,
    /// Left ear.
    pub left: EarResult,
    /// Right ear.
    pub right: EarResult,
    /// When the test was done.
    pub tested_at: DateTime<Utc>,
}

/// Where the infant is on the pathway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HearingStatus {
    /// No initial screen yet, still in time.
    NotScreened,
    /// No initial screen and past the expected age: rescreen due.
    Missed,
    /// Passed the screen (or diagnostic hearing normal).
    Pass,
    /// Referred at the initial screen (or its pass does not count): rescreen due.
    RescreenDue,
    /// Referred at rescreen: diagnosis due.
    DiagnosisDue,
    /// Hearing loss confirmed: intervention due.
    InterventionDue,
    /// Hearing loss confirmed and intervention started: the pathway is complete.
    InterventionStarted,
}

/// The next action and its deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HearingAssessment {
    /// Pathway status.
    pub status: HearingStatus,
    /// Next action (`initial_screen`, `rescreen`, `diagnosis`, `intervention`, `surveillance`).
    pub next_action: Option<String>,
    /// Its deadline.
    pub due_by: Option<DateTime<Utc>>,
    /// Notes (e.g. an OAE pass that does not count after a long NICU stay).
    pub notes: Vec<String>,
    /// Risk factors found; they call for surveillance even after a pass.
    pub risk_factors: Vec<String>,
}

/// Facts about the infant the pathway needs.
#[derive(Debug, Clone)]
pub struct HearingInfant {
    /// Birth time.
    pub birth_at: DateTime<Utc>,
    /// Days in NICU, when known.
    pub nicu_days: Option<i64>,
    /// Risk-factor codes recorded.
    pub risk_factors: Vec<String>,
    /// When intervention (hearing aids, implant, early-intervention services) first started.
    pub intervention_started: Option<DateTime<Utc>>,
}

/// Decides the pathway status from all tests so far.
pub fn assess(
    p: &HearingPolicy,
    infant: &HearingInfant,
    tests: &[HearingTest],
    now: DateTime<Utc>,
) -> HearingAssessment {
    let by = |days: i64| infant.birth_at + Duration::days(days);
    let mut notes = vec![];
    let needs_aabr = infant.nicu_days.is_some_and(|d| d > p.nicu_aabr_after_days);
    let mut ts: Vec<&HearingTest> = tests.iter().collect();
    ts.sort_by_key(|t| t.tested_at);
    let both_pass = |t: &HearingTest| t.left == EarResult::Pass && t.right == EarResult::Pass;

    let mut risk_factors = infant.risk_factors.clone();
    if needs_aabr && !risk_factors.iter().any(|r| r == "nicu_gt_5_days") {
        risk_factors.push("nicu_gt_5_days".into());
    }
    let surveillance = |status: HearingStatus, notes: Vec<String>, risk_factors: Vec<String>| {
        let until = infant.birth_at + Duration::days(p.surveillance_until_months * 30);
        if !risk_factors.is_empty() && now < until {
            let mut next = infant.birth_at;
            while next <= now {
                next += Duration::days(p.surveillance_every_months * 30);
            }
            HearingAssessment {
                status,
                next_action: Some("surveillance".into()),
                due_by: Some(next),
                notes,
                risk_factors,
            }
        } else {
            HearingAssessment {
                status,
                next_action: None,
                due_by: None,
                notes,
                risk_factors,
            }
        }
    };

    // The latest diagnostic result decides once there is one.
    if let Some(d) = ts
        .iter()
        .rev()
        .find(|t| t.stage == HearingStage::Diagnostic)
    {
        return if both_pass(d) {
            surveillance(HearingStatus::Pass, notes, risk_factors)
        } else if let Some(started) = infant.intervention_started {
            notes.push(format!("intervention started {}", started.to_rfc3339()));
            HearingAssessment {
                status: HearingStatus::InterventionStarted,
                next_action: None,
                due_by: None,
                notes,
                risk_factors,
            }
        } else {
            HearingAssessment {
                status: HearingStatus::InterventionDue,
                next_action: Some("intervention".into()),
                due_by: Some(by(p.intervention_by_days)),
                notes,
                risk_factors,
            }
        };
    }
    let mut counts = |t: &HearingTest| {
        let ok = !(needs_aabr && both_pass(t) && t.method == HearingMethod::Oae);
        if !ok {
            notes.push(
                format!(
                    "{:?} OAE pass does not count after a NICU stay over {} days: AABR needed",
                    t.stage, p.nicu_aabr_after_days
                )
                .to_lowercase(),
            );
        }
        ok
    };
    let rescreens: Vec<&&HearingTest> = ts
        .iter()
        .filter(|t| t.stage == HearingStage::Rescreen)
        .collect();
    if let Some(r) = rescreens.last() {
        if both_pass(r) && counts(r) {
            return surveillance(HearingStatus::Pass, notes, risk_factors);
        }
        if !both_pass(r) {
            return HearingAssessment {
                status: HearingStatus::DiagnosisDue,
                next_action: Some("diagnosis".into()),
                due_by: Some(by(p.diagnosis_by_days)),
                notes,
                risk_factors,
            };
        }
    }
    if let Some(i) = ts.iter().rev().find(|t| t.stage == HearingStage::Initial) {
        if rescreens.is_empty() && both_pass(i) && counts(i) {
            return surveillance(HearingStatus::Pass, notes, risk_factors);
        }
        return HearingAssessment {
            status: HearingStatus::RescreenDue,
            next_action: Some("rescreen".into()),
            due_by: Some(by(p.rescreen_by_days)),
            notes,
            risk_factors,
        };
    }
    if now >= by(p.initial_by_days) {
        return HearingAssessment {
            status: HearingStatus::Missed,
            next_action: Some("rescreen".into()),
            due_by: Some(by(p.rescreen_by_days)),
            notes,
            risk_factors,
        };
    }
    HearingAssessment {
        status: HearingStatus::NotScreened,
        next_action: Some("initial_screen".into()),
        due_by: Some(by(p.initial_by_days)),
        notes,
        risk_factors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::{Catalogue, DEFAULT_CATALOGUE_TOML};
    use chrono::TimeZone;

    fn policy() -> HearingPolicy {
        Catalogue::from_toml(DEFAULT_CATALOGUE_TOML)
            .unwrap()
            .hearing
    }

    fn infant(nicu_days: Option<i64>, risks: &[&str]) -> HearingInfant {
        HearingInfant {
            birth_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            nicu_days,
            risk_factors: risks.iter().map(|s| s.to_string()).collect(),
            intervention_started: None,
        }
    }

    fn t(
        stage: HearingStage,
        method: HearingMethod,
        l: EarResult,
        r: EarResult,
        day: i64,
    ) -> HearingTest {
        HearingTest {
            stage,
            method,
            left: l,
            right: r,
            tested_at: infant(None, &[]).birth_at + Duration::days(day),
        }
    }

    use EarResult::{Pass as P, Refer as R};
    use HearingMethod::{Aabr, Diagnostic as Dx, Oae};
    use HearingStage::{Diagnostic, Initial, Rescreen};

    fn now(day: i64) -> DateTime<Utc> {
        infant(None, &[]).birth_at + Duration::days(day)
    }

    #[test]
    fn the_1_3_6_pathway() {
        let p = policy();
        let i = infant(None, &[]);
        let a = assess(&p, &i, &[], now(1));
        assert_eq!(
            (a.status, a.next_action.as_deref()),
            (HearingStatus::NotScreened, Some("initial_screen"))
        );
        let a = assess(&p, &i, &[t(Initial, Oae, P, P, 2)], now(3));
        assert_eq!((a.status, a.next_action), (HearingStatus::Pass, None));
        let a = assess(&p, &i, &[t(Initial, Oae, P, R, 2)], now(3));
        assert_eq!(a.status, HearingStatus::RescreenDue);
        assert_eq!(a.due_by, Some(i.birth_at + Duration::days(42)));
        let refer_twice = [t(Initial, Oae, P, R, 2), t(Rescreen, Aabr, R, P, 30)];
        let a = assess(&p, &i, &refer_twice, now(31));
        assert_eq!(a.status, HearingStatus::DiagnosisDue);
        assert_eq!(a.due_by, Some(i.birth_at + Duration::days(90)));
        let confirmed = [
            refer_twice[0].clone(),
            refer_twice[1].clone(),
            t(Diagnostic, Dx, R, P, 80),
        ];
        let a = assess(&p, &i, &confirmed, now(81));
        assert_eq!(a.status, HearingStatus::InterventionDue);
        assert_eq!(a.due_by, Some(i.birth_at + Duration::days(180)));
        let started = HearingInfant {
            intervention_started: Some(i.birth_at + Duration::days(100)),
            ..i.clone()
        };
        let a = assess(&p, &started, &confirmed, now(101));
        assert_eq!(
            (a.status, a.next_action, a.due_by),
            (HearingStatus::InterventionStarted, None, None)
        );
        // An intervention does not make a pass into anything else.
        let normal_started = [refer_twice[0].clone(), t(Diagnostic, Dx, P, P, 80)];
        assert_eq!(
            assess(&p, &started, &normal_started, now(101)).status,
            HearingStatus::Pass
        );
        let normal = [
            refer_twice[0].clone(),
            refer_twice[1].clone(),
            t(Diagnostic, Dx, P, P, 80),
        ];
        assert_eq!(assess(&p, &i, &normal, now(81)).status, HearingStatus::Pass);
        let rescreen_pass = [t(Initial, Oae, R, R, 2), t(Rescreen, Oae, P, P, 20)];
        assert_eq!(
            assess(&p, &i, &rescreen_pass, now(21)).status,
            HearingStatus::Pass
        );
    }

    #[test]
    fn a_missed_initial_screen_needs_a_rescreen() {
        let p = policy();
        let a = assess(&p, &infant(None, &[]), &[], now(p.initial_by_days));
        assert_eq!(
            (a.status, a.next_action.as_deref()),
            (HearingStatus::Missed, Some("rescreen"))
        );
    }

    #[test]
    fn long_nicu_stays_need_aabr() {
        let p = policy();
        let nicu = infant(Some(6), &[]);
        let a = assess(&p, &nicu, &[t(Initial, Oae, P, P, 7)], now(8));
        assert_eq!(
            a.status,
            HearingStatus::RescreenDue,
            "an OAE pass does not count"
        );
        assert_eq!(a.notes.len(), 1);
        assert!(a.risk_factors.contains(&"nicu_gt_5_days".to_string()));
        let a = assess(&p, &nicu, &[t(Initial, Aabr, P, P, 7)], now(8));
        assert_eq!(a.status, HearingStatus::Pass);
        assert_eq!(
            a.next_action.as_deref(),
            Some("surveillance"),
            "NICU > 5 days is a risk factor"
        );
        // Exactly 5 days is not "more than 5".
        assert_eq!(
            assess(
                &p,
                &infant(Some(5), &[]),
                &[t(Initial, Oae, P, P, 6)],
                now(7)
            )
            .status,
            HearingStatus::Pass
        );
    }

    #[test]
    fn risk_factors_mean_yearly_surveillance_until_three() {
        let p = policy();
        let i = infant(None, &["family_history"]);
        let a = assess(&p, &i, &[t(Initial, Oae, P, P, 2)], now(3));
        assert_eq!(a.next_action.as_deref(), Some("surveillance"));
        assert_eq!(a.due_by, Some(i.birth_at + Duration::days(360)));
        let a = assess(&p, &i, &[t(Initial, Oae, P, P, 2)], now(400));
        assert_eq!(a.due_by, Some(i.birth_at + Duration::days(720)));
        let a = assess(&p, &i, &[t(Initial, Oae, P, P, 2)], now(36 * 30 + 1));
        assert_eq!(a.next_action, None);
    }
}
