//! Pulse-oximetry screening for critical congenital heart disease (catalogue §5). A protocol is
//! data: its pass rule, limits, number of repeats and, for `cn-dual-index`, the clinical index
//! (murmur grade and signs). The engine reads a screen's measurements in time order.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::catalogue::Tier;

/// Which limbs must reach the pass limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PassRule {
    /// Right hand and foot both at or above `pass_min`.
    Both,
    /// Either limb at or above `pass_min`.
    Either,
}

/// A screening protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CchdProtocol {
    /// Code, e.g. `cn-dual-index`.
    pub code: String,
    /// A description of the protocol, for people.
    #[serde(default)]
    pub description: String,
    /// Earliest age for a measurement (h).
    pub min_age_hours: i64,
    /// Latest age for a measurement (h).
    pub max_age_hours: i64,
    /// Pass rule.
    pub pass_rule: PassRule,
    /// SpO2 (%) a limb must reach to pass.
    pub pass_min: f64,
    /// SpO2 (%) below which the screen fails at once.
    pub fail_below: f64,
    /// Largest hand–foot difference (%) that can pass.
    pub max_difference: f64,
    /// Repeats allowed after a first non-pass before the screen fails.
    pub repeats: usize,
    /// Hours to wait before a repeat.
    pub repeat_after_hours: f64,
    /// Hours by which a repeat is due.
    pub repeat_within_hours: f64,
    /// Murmur grade (of 6) that makes the clinical index positive; absent = no clinical index.
    #[serde(default)]
    pub murmur_min_grade: Option<i64>,
    /// A device's heart-sound analysis (AI stethoscope) reporting a suspected murmur counts as
    /// the clinical index's murmur sign, beside or instead of a clinician's grade.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ai_murmur_sign: bool,
    /// The device score (0–1) at or above which a suspected murmur counts; absent = the device's
    /// own result decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_min_score: Option<f64>,
}

/// Who or what listened to the heart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuscultationMethod {
    /// An intelligent (AI) stethoscope's heart-sound analysis.
    AiHeartSound,
}

super::text_enum!(AuscultationMethod {
    AiHeartSound = "ai_heart_sound"
});

/// A device's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuscultationResult {
    /// No murmur detected.
    Normal,
    /// A murmur is suspected.
    SuspectedMurmur,
}

super::text_enum!(AuscultationResult {
    Normal = "normal",
    SuspectedMurmur = "suspected_murmur",
});

/// A device's heart-sound auscultation, sent with a heart screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Auscultation {
    /// `ai_heart_sound`.
    pub method: AuscultationMethod,
    /// The device's identifier (serial number or registration code).
    pub device_id: String,
    /// `normal` or `suspected_murmur`.
    pub result: AuscultationResult,
    /// Murmur grade 1–6 the device estimated, when it gives one.
    #[serde(default)]
    pub grade: Option<i64>,
    /// The device's confidence score, 0–1, when it gives one.
    #[serde(default)]
    pub score: Option<f64>,
}

impl CchdProtocol {
    /// Whether a device's auscultation counts as this protocol's murmur sign.
    pub fn ai_murmur(&self, a: &Auscultation) -> bool {
        self.ai_murmur_sign
            && a.result == AuscultationResult::SuspectedMurmur
            && self
                .ai_min_score
                .is_none_or(|min| a.score.is_some_and(|s| s >= min))
    }
}

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CchdMeasurement {
    /// When the measurement was taken.
    pub measured_at: DateTime<Utc>,
    /// Right hand (pre-ductal) SpO2 %.
    pub right_hand_spo2: f64,
    /// Foot (post-ductal) SpO2 %.
    pub foot_spo2: f64,
    /// Murmur grade 0–6, when auscultated.
    #[serde(default)]
    pub murmur_grade: Option<i64>,
    /// Clinical signs recorded (family history of CHD, special facial features, other malformations…).
    #[serde(default)]
    pub clinical_signs: Vec<String>,
    /// A device's heart-sound auscultation, when one was made.
    #[serde(default)]
    pub auscultation: Option<Auscultation>,
}

/// What the screen decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CchdOutcome {
    /// No valid measurement yet.
    Pending,
    /// Screen passed.
    Pass,
    /// Measure again in the window.
    RepeatNeeded {
        /// Earliest time for the repeat.
        not_before: DateTime<Utc>,
        /// Latest time for the repeat.
        due_by: DateTime<Utc>,
    },
    /// Screen positive: echocardiography needed.
    Positive {
        /// Tier (T0 below the fail limit).
        tier: Tier,
        /// Why the screen is failed or repeated.
        reasons: Vec<String>,
    },
}

