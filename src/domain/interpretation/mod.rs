//! The blood-spot interpretation engine: pure and deterministic. From a card, the infant's birth
//! facts, the analyte values and a catalogue version it decides, per condition, normal /
//! borderline / positive / critical, and an outcome for the card, with every marker value, limit,
//! comparison and stratum that led there, so the answer can be explained and audited.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::catalogue::{
    Catalogue, Combine, Criterion, Direction, Limits, MarkerExpr, Programme, Tier,
};

/// Level of one marker or condition, ordered from least to most severe.
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
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A marker it needs was not measured.
    NotTested,
    /// Within limits.
    Normal,
    /// Between borderline and cutoff: repeat card.
    Borderline,
    /// Beyond the cutoff: recall.
    Positive,
    /// Beyond the critical limit.
    Critical,
}

/// The card's overall outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardOutcome {
    /// No results yet.
    AwaitingResults,
    /// Every condition normal.
    Normal,
    /// At least one borderline: a repeat card.
    BorderlineRepeat,
    /// At least one positive: recall.
    Positive,
    /// At least one critical: immediate recall.
    Critical,
    /// Unusable card and nothing abnormal: recollect.
    UnsatisfactoryRecollect,
    /// Collected before the minimum age and nothing abnormal: repeat.
    TooEarlyRepeat,
}

super::text_enum!(CardOutcome {
    AwaitingResults = "awaiting_results",
    Normal = "normal",
    BorderlineRepeat = "borderline_repeat",
    Positive = "positive",
    Critical = "critical",
    UnsatisfactoryRecollect = "unsatisfactory_recollect",
    TooEarlyRepeat = "too_early_repeat",
});

/// Why a new card is needed although results may exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recollect {
    /// The lab rejected the card.
    Unsatisfactory {
        /// Catalogue reason code.
        reason: String,
    },
    /// Collected before the minimum age.
    TooEarly {
        /// Age at collection.
        age_hours: i64,
        /// The youngest age (hours) the band applies from.
        min_hours: i64,
    },
}

/// Infant facts the rules depend on.
#[derive(Debug, Clone, Copy)]
pub struct InfantFacts {
    /// Birth time.
    pub birth_at: DateTime<Utc>,
    /// Completed weeks of gestation.
    pub ga_weeks: i64,
    /// Birth weight (g).
    pub birth_weight_g: i64,
}

/// Card facts the rules depend on.
#[derive(Debug, Clone)]
pub struct CardFacts {
    /// Collection time.
    pub collected_at: DateTime<Utc>,
    /// Unsatisfactory reason code, when the lab rejected the card.
    pub unsatisfactory_reason: Option<String>,
    /// Transfused before collection.
    pub transfusion: bool,
    /// On parenteral nutrition.
    pub tpn: bool,
}

/// One criterion's evaluation: the why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MarkerFinding {
    /// Rule id.
    pub rule: String,
    /// Marker expression.
    pub marker: String,
    /// Value used, if available.
    pub value: Option<f64>,
    /// True when the value is a ratio computed here.
    pub computed: bool,
    /// Level reached.
    pub level: Level,
    /// `>`, `>=`, `<` or `<=`.
    pub comparator: String,
    /// Limits applied.
    pub cutoff: f64,
    /// Borderline limit applied.
    pub borderline: Option<f64>,
    /// Critical limit applied.
    pub critical: Option<f64>,
    /// Stratum whose limits applied.
    pub stratum: Option<String>,
}

/// One condition's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConditionFinding {
    /// Condition code.
    pub condition: String,
    /// How far the value is from its cutoff.
    pub level: Level,
    /// Tier when borderline or worse.
    pub tier: Option<Tier>,
    /// The criteria of every rule that made it borderline or worse (all of a rule's criteria,
    /// including those within limits, so the whole rule can be read).
    pub markers: Vec<MarkerFinding>,
}

/// The interpretation of one card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Interpretation {
    /// Catalogue version used.
    pub catalogue_version: String,
    /// Overall outcome.
    pub outcome: CardOutcome,
    /// Most urgent tier, if any action is needed.
    pub tier: Option<Tier>,
    /// A new card is needed for this reason.
    pub recollect: Option<Recollect>,
    /// Age at collection (hours).
    pub age_at_collection_hours: i64,
    /// Collected after the last allowed day: results interpreted but flagged.
    pub late_collection: bool,
    /// Infant factors that call for a protocol repeat even when normal.
    pub protocol_repeat_reasons: Vec<String>,
    /// Conditions that are not normal (the full list is implied: all others were normal or not tested).
    pub suspected: Vec<ConditionFinding>,
    /// Conditions that could not be evaluated because markers were missing.
    pub not_tested: Vec<String>,
}

/// A catalogue prepared for fast repeated interpretation (markers parsed once).
#[derive(Debug, Clone)]
pub struct Interpreter {
    catalogue: Catalogue,
    markers: Vec<Vec<MarkerExpr>>,
    /// The ratio markers the rules test (`Phe/Tyr`), which a laboratory may send as values.
    ratios: std::collections::BTreeSet<String>,
}

