//! The condition catalogue: conditions, analytes, marker rules with cutoffs and strata, specimen
//! validity limits. It is versioned configuration (shipped as `config/catalogue/*.toml`), never
//! constants in code; every interpretation records the version it was made under.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::cchd::CchdProtocol;
use super::hearing::HearingPolicy;

/// Urgency tier of a positive (catalogue §6).
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
pub enum Tier {
    /// Critical: same-day recall.
    T0,
    /// Urgent.
    T1,
    /// Routine (also repeat cards).
    T2,
    /// Recollection of an unusable card.
    T3,
}

/// Screening programme.
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
pub enum Programme {
    /// Dried blood spot (metabolic and endocrine).
    #[serde(rename = "DBS")]
    Dbs,
    /// Hearing.
    #[serde(rename = "HEAR")]
    Hear,
    /// Critical congenital heart disease.
    #[serde(rename = "CCHD")]
    Cchd,
}

super::text_enum!(Tier { T0 = "T0", T1 = "T1", T2 = "T2", T3 = "T3" });
super::text_enum!(Programme { Dbs = "DBS", Hear = "HEAR", Cchd = "CCHD" });

/// A whole catalogue version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Version id, e.g. `zj-2023`.
    pub version: String,
    /// Jurisdiction code, e.g. `CN-ZJ`.
    pub jurisdiction: String,
    /// First day results are interpreted under this version.
    #[schema(value_type = String, format = Date)]
    pub effective_from: NaiveDate,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Specimen validity limits (§3).
    pub specimen: SpecimenPolicy,
    /// Measured analytes.
    pub analytes: Vec<Analyte>,
    /// Conditions screened for.
    pub conditions: Vec<Condition>,
    /// Marker rules that suggest conditions.
    pub rules: Vec<Rule>,
    /// Hearing pathway (§4).
    pub hearing: HearingPolicy,
    /// Heart screening (§5).
    pub cchd: CchdPolicy,
}

/// Heart screening protocols and the default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CchdPolicy {
    /// Protocol used when a screen does not name one.
    pub default_protocol: String,
    /// Echocardiography due within this many days of birth after a positive.
    pub echo_within_days: i64,
    /// Screening expected by this age (h); later counts as missed.
    pub screen_by_hours: i64,
    /// The protocols.
    pub protocols: Vec<CchdProtocol>,
}

/// Blood-spot card validity (§3) and protocol-repeat triggers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecimenPolicy {
    /// Earliest collection age in hours (Zhejiang 48; national 72).
    pub min_collection_age_hours: i64,
    /// Normal latest collection age in days.
    pub normal_collection_max_days: i64,
    /// Absolute latest collection age in days.
    pub max_collection_age_days: i64,
    /// Collection-to-receipt working days after which a card is "late".
    pub late_transit_working_days: i64,
    /// Reasons a card can be unsatisfactory.
    pub unsatisfactory_reasons: Vec<CodedName>,
    /// Infant factors that require a protocol repeat card even when results are normal.
    pub protocol_repeat: ProtocolRepeat,
}

/// When a normal card still needs a repeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProtocolRepeat {
    /// After a blood transfusion before collection.
    pub on_transfusion: bool,
    /// While on parenteral nutrition.
    pub on_tpn: bool,
    /// Born before this many completed weeks.
    pub preterm_below_weeks: Option<i64>,
    /// Born lighter than this (g).
    pub birth_weight_below_g: Option<i64>,
}

/// A code with Chinese and English names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodedName {
    /// Stable code.
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
}

/// A measured analyte.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Analyte {
    /// Code used in results (e.g. `Phe`, `C5-OH`).
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// UCUM-style unit results must be sent in.
    pub unit: String,
    /// Other spellings a laboratory may send (e.g. `C5OH`, a LIS code); values are stored under
    /// `code`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The largest value a laboratory can produce for this analyte; a larger one is an
    /// instrument or transcription error and rejects the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plausible_max: Option<f64>,
    /// LOINC code, when one exists for DBS.
    #[serde(default)]
    pub loinc: Option<String>,
}