/// Evaluates measurements (in any order; sorted here) from a birth time under a protocol.
/// Returns the outcome and notes on measurements that were ignored.
pub fn evaluate(
    p: &CchdProtocol,
    birth_at: DateTime<Utc>,
    measurements: &[CchdMeasurement],
) -> (CchdOutcome, Vec<String>) {
    let mut ms: Vec<&CchdMeasurement> = measurements.iter().collect();
    ms.sort_by_key(|m| m.measured_at);
    let mut notes = vec![];
    let mut non_passes = 0usize;
    let mut last_non_pass: Option<DateTime<Utc>> = None;
    for m in ms {
        let age = (m.measured_at - birth_at).num_minutes() as f64 / 60.0;
        if age < p.min_age_hours as f64 {
            notes.push(format!(
                "measurement at {age:.1} h ignored: before {} h",
                p.min_age_hours
            ));
            continue;
        }
        if age > p.max_age_hours as f64 {
            notes.push(format!(
                "measurement at {age:.1} h is after {} h",
                p.max_age_hours
            ));
        }
        if let Some(min) = p.murmur_min_grade {
            let mut reasons = vec![];
            if m.murmur_grade.is_some_and(|g| g >= min) {
                reasons.push(format!(
                    "murmur grade {}/6",
                    m.murmur_grade.unwrap_or_default()
                ));
            }
            if let Some(a) = m.auscultation.as_ref().filter(|a| p.ai_murmur(a)) {
                reasons.push(format!(
                    "AI heart-sound analysis: suspected murmur (device {})",
                    a.device_id
                ));
            }
            reasons.extend(
                m.clinical_signs
                    .iter()
                    .map(|s| format!("clinical sign: {s}")),
            );
            if !reasons.is_empty() {
                return (
                    CchdOutcome::Positive {
                        tier: Tier::T1,
                        reasons,
                    },
                    notes,
                );
            }
        }
        let (h, f) = (m.right_hand_spo2, m.foot_spo2);
        if h < p.fail_below || f < p.fail_below {
            let reasons = vec![format!(
                "SpO2 below {}% (hand {h}%, foot {f}%)",
                p.fail_below
            )];
            return (
                CchdOutcome::Positive {
                    tier: Tier::T0,
                    reasons,
                },
                notes,
            );
        }
        let reaches = match p.pass_rule {
            PassRule::Both => h >= p.pass_min && f >= p.pass_min,
            PassRule::Either => h >= p.pass_min || f >= p.pass_min,
        };
        if reaches && (h - f).abs() <= p.max_difference {
            return (CchdOutcome::Pass, notes);
        }
        non_passes += 1;
        last_non_pass = Some(m.measured_at);
        if non_passes > p.repeats {
            let reasons = vec![format!(
                "{non_passes} measurements did not pass (last: hand {h}%, foot {f}%, difference {:.1}%)",
                (h - f).abs()
            )];
            return (
                CchdOutcome::Positive {
                    tier: Tier::T1,
                    reasons,
                },
                notes,
            );
        }
    }
    match last_non_pass {
        Some(at) => (
            CchdOutcome::RepeatNeeded {
                not_before: at + minutes(p.repeat_after_hours),
                due_by: at + minutes(p.repeat_within_hours),
            },
            notes,
        ),
        None => (CchdOutcome::Pending, notes),
    }
}

