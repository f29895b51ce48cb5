//! Infant registration rules: plausible birth data, contact details, and status changes.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use super::id_card::{self, IdDocumentType};
use super::validation::FieldErrors;

/// Recorded sex at birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Not determined at birth (e.g. disorders of sex development; relevant to CAH screening).
    Undetermined,
}

/// Whether the infant is still followed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InfantStatus {
    /// Followed by this programme.
    Active,
    /// Died; terminal.
    Deceased,
    /// Moved to a hospital or region outside this programme; may return to active.
    Transferred,
}

super::text_enum!(Sex { Male = "male", Female = "female", Undetermined = "undetermined" });
super::text_enum!(InfantStatus { Active = "active", Deceased = "deceased", Transferred = "transferred" });

impl InfantStatus {
    /// Whether a change from `self` to `to` is allowed. Death is final; a transferred infant
    /// may come back.
    pub fn can_change_to(self, to: InfantStatus) -> bool {
        match (self, to) {
            (a, b) if a == b => false,
            (InfantStatus::Deceased, _) => false,
            _ => true,
        }
    }
}

/// Limits on birth data; outside them a registration is refused.
pub mod limits {
    /// Birth weight in grams.
    pub const BIRTH_WEIGHT_G: (i64, i64) = (200, 7000);
    /// Completed weeks of gestation.
    pub const GESTATION_WEEKS: (i64, i64) = (20, 45);
    /// Extra days beyond the completed weeks.
    pub const GESTATION_DAYS: (i64, i64) = (0, 6);
    /// Number of babies born in this delivery.
    pub const PLURALITY: (i64, i64) = (1, 8);
    /// Maximum number of contact phones.
    pub const MAX_PHONES: usize = 3;
    /// Clock skew tolerated for "birth time not in the future", in minutes.
    pub const FUTURE_SKEW_MINUTES: i64 = 5;
    /// Oldest birth accepted for a new registration, in days.
    pub const MAX_AGE_DAYS: i64 = 366;
}

/// A birth as submitted, before checks. Field names are the API's.
#[derive(Debug, Clone)]
pub struct BirthFacts {
    /// Hospital medical record number.
    pub mrn: String,
    /// Birth time with its UTC offset.
    pub birth_at: DateTime<FixedOffset>,
    /// Completed weeks.
    pub gestational_age_weeks: i64,
    /// Days beyond weeks.
    pub gestational_age_days: i64,
    /// Birth weight in grams.
    pub birth_weight_g: i64,
    /// Babies in this delivery.
    pub plurality: i64,
    /// Position among them.
    pub birth_order: i64,
}

/// Checks birth facts against [`limits`]; `now` is injected so tests can move the clock.
pub fn check_birth(f: &BirthFacts, now: DateTime<Utc>, e: &mut FieldErrors) -> String {
    let mrn = e.text("mrn", &f.mrn, 64);
    let birth = f.birth_at.with_timezone(&Utc);
    if birth > now + Duration::minutes(limits::FUTURE_SKEW_MINUTES) {
        e.add("birth_at", "must not be in the future");
    } else if birth < now - Duration::days(limits::MAX_AGE_DAYS) {
        e.add(
            "birth_at",
            format!("must be within the last {} days", limits::MAX_AGE_DAYS),
        );
    }
    let (lo, hi) = limits::GESTATION_WEEKS;
    e.range(
        "gestational_age_weeks",
        f.gestational_age_weeks,
        lo,
        hi,
        " weeks",
    );
    let (lo, hi) = limits::GESTATION_DAYS;
    e.range(
        "gestational_age_days",
        f.gestational_age_days,
        lo,
        hi,
        " days",
    );
    let (lo, hi) = limits::BIRTH_WEIGHT_G;
    e.range("birth_weight_g", f.birth_weight_g, lo, hi, " g");
    let (lo, hi) = limits::PLURALITY;
    e.range("plurality", f.plurality, lo, hi, "");
    if f.birth_order < 1 || f.birth_order > f.plurality.max(1) {
        e.add("birth_order", "must be between 1 and plurality");
    }
    mrn
}

/// Normalises and checks contact phones: digits with an optional leading `+`, 7–15 digits,
/// separators (space, `-`) dropped. At least one is required so a recall can reach the family.
pub fn check_phones(field: &str, phones: &[String], e: &mut FieldErrors) -> Vec<String> {
    if phones.is_empty() {
        e.add(field, "at least one phone number is required");
    }
    if phones.len() > limits::MAX_PHONES {
        e.add(
            field,
            format!("at most {} phone numbers", limits::MAX_PHONES),
        );
    }
    phones
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let n: String = p.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
            let digits = n.strip_prefix('+').unwrap_or(&n);
            if !(7..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
                e.add(
                    format!("{field}[{i}]"),
                    "must be 7 to 15 digits, optionally starting with +",
                );
            }
            n
        })
        .collect()
}

