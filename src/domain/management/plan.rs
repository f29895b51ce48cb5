//! Management plans (高危儿专案管理) as versioned data: per condition or group, the
//! treatment-start target, the schedule of follow-up contacts (visits and tests, each with an
//! anchor, an offset, a tolerance window, repeats and the measurements it records) and the
//! horizon. A plan set is one file of `config/management/`, validated when it is read.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::catalogue::Programme;

/// What a schedule offset counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// The infant's birth.
    Birth,
    /// The confirmation of the diagnosis (the episode's diagnosis time).
    Diagnosis,
    /// The start of treatment (contacts appear once treatment is recorded).
    Treatment,
}

/// What a contact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// A clinic visit (review, assessment, fitting).
    Visit,
    /// A laboratory or instrument test.
    Test,
}

super::super::text_enum!(Anchor { Birth = "birth", Diagnosis = "diagnosis", Treatment = "treatment" });
super::super::text_enum!(ContactKind { Visit = "visit", Test = "test" });

/// A measurement a contact records, with its unit and, when there is one, its target range on
/// management (a value outside it flags the episode for the clinician).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Code, e.g. `TSH`.
    pub code: String,
    /// Unit, one of the plan set's `units`.
    pub unit: String,
    /// Lowest value on target.
    #[serde(default)]
    pub low: Option<f64>,
    /// Highest value on target.
    #[serde(default)]
    pub high: Option<f64>,
}

/// Repeat a contact every `every_weeks` until the infant is `until_age_months` old (or the
/// plan's horizon, whichever is first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// Interval in weeks.
    pub every_weeks: u32,
    /// Last age (months) at which an occurrence may fall.
    pub until_age_months: u32,
}

/// One follow-up contact of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactSpec {
    /// Code, unique in its plan, e.g. `TFT`.
    pub code: String,
    /// Visit or test.
    pub kind: ContactKind,
    /// What the offset counts from.
    pub anchor: Anchor,
    /// Due this many days after the anchor.
    pub offset_days: i64,
    /// Done on time within this many days either side of the due day.
    pub tolerance_days: i64,
    /// Repeats, if any.
    #[serde(default)]
    pub repeat: Option<Repeat>,
    /// Measurements recorded.
    #[serde(default)]
    pub fields: Vec<Field>,
    /// Where the numbers come from, or `local default, verify`.
    pub source: String,
}

/// The treatment-start target: by this many days after the anchor (birth or diagnosis).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TreatmentTarget {
    /// Birth or diagnosis.
    pub anchor: Anchor,
    /// Days after it.
    pub days: i64,
}

/// The plan of one condition or group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Code, unique in the set.
    pub code: String,
    /// Name (zh-CN).
    pub name: String,
    /// Condition codes it manages (catalogue codes, `HL`, `CCHD`).
    #[serde(default)]
    pub conditions: Vec<String>,
    /// The programme whose other confirmed conditions fall back to this plan.
    #[serde(default)]
    pub fallback_for: Option<Programme>,
    /// Treatment-start target; none for a surveillance plan.
    #[serde(default)]
    pub treatment_target: Option<TreatmentTarget>,
    /// Follow-up ends at this age (months).
    pub horizon_months: u32,
    /// Where the numbers come from.
    pub source: String,
    /// The contacts.
    pub contacts: Vec<ContactSpec>,
}

/// The escalation of a follow-up contact not done: a family reminder before its due day, the
/// hospital and the centre's coordinators once its window closed, the district MCH institution
/// some days later for a home visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactLadder {
    /// M0: family SMS this many days before the due day.
    pub family_reminder_days_before: i64,
    /// M1: hospital and coordinators this many days after the window closed.
    pub staff_after_window_days: i64,
    /// M2: district MCH this many days after the window closed.
    pub district_after_window_days: i64,
}

/// A plan-set version: one file of `config/management/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanSet {
    /// Version id.
    pub version: String,
    /// First day in force.
    pub effective_from: NaiveDate,
    /// Units a measurement may use.
    pub units: BTreeSet<String>,
    /// The contact escalation.
    pub escalation: ContactLadder,
    /// The plans.
    pub plans: Vec<Plan>,
}

/// A plan set that does not hold together; the message names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// One scheduled occurrence of a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The contact's code.
    pub code: String,
    /// Visit or test.
    pub kind: ContactKind,
    /// 1 for the first, 2 for the first repeat…
    pub seq: i32,
    /// Due time.
    pub due_at: DateTime<Utc>,
    /// Window opens.
    pub window_start: DateTime<Utc>,
    /// Window closes (after it, the contact is overdue).
    pub window_end: DateTime<Utc>,
}

