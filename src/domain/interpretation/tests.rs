//! Engine tests: every rule of the default catalogue at its boundaries, ratios, strata,
//! combination rules, and every recollection path.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::domain::catalogue::{Catalogue, DEFAULT_CATALOGUE_TOML};

fn interpreter() -> Interpreter {
    Interpreter::new(Catalogue::from_toml(DEFAULT_CATALOGUE_TOML).unwrap()).unwrap()
}

fn term() -> InfantFacts {
    InfantFacts {
        birth_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        ga_weeks: 39,
        birth_weight_g: 3300,
    }
}

fn card_at(hours: i64) -> CardFacts {
    CardFacts {
        collected_at: term().birth_at + Duration::hours(hours),
        unsatisfactory_reason: None,
        transfusion: false,
        tpn: false,
    }
}

/// A full panel of unremarkable values.
fn normal_panel() -> BTreeMap<String, f64> {
    [
        ("TSH", 3.0),
        ("17OHP", 5.0),
        ("G6PD", 8.0),
        ("Phe", 60.0),
        ("Tyr", 80.0),
        ("Xle", 150.0),
        ("Val", 130.0),
        ("Cit", 15.0),
        ("Arg", 10.0),
        ("Met", 25.0),
        ("SUAC", 0.5),
        ("C0", 25.0),
        ("C2", 20.0),
        ("C3", 2.0),
        ("C4", 0.2),
        ("C5", 0.1),
        ("C5:1", 0.02),
        ("C5DC", 0.08),
        ("C5-OH", 0.2),
        ("C8", 0.05),
        ("C10", 0.08),
        ("C14:1", 0.1),
        ("C16", 2.0),
        ("C16-OH", 0.01),
        ("C18", 0.8),
        ("C18:1", 1.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn with(values: &[(&str, f64)]) -> BTreeMap<String, f64> {
    let mut p = normal_panel();
    for (k, v) in values {
        p.insert(k.to_string(), *v);
    }
    p
}

fn run(values: &[(&str, f64)]) -> Interpretation {
    interpreter().interpret(&term(), &card_at(72), &with(values))
}

fn level_of(i: &Interpretation, code: &str) -> Level {
    i.suspected
        .iter()
        .find(|f| f.condition == code)
        .map_or(Level::Normal, |f| f.level)
}

#[test]
fn a_normal_panel_is_normal_and_complete() {
    let i = run(&[]);
    assert_eq!(i.outcome, CardOutcome::Normal);
    assert!(i.suspected.is_empty(), "{:?}", i.suspected);
    assert!(i.not_tested.is_empty(), "{:?}", i.not_tested);
    assert_eq!(i.tier, None);
    assert_eq!(i.catalogue_version, "zj-2026");
    assert_eq!(i.age_at_collection_hours, 72);
}

#[test]
fn every_rule_is_exact_at_its_cutoff() {
    // For each single-criterion rule: equal to the cutoff fires only when the rule is inclusive;
    // a step past it always fires.
    let it = interpreter();
    for rule in it
        .catalogue()
        .rules
        .iter()
        .filter(|r| r.criteria.len() == 1)
    {
        let c = &rule.criteria[0];
        let step = if c.direction == Direction::High {
            1e-6
        } else {
            -1e-6
        };
        for (value, expect_fire) in [
            (c.cutoff, c.inclusive),
            (c.cutoff + step, true),
            (c.cutoff - step, false),
        ] {
            let results = with(&[(c.marker.as_str(), value)]);
            let i = it.interpret(&term(), &card_at(72), &results);
            let fired = rule
                .suggests
                .iter()
                .all(|s| level_of(&i, s) >= Level::Borderline);
            assert_eq!(fired, expect_fire, "rule {} at {value}", rule.id);
        }
    }
}

#[test]
fn ch_tsh_is_inclusive_and_critical_is_t1() {
    let i = run(&[("TSH", 9.0)]);
    assert_eq!(level_of(&i, "CH"), Level::Positive);
    assert_eq!(i.suspected[0].tier, Some(Tier::T2));
    assert_eq!(level_of(&run(&[("TSH", 8.99)]), "CH"), Level::Normal);
    let i = run(&[("TSH", 20.0)]);
    assert_eq!(level_of(&i, "CH"), Level::Critical);
    assert_eq!(i.tier, Some(Tier::T1));
    assert_eq!(i.outcome, CardOutcome::Critical);
    let m = &i.suspected[0].markers[0];
    assert_eq!(
        (m.marker.as_str(), m.value, m.comparator.as_str(), m.cutoff),
        ("TSH", Some(20.0), ">=", 9.0)
    );
}

#[test]
fn pku_needs_phe_and_the_computed_ratio() {
    // Phe 121, Tyr 50: ratio 2.42 > 2.0 → PKU and BH4D positive.
    let i = run(&[("Phe", 121.0), ("Tyr", 50.0)]);
    assert_eq!(level_of(&i, "PKU"), Level::Positive);
    assert_eq!(level_of(&i, "BH4D"), Level::Positive);
    let ratio = i.suspected[0]
        .markers
        .iter()
        .find(|m| m.marker == "Phe/Tyr")
        .unwrap();
    assert!(ratio.computed);
    assert!((ratio.value.unwrap() - 2.42).abs() < 1e-9);
    // Tyr 70: ratio 1.73 → normal despite Phe above cutoff.
    assert_eq!(
        level_of(&run(&[("Phe", 121.0), ("Tyr", 70.0)]), "PKU"),
        Level::Normal
    );
    // A ratio sent by the lab wins over the computed one.
    assert_eq!(
        level_of(
            &run(&[("Phe", 121.0), ("Tyr", 70.0), ("Phe/Tyr", 2.5)]),
            "PKU"
        ),
        Level::Positive
    );
    // Phe past the critical limit is critical at tier T1 whatever the ratio.
    let i = run(&[("Phe", 400.0), ("Tyr", 300.0)]);
    assert_eq!(level_of(&i, "PKU"), Level::Critical);
    assert_eq!(i.tier, Some(Tier::T1));
}

#[test]
fn ratios_over_sums_and_zero_denominators() {
    // CPT1: C0 > 80 and C0/(C16+C18) > 60.
    assert_eq!(
        level_of(&run(&[("C0", 90.0), ("C16", 0.5), ("C18", 0.5)]), "CPT1"),
        Level::Positive
    );
    assert_eq!(
        level_of(&run(&[("C0", 90.0), ("C16", 1.0), ("C18", 1.0)]), "CPT1"),
        Level::Normal
    );
    // A zero denominator cannot be computed: the measured marker is positive, so a repeat is asked.
    assert_eq!(
        level_of(&run(&[("C0", 90.0), ("C16", 0.0), ("C18", 0.0)]), "CPT1"),
        Level::Borderline
    );
}

#[test]
fn cah_strata_by_gestation_and_weight() {
    let it = interpreter();
    let results = with(&[("17OHP", 20.0)]);
    let term_i = it.interpret(&term(), &card_at(72), &results);
    assert_eq!(level_of(&term_i, "CAH"), Level::Positive);
    assert_eq!(term_i.suspected[0].markers[0].stratum, None);
    let preterm = InfantFacts {
        ga_weeks: 34,
        ..term()
    };
    let i = it.interpret(&preterm, &card_at(72), &results);
    assert_eq!(level_of(&i, "CAH"), Level::Normal, "preterm cutoff is 36");
    let i = it.interpret(&preterm, &card_at(72), &with(&[("17OHP", 36.0)]));
    assert_eq!(
        level_of(&i, "CAH"),
        Level::Positive,
        "inclusive at the stratum cutoff"
    );
    assert_eq!(
        i.suspected[0].markers[0].stratum.as_deref(),
        Some("preterm (<37 wk)")
    );
    let lbw = InfantFacts {
        birth_weight_g: 2400,
        ..term()
    };
    let i = it.interpret(&lbw, &card_at(72), &results);
    assert_eq!(level_of(&i, "CAH"), Level::Normal);
    // 3x cutoff is critical; CAH's critical tier is T0.
    let i = it.interpret(&term(), &card_at(72), &with(&[("17OHP", 42.0)]));
    assert_eq!(i.tier, Some(Tier::T0));
    let i = it.interpret(&lbw, &card_at(72), &with(&[("17OHP", 42.0)]));
    assert_eq!(
        level_of(&i, "CAH"),
        Level::Positive,
        "the stratum's critical limit is 108"
    );
}

#[test]
fn one_marker_suggests_several_conditions() {
    let i = run(&[("Cit", 40.0)]);
    for c in ["CIT1", "NICCD", "ASA"] {
        assert_eq!(level_of(&i, c), Level::Positive, "{c}");
    }
    let tiers: Vec<_> = i
        .suspected
        .iter()
        .map(|f| (f.condition.as_str(), f.tier))
        .collect();
    assert!(
        tiers.contains(&("NICCD", Some(Tier::T2))) && tiers.contains(&("CIT1", Some(Tier::T1)))
    );
    assert_eq!(i.tier, Some(Tier::T1));
    let i = run(&[("C5-OH", 0.8)]);
    for c in ["MCC", "HMG", "MCD"] {
        assert_eq!(level_of(&i, c), Level::Positive, "{c}");
    }
    assert_eq!(level_of(&i, "BKT"), Level::Normal, "BKT also needs C5:1");
    assert_eq!(
        level_of(&run(&[("C5-OH", 0.8), ("C5:1", 0.2)]), "BKT"),
        Level::Positive
    );
}

#[test]
fn low_direction_markers() {
    assert_eq!(level_of(&run(&[("C0", 8.0)]), "PCD"), Level::Positive);
    assert_eq!(
        level_of(&run(&[("C0", 8.5)]), "PCD"),
        Level::Normal,
        "exclusive: equal is normal"
    );
    assert_eq!(level_of(&run(&[("C0", 4.9)]), "PCD"), Level::Critical);
    assert_eq!(level_of(&run(&[("G6PD", 3.4)]), "G6PD"), Level::Positive);
}

#[test]
fn at_least_three_of_five_for_ga2() {
    let two = [("C4", 0.9), ("C5", 0.6)];
    assert_eq!(level_of(&run(&two), "GA2"), Level::Normal);
    let three = [("C4", 0.9), ("C5", 0.6), ("C8", 0.4)];
    let i = run(&three);
    assert_eq!(level_of(&i, "GA2"), Level::Positive);
    assert_eq!(
        i.suspected
            .iter()
            .find(|f| f.condition == "GA2")
            .unwrap()
            .markers
            .len(),
        5
    );
}

#[test]
fn repeat_only_rules_ask_for_a_repeat_card() {
    let i = run(&[("Tyr", 400.0)]);
    assert_eq!(level_of(&i, "TYR1"), Level::Borderline);
    assert_eq!(i.outcome, CardOutcome::BorderlineRepeat);
    assert_eq!(i.tier, Some(Tier::T2));
    let i = run(&[("Tyr", 400.0), ("SUAC", 6.0)]);
    assert_eq!(level_of(&i, "TYR1"), Level::Critical);
}

#[test]
fn borderline_limits_give_a_repeat() {
    let mut cat = Catalogue::from_toml(DEFAULT_CATALOGUE_TOML).unwrap();
    let rule = cat.rules.iter_mut().find(|r| r.id == "ch-tsh").unwrap();
    rule.criteria[0].borderline = Some(7.0);
    let it = Interpreter::new(cat).unwrap();
    let i = it.interpret(&term(), &card_at(72), &with(&[("TSH", 7.0)]));
    assert_eq!(level_of(&i, "CH"), Level::Borderline);
    assert_eq!(i.outcome, CardOutcome::BorderlineRepeat);
    let i = it.interpret(&term(), &card_at(72), &with(&[("TSH", 6.9)]));
    assert_eq!(i.outcome, CardOutcome::Normal);
}

#[test]
fn missing_markers_are_reported_not_tested() {
    let mut p = normal_panel();
    p.remove("TSH");
    let i = interpreter().interpret(&term(), &card_at(72), &p);
    assert_eq!(i.not_tested, vec!["CH".to_string()]);
    assert_eq!(i.outcome, CardOutcome::Normal);
    // Only TSH measured: everything else is not tested.
    let only = BTreeMap::from([("TSH".to_string(), 3.0)]);
    let i = interpreter().interpret(&term(), &card_at(72), &only);
    assert_eq!(i.not_tested.len(), 28);
    let none = interpreter().interpret(&term(), &card_at(72), &BTreeMap::new());
    assert_eq!(none.outcome, CardOutcome::AwaitingResults);
}

#[test]
fn unsatisfactory_and_early_cards_need_a_new_card() {
    let it = interpreter();
    let mut bad = card_at(72);
    bad.unsatisfactory_reason = Some("serum_ring".into());
    let i = it.interpret(&term(), &bad, &BTreeMap::new());
    assert_eq!(i.outcome, CardOutcome::UnsatisfactoryRecollect);
    assert_eq!(i.tier, Some(Tier::T3));
    assert_eq!(
        i.recollect,
        Some(Recollect::Unsatisfactory {
            reason: "serum_ring".into()
        })
    );
    let i = it.interpret(&term(), &bad, &normal_panel());
    assert_eq!(
        i.outcome,
        CardOutcome::UnsatisfactoryRecollect,
        "normal results on a bad card exclude nothing"
    );

    let early = card_at(47);
    let i = it.interpret(&term(), &early, &normal_panel());
    assert_eq!(i.outcome, CardOutcome::TooEarlyRepeat);
    assert_eq!(
        i.recollect,
        Some(Recollect::TooEarly {
            age_hours: 47,
            min_hours: 48
        })
    );
    assert_eq!(
        it.interpret(&term(), &card_at(48), &normal_panel()).outcome,
        CardOutcome::Normal
    );
    // A positive on an early or bad card still counts, and the card is still recollected.
    let i = it.interpret(&term(), &early, &with(&[("TSH", 30.0)]));
    assert_eq!(i.outcome, CardOutcome::Critical);
    assert_eq!(i.tier, Some(Tier::T1));
    assert!(i.recollect.is_some());
}

#[test]
fn late_collection_and_protocol_repeats_are_flagged() {
    let it = interpreter();
    assert!(
        !it.interpret(&term(), &card_at(20 * 24 - 1), &normal_panel())
            .late_collection
    );
    assert!(
        it.interpret(&term(), &card_at(20 * 24), &normal_panel())
            .late_collection
    );
    let mut card = card_at(72);
    card.transfusion = true;
    card.tpn = true;
    let tiny = InfantFacts {
        ga_weeks: 30,
        birth_weight_g: 1200,
        ..term()
    };
    let i = it.interpret(&tiny, &card, &normal_panel());
    assert_eq!(
        i.protocol_repeat_reasons,
        vec!["transfusion", "tpn", "preterm", "low_birth_weight"]
    );
}

#[test]
fn interpretation_is_deterministic() {
    let a = run(&[("C3", 6.0), ("C2", 10.0), ("C8", 0.5)]);
    let b = run(&[("C3", 6.0), ("C2", 10.0), ("C8", 0.5)]);
    assert_eq!(a, b);
    assert_eq!(level_of(&a, "MMA"), Level::Positive);
    assert_eq!(level_of(&a, "MCAD"), Level::Positive, "C8/C10 = 6.25");
}

#[test]
fn every_unsatisfactory_reason_recollects_at_t3() {
    let it = interpreter();
    let reasons: Vec<String> = it
        .catalogue()
        .specimen
        .unsatisfactory_reasons
        .iter()
        .map(|r| r.code.clone())
        .collect();
    assert_eq!(reasons.len(), 8);
    for reason in reasons {
        let mut card = card_at(72);
        card.unsatisfactory_reason = Some(reason.clone());
        for results in [BTreeMap::new(), normal_panel(), with(&[("Tyr", 400.0)])] {
            let i = it.interpret(&term(), &card, &results);
            assert_eq!(i.outcome, CardOutcome::UnsatisfactoryRecollect, "{reason}");
            // A borderline marker's repeat (T2) is more urgent than the recollection (T3).
            let expected = if i.suspected.is_empty() {
                Tier::T3
            } else {
                Tier::T2
            };
            assert_eq!(i.tier, Some(expected), "{reason}");
            assert_eq!(
                i.recollect,
                Some(Recollect::Unsatisfactory {
                    reason: reason.clone()
                })
            );
        }
    }
}