/// A mother's identity document after checks: only the masked form leaves the domain in clear.
#[derive(Debug, Clone)]
pub struct CheckedIdDocument {
    /// Document type.
    pub kind: IdDocumentType,
    /// Normalised number, to be hashed and then dropped (never stored or logged).
    pub normalised: String,
    /// Masked form for display.
    pub masked: String,
}

/// Checks an identity document number.
pub fn check_id_document(
    field: &str,
    kind: IdDocumentType,
    number: &str,
    e: &mut FieldErrors,
) -> Option<CheckedIdDocument> {
    match id_card::normalise(kind, number) {
        Ok(n) => Some(CheckedIdDocument {
            kind,
            masked: id_card::mask(kind, &n),
            normalised: n,
        }),
        Err(msg) => {
            e.add(field, msg);
            None
        }
    }
}

/// `HOSPITALCODE-MRN`: what families and staff quote for an infant; never a name.
pub fn infant_ref(hospital_code: &str, mrn: &str) -> String {
    format!("{hospital_code}-{mrn}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn facts() -> BirthFacts {
        BirthFacts {
            mrn: " MRN-1 ".into(),
            birth_at: FixedOffset::east_opt(8 * 3600)
                .unwrap()
                .with_ymd_and_hms(2026, 11, 20, 8, 30, 0)
                .unwrap(),
            gestational_age_weeks: 39,
            gestational_age_days: 2,
            birth_weight_g: 3300,
            plurality: 1,
            birth_order: 1,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()
    }

    #[test]
    fn plausible_birth_passes() {
        let mut e = FieldErrors::new();
        assert_eq!(check_birth(&facts(), now(), &mut e), "MRN-1");
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn each_limit_names_its_field() {
        type Case = (fn(&mut BirthFacts), &'static str);
        let cases: Vec<Case> = vec![
            (|f| f.birth_weight_g = 199, "birth_weight_g"),
            (|f| f.birth_weight_g = 7001, "birth_weight_g"),
            (|f| f.gestational_age_weeks = 19, "gestational_age_weeks"),
            (|f| f.gestational_age_weeks = 46, "gestational_age_weeks"),
            (|f| f.gestational_age_days = 7, "gestational_age_days"),
            (|f| f.plurality = 0, "plurality"),
            (|f| f.birth_order = 2, "birth_order"),
            (|f| f.mrn = "  ".into(), "mrn"),
            (|f| f.birth_at += Duration::days(3), "birth_at"),
            (|f| f.birth_at -= Duration::days(400), "birth_at"),
        ];
        for (mutate, field) in cases {
            let mut f = facts();
            mutate(&mut f);
            let mut e = FieldErrors::new();
            check_birth(&f, now(), &mut e);
            assert_eq!(e.0.keys().collect::<Vec<_>>(), vec![field], "{f:?}");
        }
    }

    #[test]
    fn boundaries_are_inclusive() {
        let mut f = facts();
        f.birth_weight_g = 200;
        f.gestational_age_weeks = 45;
        f.plurality = 2;
        f.birth_order = 2;
        let mut e = FieldErrors::new();
        check_birth(&f, now(), &mut e);
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn phones_are_normalised_and_checked() {
        let mut e = FieldErrors::new();
        let p = check_phones(
            "mother_phones",
            &["138 0013-8000".into(), "+86 571 8888 7777".into()],
            &mut e,
        );
        assert!(e.is_empty());
        assert_eq!(p, vec!["13800138000", "+8657188887777"]);
        let mut e = FieldErrors::new();
        check_phones("mother_phones", &["12ab".into()], &mut e);
        assert!(e.0.contains_key("mother_phones[0]"));
        let mut e = FieldErrors::new();
        check_phones("mother_phones", &[], &mut e);
        assert!(e.0.contains_key("mother_phones"));
    }

    #[test]
    fn death_is_final_transfer_is_not() {
        use InfantStatus::*;
        assert!(Active.can_change_to(Deceased));
        assert!(Active.can_change_to(Transferred));
        assert!(Transferred.can_change_to(Active));
        assert!(!Deceased.can_change_to(Active));
        assert!(!Active.can_change_to(Active));
    }
}