/// A condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Code (e.g. `PKU`).
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// The programme the condition belongs to.
    pub programme: Programme,
    /// Group: E, AA, OA, FAO (DBS), or the programme's own.
    pub group: String,
    /// Default tier of a positive.
    pub tier: Tier,
    /// SNOMED CT code.
    #[serde(default)]
    pub snomed: Option<String>,
    /// ICD-10 code.
    #[serde(default)]
    pub icd10: Option<String>,
}

/// How a rule's criteria combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Every criterion must fire.
    All,
    /// At least `at_least` criteria must fire.
    AtLeast,
}

/// A marker rule: criteria over analytes or ratios, and the conditions they suggest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Rule id, unique in the catalogue.
    pub id: String,
    /// Condition codes this rule suggests.
    pub suggests: Vec<String>,
    /// How criteria combine (default all).
    #[serde(default = "combine_all")]
    pub combine: Combine,
    /// Count for `at_least`.
    #[serde(default)]
    pub at_least: Option<usize>,
    /// A firing rule asks only for a repeat card (borderline), never a recall.
    #[serde(default)]
    pub repeat_only: bool,
    /// Tier when a critical limit is crossed (default T0).
    #[serde(default = "tier_t0")]
    pub critical_tier: Tier,
    /// The criteria.
    pub criteria: Vec<Criterion>,
}

fn combine_all() -> Combine {
    Combine::All
}

fn tier_t0() -> Tier {
    Tier::T0
}

/// Which side of the cutoff is abnormal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Abnormal above the cutoff.
    High,
    /// Abnormal below the cutoff.
    Low,
}

/// One limit test on a marker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// An analyte code, or a ratio `A/B`, or `A/(B+C)`.
    pub marker: String,
    /// Abnormal side.
    pub direction: Direction,
    /// Whether a value equal to a limit counts as abnormal (`≥`/`≤` rather than `>`/`<`).
    #[serde(default)]
    pub inclusive: bool,
    /// Positive at or beyond this (infants in no stratum).
    pub cutoff: f64,
    /// Repeat card between this and the cutoff.
    #[serde(default)]
    pub borderline: Option<f64>,
    /// Critical at or beyond this.
    #[serde(default)]
    pub critical: Option<f64>,
    /// Strata, tried in order; the first that matches replaces the limits.
    #[serde(default)]
    pub strata: Vec<Stratum>,
}

/// Cutoff plus optional borderline and critical limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Limits {
    /// Positive at or beyond this.
    pub cutoff: f64,
    /// Repeat card between this and the cutoff.
    #[serde(default)]
    pub borderline: Option<f64>,
    /// Critical at or beyond this.
    #[serde(default)]
    pub critical: Option<f64>,
}

/// Limits that apply to a group of infants; every given bound must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Stratum {
    /// Name shown in explanations.
    pub name: String,
    /// Gestational age below this many completed weeks.
    #[serde(default)]
    pub ga_weeks_below: Option<i64>,
    /// Birth weight below (g).
    #[serde(default)]
    pub birth_weight_below_g: Option<i64>,
    /// Age at collection at least (h).
    #[serde(default)]
    pub age_hours_from: Option<i64>,
    /// Age at collection below (h).
    #[serde(default)]
    pub age_hours_below: Option<i64>,
    /// Cutoff in this stratum.
    pub cutoff: f64,
    /// Borderline in this stratum.
    #[serde(default)]
    pub borderline: Option<f64>,
    /// Critical in this stratum.
    #[serde(default)]
    pub critical: Option<f64>,
}

impl Criterion {
    /// The limits for infants in no stratum.
    pub fn limits(&self) -> Limits {
        Limits {
            cutoff: self.cutoff,
            borderline: self.borderline,
            critical: self.critical,
        }
    }
}

