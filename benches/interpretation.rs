//! Interpretation engine throughput (pure code, no I/O): one card against the default catalogue.
//! `cargo bench --bench interpretation`; target >= 100,000 cards/s.

#[path = "../tests/api/seed.rs"]
#[allow(dead_code, clippy::unwrap_used)]
mod seed;

use std::collections::BTreeMap;
use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use guthrie::domain::catalogue::{Catalogue, DEFAULT_CATALOGUE_TOML};
use guthrie::domain::interpretation::{CardFacts, InfantFacts, Interpreter};

fn panel(overrides: &[(&str, f64)]) -> BTreeMap<String, f64> {
    let mut p: BTreeMap<String, f64> = seed::full_panel()
        .iter()
        .map(|e| {
            (
                e["analyte"].as_str().unwrap_or_default().to_string(),
                e["value"].as_f64().unwrap_or_default(),
            )
        })
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