/// The anchors known for an episode.
#[derive(Debug, Clone, Copy)]
pub struct Anchors {
    /// Birth.
    pub birth: DateTime<Utc>,
    /// Diagnosis confirmed.
    pub diagnosis: DateTime<Utc>,
    /// Treatment started, once it has.
    pub treatment: Option<DateTime<Utc>>,
}

impl Anchors {
    fn of(&self, a: Anchor) -> Option<DateTime<Utc>> {
        match a {
            Anchor::Birth => Some(self.birth),
            Anchor::Diagnosis => Some(self.diagnosis),
            Anchor::Treatment => self.treatment,
        }
    }
}

/// Adds whole months, saturating at the far future.
fn plus_months(t: DateTime<Utc>, m: u32) -> DateTime<Utc> {
    t.checked_add_months(Months::new(m))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl PlanSet {
    /// Parses and validates a plan-set file.
    pub fn from_toml(text: &str) -> Result<Self, PlanError> {
        let s: PlanSet = toml::from_str(text).map_err(|e| PlanError(e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), PlanError> {
        let v = &self.version;
        let bad = |what: String| Err(PlanError(format!("management plans {v}: {what}")));
        if v.trim().is_empty() {
            return Err(PlanError("management plans: version is empty".into()));
        }
        let e = &self.escalation;
        if e.family_reminder_days_before < 0
            || e.staff_after_window_days < 0
            || e.district_after_window_days < e.staff_after_window_days
        {
            return bad(
                "escalation: days must be ≥ 0 and the district rung not before the staff rung"
                    .into(),
            );
        }
        let mut plan_codes = BTreeSet::new();
        let mut conditions: BTreeMap<&str, &str> = BTreeMap::new();
        let mut fallbacks = BTreeSet::new();
        for p in &self.plans {
            let at = format!("plan {}", p.code);
            if p.code.trim().is_empty() || !plan_codes.insert(p.code.as_str()) {
                return bad(format!("{at}: plan codes must be present and unique"));
            }
            for c in &p.conditions {
                if let Some(other) = conditions.insert(c, &p.code) {
                    return bad(format!(
                        "{at}: condition {c} is already managed by plan {other}"
                    ));
                }
            }
            if let Some(f) = p.fallback_for
                && !fallbacks.insert(f.as_str())
            {
                return bad(format!("{at}: a second fallback plan for {f}"));
            }
            if p.horizon_months == 0 || p.horizon_months > 216 {
                return bad(format!("{at}: horizon_months must be 1–216"));
            }
            if let Some(t) = &p.treatment_target
                && (t.anchor == Anchor::Treatment || !(0..=3650).contains(&t.days))
            {
                return bad(format!(
                    "{at}: treatment_target must count 0–3650 days from birth or diagnosis"
                ));
            }
            if p.contacts.is_empty() {
                return bad(format!("{at}: no contacts"));
            }
            let horizon_days = i64::from(p.horizon_months) * 31;
            let mut contact_codes = BTreeSet::new();
            for c in &p.contacts {
                let at = format!("{at} contact {}", c.code);
                if c.code.trim().is_empty() || !contact_codes.insert(c.code.as_str()) {
                    return bad(format!("{at}: contact codes must be present and unique"));
                }
                if !(0..=horizon_days).contains(&c.offset_days) {
                    return bad(format!(
                        "{at}: offset_days {} must be 0–{horizon_days} (within the horizon)",
                        c.offset_days
                    ));
                }
                if !(0..=180).contains(&c.tolerance_days) {
                    return bad(format!("{at}: tolerance_days must be 0–180"));
                }
                if c.anchor == Anchor::Treatment && p.treatment_target.is_none() {
                    return bad(format!(
                        "{at}: anchored on treatment in a plan without treatment"
                    ));
                }
                if let Some(r) = &c.repeat
                    && (r.every_weeks == 0 || r.until_age_months > p.horizon_months)
                {
                    return bad(format!(
                        "{at}: repeat needs every_weeks ≥ 1 and until_age_months within the horizon"
                    ));
                }
                if c.source.trim().is_empty() {
                    return bad(format!("{at}: source is empty"));
                }
                let mut fields = BTreeSet::new();
                for f in &c.fields {
                    if !fields.insert(f.code.as_str()) {
                        return bad(format!("{at}: field {} twice", f.code));
                    }
                    if !self.units.contains(&f.unit) {
                        return bad(format!(
                            "{at}: field {} has unknown unit {:?}",
                            f.code, f.unit
                        ));
                    }
                    if let (Some(l), Some(h)) = (f.low, f.high)
                        && l > h
                    {
                        return bad(format!("{at}: field {} has low above high", f.code));
                    }
                }
            }
        }
        Ok(())
    }

    /// The plan for a confirmed `condition` of `programme`: the plan naming it, else the
    /// programme's fallback plan.
    pub fn plan_for(&self, condition: &str, programme: Option<Programme>) -> Option<&Plan> {
        self.plans
            .iter()
            .find(|p| p.conditions.iter().any(|c| c == condition))
            .or_else(|| {
                programme.and_then(|g| self.plans.iter().find(|p| p.fallback_for == Some(g)))
            })
    }

    /// A plan by code.
    pub fn plan(&self, code: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.code == code)
    }
}

impl Plan {
    /// The end of follow-up.
    pub fn horizon(&self, birth: DateTime<Utc>) -> DateTime<Utc> {
        plus_months(birth, self.horizon_months)
    }

    /// When treatment should have started, if the plan treats.
    pub fn treatment_due(&self, a: &Anchors) -> Option<DateTime<Utc>> {
        let t = self.treatment_target.as_ref()?;
        a.of(t.anchor).map(|x| x + Duration::days(t.days))
    }

    /// The occurrences of the contacts anchored on `anchors` (treatment-anchored ones only when
    /// `which` includes the treatment anchor), up to the horizon, leaving out those whose window
    /// closed before `from` (an episode opened late does not start overdue).
    pub fn schedule(&self, a: &Anchors, which: &[Anchor], from: DateTime<Utc>) -> Vec<Occurrence> {
        let horizon = self.horizon(a.birth);
        let mut out = Vec::new();
        for c in self.contacts.iter().filter(|c| which.contains(&c.anchor)) {
            let Some(base) = a.of(c.anchor) else { continue };
            let first = base + Duration::days(c.offset_days);
            let until = c.repeat.as_ref().map_or(first, |r| {
                plus_months(a.birth, r.until_age_months).min(horizon)
            });
            let step = c
                .repeat
                .as_ref()
                .map(|r| Duration::weeks(i64::from(r.every_weeks)));
            let tol = Duration::days(c.tolerance_days);
            let (mut due, mut seq) = (first, 1);
            while due <= horizon && due <= until.max(first) {
                if due + tol >= from {
                    out.push(Occurrence {
                        code: c.code.clone(),
                        kind: c.kind,
                        seq,
                        due_at: due,
                        window_start: due - tol,
                        window_end: due + tol,
                    });
                }
                match step {
                    Some(s) => due += s,
                    None => break,
                }
                seq += 1;
            }
        }
        out.sort_by_key(|o| (o.due_at, o.code.clone()));
        out
    }

    /// The contact spec with `code`.
    pub fn contact(&self, code: &str) -> Option<&ContactSpec> {
        self.contacts.iter().find(|c| c.code == code)
    }
}

/// A measurement outside its target range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutOfRange {
    /// Field code.
    pub field: String,
    /// The value recorded.
    pub value: f64,
    /// Unit.
    pub unit: String,
    /// Target low.
    pub low: Option<f64>,
    /// Target high.
    pub high: Option<f64>,
}

impl ContactSpec {
    /// Checks recorded values against the fields: an unknown field or a value that is not a
    /// finite number is an error naming it; values off target are returned.
    pub fn check(
        &self,
        values: &BTreeMap<String, f64>,
    ) -> Result<Vec<OutOfRange>, (String, String)> {
        let mut off = Vec::new();
        for (k, v) in values {
            let Some(f) = self.fields.iter().find(|f| &f.code == k) else {
                let known: Vec<&str> = self.fields.iter().map(|f| f.code.as_str()).collect();
                return Err((
                    format!("measurements.{k}"),
                    format!(
                        "is not recorded at this contact; expected one of [{}]",
                        known.join(", ")
                    ),
                ));
            };
            if !v.is_finite() || *v < 0.0 {
                return Err((format!("measurements.{k}"), "must be a number ≥ 0".into()));
            }
            if f.low.is_some_and(|l| *v < l) || f.high.is_some_and(|h| *v > h) {
                off.push(OutOfRange {
                    field: f.code.clone(),
                    value: *v,
                    unit: f.unit.clone(),
                    low: f.low,
                    high: f.high,
                });
            }
        }
        Ok(off)
    }
}