impl Stratum {
    /// This stratum's limits.
    pub fn limits(&self) -> Limits {
        Limits {
            cutoff: self.cutoff,
            borderline: self.borderline,
            critical: self.critical,
        }
    }
}

/// A parsed marker expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerExpr {
    /// A single analyte.
    Analyte(String),
    /// Numerator over the sum of denominator analytes.
    Ratio(String, Vec<String>),
}

/// Why a catalogue (or one of its markers) is not valid; the message names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CatalogueError(pub String);

impl MarkerExpr {
    /// Parses `A`, `A/B` or `A/(B+C)`.
    pub fn parse(s: &str) -> Result<Self, CatalogueError> {
        let s = s.trim();
        match s.split_once('/') {
            None if !s.is_empty() => Ok(Self::Analyte(s.to_string())),
            None => Err(CatalogueError("empty marker".into())),
            Some((num, den)) => {
                let den = den.trim();
                let den = den
                    .strip_prefix('(')
                    .and_then(|d| d.strip_suffix(')'))
                    .unwrap_or(den);
                let parts: Vec<String> = den.split('+').map(|p| p.trim().to_string()).collect();
                if num.trim().is_empty() || parts.iter().any(String::is_empty) {
                    return Err(CatalogueError(format!("malformed ratio {s:?}")));
                }
                Ok(Self::Ratio(num.trim().to_string(), parts))
            }
        }
    }

    /// Every analyte the marker reads.
    pub fn analytes(&self) -> Vec<&str> {
        match self {
            Self::Analyte(a) => vec![a],
            Self::Ratio(n, d) => std::iter::once(n.as_str())
                .chain(d.iter().map(String::as_str))
                .collect(),
        }
    }
}