fn minutes(hours: f64) -> Duration {
    Duration::minutes((hours * 60.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::{Catalogue, DEFAULT_CATALOGUE_TOML};
    use chrono::TimeZone;

    fn protocol(code: &str) -> CchdProtocol {
        let c = Catalogue::from_toml(DEFAULT_CATALOGUE_TOML).unwrap();
        c.cchd
            .protocols
            .into_iter()
            .find(|p| p.code == code)
            .unwrap()
    }

    fn birth() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    fn m(hour: i64, hand: f64, foot: f64) -> CchdMeasurement {
        CchdMeasurement {
            measured_at: birth() + Duration::hours(hour),
            right_hand_spo2: hand,
            foot_spo2: foot,
            murmur_grade: Some(0),
            clinical_signs: vec![],
            auscultation: None,
        }
    }

    fn ai(result: AuscultationResult, score: Option<f64>) -> Auscultation {
        Auscultation {
            method: AuscultationMethod::AiHeartSound,
            device_id: "AI-STETH-7".into(),
            result,
            grade: None,
            score,
        }
    }

    #[test]
    fn an_ai_suspected_murmur_is_the_murmur_sign_where_the_protocol_says_so() {
        let mut p = protocol("cn-dual-index");
        assert!(p.ai_murmur_sign, "the shipped dual index uses it");
        let mut heard = m(24, 97.0, 98.0);
        heard.murmur_grade = None;
        heard.auscultation = Some(ai(AuscultationResult::SuspectedMurmur, Some(0.8)));
        let (o, _) = evaluate(&p, birth(), std::slice::from_ref(&heard));
        assert!(is_positive(&o, Tier::T1), "{o:?}");
        heard.auscultation = Some(ai(AuscultationResult::Normal, Some(0.9)));
        assert_eq!(
            evaluate(&p, birth(), std::slice::from_ref(&heard)).0,
            CchdOutcome::Pass
        );
        // A score floor: below it the device's suspicion does not count.
        p.ai_min_score = Some(0.9);
        heard.auscultation = Some(ai(AuscultationResult::SuspectedMurmur, Some(0.8)));
        assert_eq!(
            evaluate(&p, birth(), std::slice::from_ref(&heard)).0,
            CchdOutcome::Pass
        );
        // A protocol without the setting ignores the device.
        p.ai_min_score = None;
        p.ai_murmur_sign = false;
        assert_eq!(evaluate(&p, birth(), &[heard]).0, CchdOutcome::Pass);
    }

    fn outcome(code: &str, ms: &[CchdMeasurement]) -> CchdOutcome {
        evaluate(&protocol(code), birth(), ms).0
    }

    fn is_positive(o: &CchdOutcome, tier: Tier) -> bool {
        matches!(o, CchdOutcome::Positive { tier: t, .. } if *t == tier)
    }

    #[test]
    fn dual_index_sequences() {
        let p = "cn-dual-index";
        assert_eq!(outcome(p, &[m(24, 97.0, 98.0)]), CchdOutcome::Pass);
        // 94 in the foot: repeat in 2–4 h.
        let o = outcome(p, &[m(24, 97.0, 94.0)]);
        assert_eq!(
            o,
            CchdOutcome::RepeatNeeded {
                not_before: birth() + Duration::hours(26),
                due_by: birth() + Duration::hours(28)
            }
        );
        assert_eq!(
            outcome(p, &[m(24, 97.0, 94.0), m(27, 97.0, 96.0)]),
            CchdOutcome::Pass,
            "repeat then pass"
        );
        assert!(
            is_positive(
                &outcome(p, &[m(24, 97.0, 94.0), m(27, 97.0, 93.0)]),
                Tier::T1
            ),
            "repeat then fail"
        );
        assert!(
            is_positive(&outcome(p, &[m(24, 89.0, 97.0)]), Tier::T0),
            "immediate fail"
        );
        // Difference > 3 with both >= 95 is abnormal; exactly 3 passes.
        assert!(matches!(
            outcome(p, &[m(24, 100.0, 96.0)]),
            CchdOutcome::RepeatNeeded { .. }
        ));
        assert_eq!(outcome(p, &[m(24, 99.0, 96.0)]), CchdOutcome::Pass);
        // Murmur-only positive with normal oximetry.
        let mut murmur = m(24, 98.0, 98.0);
        murmur.murmur_grade = Some(2);
        assert!(is_positive(&outcome(p, &[murmur]), Tier::T1));
        let mut sign = m(24, 98.0, 98.0);
        sign.clinical_signs = vec!["family history of CHD".into()];
        assert!(is_positive(&outcome(p, &[sign]), Tier::T1));
        let mut grade1 = m(24, 98.0, 98.0);
        grade1.murmur_grade = Some(1);
        assert_eq!(outcome(p, &[grade1]), CchdOutcome::Pass);
    }

    #[test]
    fn aap_2020_sequences() {
        let p = "aap-2020";
        assert_eq!(outcome(p, &[m(25, 95.0, 95.0)]), CchdOutcome::Pass);
        assert!(matches!(
            outcome(p, &[m(25, 96.0, 94.0)]),
            CchdOutcome::RepeatNeeded { .. }
        ));
        assert_eq!(
            outcome(p, &[m(25, 96.0, 94.0), m(26, 97.0, 97.0)]),
            CchdOutcome::Pass
        );
        assert!(is_positive(
            &outcome(p, &[m(25, 96.0, 94.0), m(26, 96.0, 94.0)]),
            Tier::T1
        ));
        assert!(is_positive(&outcome(p, &[m(25, 89.9, 96.0)]), Tier::T0));
        // A murmur does not count under the AAP protocols.
        let mut murmur = m(25, 98.0, 98.0);
        murmur.murmur_grade = Some(3);
        assert_eq!(outcome(p, &[murmur]), CchdOutcome::Pass);
    }

    #[test]
    fn aap_2011_allows_two_repeats_and_either_limb() {
        let p = "aap-2011";
        assert_eq!(
            outcome(p, &[m(25, 95.0, 93.0)]),
            CchdOutcome::Pass,
            "either limb >= 95, difference 2"
        );
        let bad = |h| m(h, 94.0, 94.0);
        assert!(matches!(
            outcome(p, &[bad(25)]),
            CchdOutcome::RepeatNeeded { .. }
        ));
        assert!(matches!(
            outcome(p, &[bad(25), bad(26)]),
            CchdOutcome::RepeatNeeded { .. }
        ));
        assert!(is_positive(
            &outcome(p, &[bad(25), bad(26), bad(27)]),
            Tier::T1
        ));
        assert_eq!(
            outcome(p, &[bad(25), bad(26), m(27, 96.0, 96.0)]),
            CchdOutcome::Pass
        );
    }

    #[test]
    fn early_measurements_are_ignored_and_order_does_not_matter() {
        let (o, notes) = evaluate(&protocol("cn-dual-index"), birth(), &[m(3, 80.0, 80.0)]);
        assert_eq!(o, CchdOutcome::Pending);
        assert_eq!(notes.len(), 1);
        let p = "cn-dual-index";
        assert!(is_positive(
            &outcome(p, &[m(27, 97.0, 93.0), m(24, 97.0, 94.0)]),
            Tier::T1
        ));
    }
}
