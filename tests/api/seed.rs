//! Fast fixtures shared by the integration tests and the ingest benchmark: many infants with one
//! card each, created through the services rather than HTTP, and a full 40-analyte panel.

use guthrie::db::DbPool;
use guthrie::domain::infant::{BirthFacts, Sex};
use guthrie::domain::principal::{Principal, PrincipalKind};
use guthrie::domain::role::Role;
use guthrie::services::screening::cards::{self, NewCard};
use guthrie::services::screening::infants::{self, Registration};
use serde_json::Value;

/// Registers infants `from..from + n` of a hospital (born 4 days before `now`) with one card
/// each, and returns the barcodes.
pub fn seed_cards(
    pool: &DbPool,
    id_key: &[u8],
    hospital_id: &str,
    from: usize,
    n: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<String> {
    let p = Principal {
        subject: "seed".into(),
        kind: PrincipalKind::Client,
        role: Role::HospitalClient,
        hospital_id: Some(hospital_id.parse().unwrap()),
        request_id: None,
        correlation_id: None,
    };
    let mut c = pool.get().unwrap();
    let birth = now - chrono::Duration::days(4);
    (from..from + n)
        .map(|i| {
            let reg = Registration {
                hospital_id: None,
                sex: Sex::Male,
                birth: BirthFacts {
                    mrn: format!("SEED-{i}"),
                    birth_at: birth.fixed_offset(),
                    gestational_age_weeks: 39,
                    gestational_age_days: 0,
                    birth_weight_g: 3200,
                    plurality: 1,
                    birth_order: 1,
                },
                nicu_admitted: false,
                mother_name: "母亲".into(),
                mother_phones: vec!["13800138000".into()],
                mother_id: None,
                address: None,
            };
            let infant = infants::register(&mut c, &p, reg, id_key, now).unwrap();
            let barcode = format!("SEED{i:07}");
            let card = NewCard {
                infant_id: infant.id,
                barcode: barcode.clone(),
                collected_at: birth + chrono::Duration::hours(60),
                feeding: guthrie::domain::specimen::Feeding::Breast,
                transfusion: false,
                tpn: false,
                antibiotics: false,
                collector: "seed".into(),
                repeat_of_barcode: None,
            };
            cards::register(&mut c, &p, card, now).unwrap();
            barcode
        })
        .collect()
}

/// All 40 analytes of the default catalogue with unremarkable values (the demonstration's
/// normal card).
pub fn full_panel() -> Vec<Value> {
    guthrie::cli::demo::panel(&[])
}