impl Catalogue {
    /// Parses a TOML catalogue file and validates it.
    pub fn from_toml(text: &str) -> Result<Self, CatalogueError> {
        let c: Catalogue = toml::from_str(text).map_err(|e| CatalogueError(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// Checks internal consistency; the message names the offending entry.
    pub fn validate(&self) -> Result<(), CatalogueError> {
        self.check().map_err(CatalogueError)
    }

    fn check(&self) -> Result<(), String> {
        let err = |what: String| Err(format!("catalogue {}: {what}", self.version));
        if self.version.trim().is_empty() || self.jurisdiction.trim().is_empty() {
            return err("version and jurisdiction must be set".into());
        }
        let sp = &self.specimen;
        if !(0 < sp.min_collection_age_hours
            && sp.min_collection_age_hours < sp.normal_collection_max_days * 24
            && sp.normal_collection_max_days <= sp.max_collection_age_days)
        {
            return err(
                "specimen ages must satisfy 0 < min hours < normal max days <= max days".into(),
            );
        }
        if !self
            .cchd
            .protocols
            .iter()
            .any(|p| p.code == self.cchd.default_protocol)
        {
            return err(format!(
                "cchd: default_protocol {} is not defined",
                self.cchd.default_protocol
            ));
        }
        for p in &self.cchd.protocols {
            if !(p.fail_below <= p.pass_min
                && p.min_age_hours < p.max_age_hours
                && p.repeat_after_hours <= p.repeat_within_hours)
            {
                return err(format!("cchd protocol {}: limits out of order", p.code));
            }
        }
        let h = &self.hearing;
        if !(h.rescreen_by_days <= h.diagnosis_by_days
            && h.diagnosis_by_days <= h.intervention_by_days)
        {
            return err("hearing: rescreen, diagnosis and intervention ages must increase".into());
        }
        let analytes: BTreeSet<&str> = self.analytes.iter().map(|a| a.code.as_str()).collect();
        if analytes.len() != self.analytes.len() {
            return err("duplicate analyte code".into());
        }
        let mut names = analytes.clone();
        for a in &self.analytes {
            for alias in &a.aliases {
                if alias.trim().is_empty() || !names.insert(alias.as_str()) {
                    return err(format!(
                        "analyte {}: alias {alias:?} is empty or names another analyte",
                        a.code
                    ));
                }
            }
            if a.plausible_max.is_some_and(|m| !(m.is_finite() && m > 0.0)) {
                return err(format!(
                    "analyte {}: plausible_max must be a positive number",
                    a.code
                ));
            }
        }
        let conditions: BTreeSet<&str> = self.conditions.iter().map(|c| c.code.as_str()).collect();
        if conditions.len() != self.conditions.len() {
            return err("duplicate condition code".into());
        }
        let mut rule_ids = BTreeSet::new();
        for r in &self.rules {
            if !rule_ids.insert(r.id.as_str()) {
                return err(format!("rule {}: duplicate id", r.id));
            }
            if r.suggests.is_empty() {
                return err(format!("rule {}: suggests no condition", r.id));
            }
            for c in &r.suggests {
                if !conditions.contains(c.as_str()) {
                    return err(format!("rule {}: unknown condition {c}", r.id));
                }
            }
            if r.criteria.is_empty() {
                return err(format!("rule {}: no criteria", r.id));
            }
            match (r.combine, r.at_least) {
                (Combine::AtLeast, Some(n)) if n >= 1 && n <= r.criteria.len() => {}
                (Combine::AtLeast, _) => {
                    return err(format!("rule {}: at_least must be 1..=criteria", r.id));
                }
                (Combine::All, Some(_)) => {
                    return err(format!("rule {}: at_least needs combine = at_least", r.id));
                }
                (Combine::All, None) => {}
            }
            for c in &r.criteria {
                let m = MarkerExpr::parse(&c.marker)
                    .map_err(|e| format!("catalogue {}: rule {}: {e}", self.version, r.id))?;
                for a in m.analytes() {
                    if !analytes.contains(a) {
                        return err(format!("rule {}: unknown analyte {a}", r.id));
                    }
                }
                let check = |l: &Limits, at: &str| -> Result<(), String> {
                    let (lo_ok, hi_ok) = match c.direction {
                        Direction::High => (
                            l.borderline.is_none_or(|b| b <= l.cutoff),
                            l.critical.is_none_or(|x| x >= l.cutoff),
                        ),
                        Direction::Low => (
                            l.borderline.is_none_or(|b| b >= l.cutoff),
                            l.critical.is_none_or(|x| x <= l.cutoff),
                        ),
                    };
                    if !l.cutoff.is_finite() || !lo_ok || !hi_ok {
                        return Err(format!(
                            "catalogue {}: rule {} marker {}{at}: limits out of order (borderline, cutoff, critical)",
                            self.version, r.id, c.marker
                        ));
                    }
                    Ok(())
                };
                check(&c.limits(), "")?;
                for s in &c.strata {
                    check(&s.limits(), &format!(" stratum {}", s.name))?;
                }
            }
        }
        Ok(())
    }

    /// Looks up an analyte.
    pub fn analyte(&self, code: &str) -> Option<&Analyte> {
        self.analytes.iter().find(|a| a.code == code)
    }

    /// Looks up an analyte by its code or one of its aliases.
    pub fn analyte_by_any_name(&self, name: &str) -> Option<&Analyte> {
        self.analyte(name).or_else(|| {
            self.analytes
                .iter()
                .find(|a| a.aliases.iter().any(|x| x == name))
        })
    }

    /// Looks up a condition.
    pub fn condition(&self, code: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.code == code)
    }

    /// A heart-screening protocol by code.
    pub fn cchd_protocol(&self, code: &str) -> Option<&CchdProtocol> {
        self.cchd.protocols.iter().find(|p| p.code == code)
    }

    /// Conditions per programme, for summaries.
    pub fn conditions_of(&self, p: Programme) -> BTreeMap<&str, &Condition> {
        self.conditions
            .iter()
            .filter(|c| c.programme == p)
            .map(|c| (c.code.as_str(), c))
            .collect()
    }
}

/// The default catalogue shipped with Guthrie.
pub const DEFAULT_CATALOGUE_TOML: &str = include_str!("../../config/catalogue/zj-2026.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalogue_loads_with_29_metabolic_conditions() {
        let c = Catalogue::from_toml(DEFAULT_CATALOGUE_TOML).unwrap();
        assert_eq!(c.version, "zj-2026");
        assert_eq!(c.conditions_of(Programme::Dbs).len(), 29);
        assert_eq!(c.conditions_of(Programme::Hear).len(), 1);
        assert_eq!(c.conditions_of(Programme::Cchd).len(), 1);
        // Every DBS condition is suggested by at least one rule.
        for code in c.conditions_of(Programme::Dbs).keys() {
            assert!(
                c.rules.iter().any(|r| r.suggests.iter().any(|s| s == code)),
                "{code} has no rule"
            );
        }
    }

    #[test]
    fn markers_parse() {
        assert_eq!(
            MarkerExpr::parse("Phe").unwrap(),
            MarkerExpr::Analyte("Phe".into())
        );
        assert_eq!(
            MarkerExpr::parse("Phe/Tyr").unwrap(),
            MarkerExpr::Ratio("Phe".into(), vec!["Tyr".into()])
        );
        assert_eq!(
            MarkerExpr::parse("C0/(C16+C18)").unwrap(),
            MarkerExpr::Ratio("C0".into(), vec!["C16".into(), "C18".into()])
        );
        assert!(MarkerExpr::parse("C0/()").is_err());
        assert!(MarkerExpr::parse("").is_err());
    }

    fn broken(edit: impl Fn(&mut Catalogue)) -> String {
        let mut c = Catalogue::from_toml(DEFAULT_CATALOGUE_TOML).unwrap();
        edit(&mut c);
        c.validate().unwrap_err().0
    }

    #[test]
    fn validation_names_the_entry() {
        assert!(
            broken(|c| c.rules[0].suggests = vec!["NOPE".into()])
                .contains("unknown condition NOPE")
        );
        assert!(
            broken(|c| c.rules[0].criteria[0].marker = "Xyz".into())
                .contains("unknown analyte Xyz")
        );
        let id = Catalogue::from_toml(DEFAULT_CATALOGUE_TOML).unwrap().rules[0]
            .id
            .clone();
        assert!(broken(|c| c.rules[0].criteria[0].borderline = Some(1e9)).contains(&id));
        assert!(broken(|c| c.specimen.min_collection_age_hours = 0).contains("specimen"));
        assert!(
            broken(|c| {
                let dup = c.analytes[0].clone();
                c.analytes.push(dup)
            })
            .contains("duplicate analyte")
        );
        assert!(broken(|c| c.analytes[1].aliases = vec!["TSH".into()]).contains("alias \"TSH\""));
        assert!(broken(|c| c.analytes[0].plausible_max = Some(-1.0)).contains("plausible_max"));
    }

    #[test]
    fn aliases_name_their_analyte() {
        let c = Catalogue::from_toml(DEFAULT_CATALOGUE_TOML).unwrap();
        assert_eq!(
            c.analyte_by_any_name("C5OH").map(|a| a.code.as_str()),
            Some("C5-OH")
        );
        assert_eq!(
            c.analyte_by_any_name("C5-OH").map(|a| a.code.as_str()),
            Some("C5-OH")
        );
        assert!(c.analyte_by_any_name("C5_OH").is_none());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = DEFAULT_CATALOGUE_TOML.replacen("jurisdiction", "jurisdction", 1);
        assert!(
            Catalogue::from_toml(&text)
                .unwrap_err()
                .0
                .contains("jurisdction")
        );
    }
}