impl Interpreter {
    /// Prepares a validated catalogue.
    pub fn new(catalogue: Catalogue) -> Result<Self, super::catalogue::CatalogueError> {
        catalogue.validate()?;
        let markers = catalogue
            .rules
            .iter()
            .map(|r| {
                r.criteria
                    .iter()
                    .map(|c| MarkerExpr::parse(&c.marker))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ratios = catalogue
            .rules
            .iter()
            .zip(&markers)
            .flat_map(|(r, m)| r.criteria.iter().zip(m))
            .filter(|(_, m)| matches!(m, MarkerExpr::Ratio(..)))
            .map(|(c, _)| c.marker.clone())
            .collect();
        Ok(Self {
            catalogue,
            markers,
            ratios,
        })
    }

    /// Whether `marker` is a ratio the rules test (a laboratory may send it as a value).
    pub fn is_ratio(&self, marker: &str) -> bool {
        self.ratios.contains(marker)
    }

    /// The catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Interprets one card. `results` maps analyte codes (or ratio markers sent by the lab) to values.
    pub fn interpret(
        &self,
        infant: &InfantFacts,
        card: &CardFacts,
        results: &BTreeMap<String, f64>,
    ) -> Interpretation {
        let cat = &self.catalogue;
        let sp = &cat.specimen;
        let age_hours = (card.collected_at - infant.birth_at)
            .num_minutes()
            .div_euclid(60);
        let late_collection = age_hours >= sp.max_collection_age_days * 24;
        let recollect = match &card.unsatisfactory_reason {
            Some(reason) => Some(Recollect::Unsatisfactory {
                reason: reason.clone(),
            }),
            None if age_hours < sp.min_collection_age_hours => Some(Recollect::TooEarly {
                age_hours,
                min_hours: sp.min_collection_age_hours,
            }),
            None => None,
        };
        let mut protocol_repeat_reasons = vec![];
        let pr = &sp.protocol_repeat;
        if pr.on_transfusion && card.transfusion {
            protocol_repeat_reasons.push("transfusion".to_string());
        }
        if pr.on_tpn && card.tpn {
            protocol_repeat_reasons.push("tpn".to_string());
        }
        if pr.preterm_below_weeks.is_some_and(|w| infant.ga_weeks < w) {
            protocol_repeat_reasons.push("preterm".to_string());
        }
        if pr
            .birth_weight_below_g
            .is_some_and(|g| infant.birth_weight_g < g)
        {
            protocol_repeat_reasons.push("low_birth_weight".to_string());
        }

        // Per condition: worst level, its tier, and the findings behind it.
        let mut by_condition: BTreeMap<&str, (Level, Option<Tier>, Vec<MarkerFinding>)> =
            BTreeMap::new();
        for (rule, markers) in cat.rules.iter().zip(&self.markers) {
            let findings: Vec<MarkerFinding> = rule
                .criteria
                .iter()
                .zip(markers)
                .map(|(c, m)| evaluate(&rule.id, c, m, results, infant, age_hours))
                .collect();
            let mut level = combine(rule.combine, rule.at_least, &findings);
            if rule.repeat_only && level > Level::Borderline {
                level = Level::Borderline;
            }
            for code in &rule.suggests {
                let condition_tier = cat.condition(code).map_or(Tier::T2, |c| c.tier);
                let tier = match level {
                    Level::Critical => Some(rule.critical_tier.min(condition_tier)),
                    Level::Positive => Some(condition_tier),
                    Level::Borderline => Some(Tier::T2),
                    _ => None,
                };
                let entry =
                    by_condition
                        .entry(code.as_str())
                        .or_insert((Level::NotTested, None, vec![]));
                if level > entry.0 {
                    entry.0 = level;
                }
                entry.1 = match (entry.1, tier) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if level >= Level::Borderline {
                    entry.2.extend(findings.iter().cloned());
                }
            }
        }

        let mut suspected = vec![];
        let mut not_tested = vec![];
        for c in cat
            .conditions
            .iter()
            .filter(|c| c.programme == Programme::Dbs)
        {
            match by_condition.remove(c.code.as_str()) {
                Some((level, tier, markers)) if level >= Level::Borderline => {
                    suspected.push(ConditionFinding {
                        condition: c.code.clone(),
                        level,
                        tier,
                        markers,
                    });
                }
                Some((Level::NotTested, _, _)) | None => not_tested.push(c.code.clone()),
                Some(_) => {}
            }
        }

        let worst = suspected
            .iter()
            .map(|f| f.level)
            .max()
            .unwrap_or(Level::Normal);
        let mut tier = suspected.iter().filter_map(|f| f.tier).min();
        let outcome = if results.is_empty() && recollect.is_none() {
            CardOutcome::AwaitingResults
        } else {
            match (worst, &recollect) {
                (Level::Critical, _) => CardOutcome::Critical,
                (Level::Positive, _) => CardOutcome::Positive,
                (_, Some(Recollect::Unsatisfactory { .. })) => CardOutcome::UnsatisfactoryRecollect,
                (_, Some(Recollect::TooEarly { .. })) => CardOutcome::TooEarlyRepeat,
                (Level::Borderline, None) => CardOutcome::BorderlineRepeat,
                _ => CardOutcome::Normal,
            }
        };
        if recollect.is_some() {
            tier = Some(tier.map_or(Tier::T3, |t| t.min(Tier::T3)));
        }
        Interpretation {
            catalogue_version: cat.version.clone(),
            outcome,
            tier,
            recollect,
            age_at_collection_hours: age_hours,
            late_collection,
            protocol_repeat_reasons,
            suspected,
            not_tested,
        }
    }
}

/// The value of a marker: sent by the lab under the marker's own name, or computed.
fn marker_value(m: &MarkerExpr, raw: &str, results: &BTreeMap<String, f64>) -> (Option<f64>, bool) {
    if let Some(v) = results.get(raw) {
        return (Some(*v), false);
    }
    match m {
        MarkerExpr::Analyte(a) => (results.get(a).copied(), false),
        MarkerExpr::Ratio(n, d) => {
            let num = results.get(n);
            let den: Option<f64> = d.iter().map(|a| results.get(a)).sum();
            match (num, den) {
                (Some(n), Some(d)) if d > 0.0 => (Some(n / d), true),
                _ => (None, true),
            }
        }
    }
}

fn evaluate(
    rule: &str,
    c: &Criterion,
    m: &MarkerExpr,
    results: &BTreeMap<String, f64>,
    infant: &InfantFacts,
    age_hours: i64,
) -> MarkerFinding {
    let stratum = c.strata.iter().find(|s| {
        s.ga_weeks_below.is_none_or(|w| infant.ga_weeks < w)
            && s.birth_weight_below_g
                .is_none_or(|g| infant.birth_weight_g < g)
            && s.age_hours_from.is_none_or(|h| age_hours >= h)
            && s.age_hours_below.is_none_or(|h| age_hours < h)
    });
    let limits: Limits = stratum.map_or_else(|| c.limits(), |s| s.limits());
    let (value, computed) = marker_value(m, &c.marker, results);
    let beyond = |limit: f64, v: f64| match (c.direction, c.inclusive) {
        (Direction::High, true) => v >= limit,
        (Direction::High, false) => v > limit,
        (Direction::Low, true) => v <= limit,
        (Direction::Low, false) => v < limit,
    };
    let level = match value {
        None => Level::NotTested,
        Some(v) if limits.critical.is_some_and(|x| beyond(x, v)) => Level::Critical,
        Some(v) if beyond(limits.cutoff, v) => Level::Positive,
        Some(v) if limits.borderline.is_some_and(|b| beyond(b, v)) => Level::Borderline,
        Some(_) => Level::Normal,
    };
    let comparator = match (c.direction, c.inclusive) {
        (Direction::High, true) => ">=",
        (Direction::High, false) => ">",
        (Direction::Low, true) => "<=",
        (Direction::Low, false) => "<",
    };
    MarkerFinding {
        rule: rule.to_string(),
        marker: c.marker.clone(),
        value,
        computed,
        level,
        comparator: comparator.to_string(),
        cutoff: limits.cutoff,
        borderline: limits.borderline,
        critical: limits.critical,
        stratum: stratum.map(|s| s.name.clone()),
    }
}

/// A rule's level from its criteria. Any critical value is critical on its own (a very high
/// primary marker must never wait for a second one). Otherwise `all` needs every criterion and
/// `at_least n` needs n of them at a level for the rule to reach it. When markers are missing and
/// the ones measured are already positive, the rule asks for a repeat (borderline) rather than
/// staying silent; when the missing ones could not change a normal answer, it is normal.
fn combine(how: Combine, at_least: Option<usize>, f: &[MarkerFinding]) -> Level {
    if f.iter().any(|x| x.level == Level::Critical) {
        return Level::Critical;
    }
    let count = |min: Level| f.iter().filter(|x| x.level >= min).count();
    let need = match how {
        Combine::All => f.len(),
        Combine::AtLeast => at_least.unwrap_or(f.len()),
    };
    let (positive, borderline) = (count(Level::Positive), count(Level::Borderline));
    let untested = f.iter().filter(|x| x.level == Level::NotTested).count();
    if positive >= need {
        Level::Positive
    } else if borderline >= need {
        Level::Borderline
    } else if untested > 0 && borderline + untested >= need {
        if positive > 0 && positive + untested >= need {
            Level::Borderline
        } else {
            Level::NotTested
        }
    } else {
        Level::Normal
    }
}

#[cfg(test)]
mod tests;
