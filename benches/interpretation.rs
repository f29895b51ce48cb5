//! Interpretation engine throughput (pure code, no I/O): one card against the default catalogue.
//! `cargo bench --bench interpretation`; target >= 100,000 cards/s.

use std::collections::BTreeMap;
use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use guthrie::domain::catalogue::{Catalogue, DEFAULT_CATALOGUE_TOML};
use guthrie::domain::interpretation::{CardFacts, InfantFacts, Interpreter};

fn panel(overrides: &[(&str, f64)]) -> BTreeMap<String, f64> {
    let mut p: BTreeMap<String, f64> = [
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
        ("Orn", 60.0),
        ("Gly", 300.0),
        ("Ala", 250.0),
        ("SUAC", 0.5),
        ("C0", 25.0),
        ("C2", 20.0),
        ("C3", 2.0),
        ("C3DC", 0.05),
        ("C4", 0.2),
        ("C4DC", 0.2),
        ("C5", 0.1),
        ("C5:1", 0.02),
        ("C5DC", 0.08),
        ("C5-OH", 0.2),
        ("C6", 0.05),
        ("C8", 0.05),
        ("C10", 0.08),
        ("C10:1", 0.06),
        ("C12", 0.1),
        ("C14", 0.15),
        ("C14:1", 0.1),
        ("C14-OH", 0.02),
        ("C16", 2.0),
        ("C16-OH", 0.01),
        ("C18", 0.8),
        ("C18:1", 1.0),
        ("C18:1-OH", 0.01),
        ("C18:2", 0.2),
        ("T4", 150.0),
        ("IRT", 30.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in overrides {
        p.insert(k.to_string(), *v);
    }
    p
}

fn bench(c: &mut Criterion) {
    let Ok(catalogue) = Catalogue::from_toml(DEFAULT_CATALOGUE_TOML) else {
        return;
    };
    let Ok(interp) = Interpreter::new(catalogue) else {
        return;
    };
    let Some(birth) = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single() else {
        return;
    };
    let infant = InfantFacts {
        birth_at: birth,
        ga_weeks: 39,
        birth_weight_g: 3300,
    };
    let card = CardFacts {
        collected_at: birth + Duration::hours(72),
        unsatisfactory_reason: None,
        transfusion: false,
        tpn: false,
    };
    let normal = panel(&[]);
    let positive = panel(&[("Phe", 400.0), ("Tyr", 50.0), ("C8", 0.6), ("TSH", 25.0)]);
    let mut g = c.benchmark_group("interpret_card_40_analytes");
    g.throughput(Throughput::Elements(1));
    g.bench_function("normal", |b| {
        b.iter(|| interp.interpret(black_box(&infant), black_box(&card), black_box(&normal)))
    });
    g.bench_function("positive", |b| {
        b.iter(|| interp.interpret(black_box(&infant), black_box(&card), black_box(&positive)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
