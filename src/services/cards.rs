//! Blood-spot cards: registration by the hospital, receipt and quality by the lab, analyte
//! results (single or a whole plate) and their interpretation under the catalogue in force.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::{Deserialize, Serialize};

use crate::db::models::dbs::{self, Card, InterpretationRow, ResultRow};
use crate::db::models::infant::{self, Infant};
use crate::db::{AnyConnection, DbPool, now_micros, write_transaction};
use crate::domain::catalogue::MarkerExpr;
use crate::domain::due::DuePolicy;
use crate::domain::ids::InfantId;
use crate::domain::interpretation::{
    CardFacts, CardOutcome, InfantFacts, Interpretation, Interpreter,
};
use crate::domain::principal::{Principal, Scope};
use crate::domain::validation::FieldErrors;
use crate::error::{AppError, is_unique_violation};
use crate::services::{audit, cases};

/// Feeding at collection.
pub const FEEDING: [&str; 5] = ["breast", "formula", "mixed", "parenteral", "none"];

/// A card as submitted.
#[derive(Debug, Clone)]
pub struct NewCard {
    /// Infant.
    pub infant_id: InfantId,
    /// Unique barcode.
    pub barcode: String,
    /// Collection time.
    pub collected_at: DateTime<Utc>,
    /// Feeding status.
    pub feeding: String,
    /// Transfused before collection.
    pub transfusion: bool,
    /// On parenteral nutrition.
    pub tpn: bool,
    /// On antibiotics.
    pub antibiotics: bool,
    /// Who collected it.
    pub collector: String,
    /// Barcode of the card this one repeats.
    pub repeat_of_barcode: Option<String>,
}

/// How the collection age compares with the catalogue's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CollectionTiming {
    /// Before the minimum age: a repeat card will be needed.
    TooEarly,
    /// Within the normal window.
    OnTime,
    /// After the normal window but before the last day.
    Late,
    /// After the last allowed day.
    TooLate,
}

/// Classifies a collection age.
pub fn timing(
    interp: &Interpreter,
    infant: &Infant,
    collected_at: DateTime<Utc>,
) -> (i64, CollectionTiming) {
    let sp = &interp.catalogue().specimen;
    let hours = (collected_at - infant.birth_at.and_utc())
        .num_minutes()
        .div_euclid(60);
    let t = if hours < sp.min_collection_age_hours {
        CollectionTiming::TooEarly
    } else if hours >= sp.max_collection_age_days * 24 {
        CollectionTiming::TooLate
    } else if hours >= sp.normal_collection_max_days * 24 {
        CollectionTiming::Late
    } else {
        CollectionTiming::OnTime
    };
    (hours, t)
}

fn text_code(e: &mut FieldErrors, field: &str, v: &str) -> String {
    let v = e.text(field, v, 32);
    if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        e.add(field, "may hold only letters, digits, - and _");
    }
    v
}

/// Registers a card for an infant the caller can see.
pub fn register(
    conn: &mut AnyConnection,
    p: &Principal,
    c: NewCard,
    now: DateTime<Utc>,
) -> Result<(Card, Infant), AppError> {
    let scope = p.scope();
    write_transaction(conn, |conn| {
        let infant = infant::get(conn, &scope, &c.infant_id.to_string())?
            .ok_or(AppError::NotFound { entity: "infant" })?;
        let mut e = FieldErrors::new();
        let barcode = text_code(&mut e, "barcode", &c.barcode);
        if c.collected_at > now + chrono::Duration::minutes(5) {
            e.add("collected_at", "must not be in the future");
        }
        if c.collected_at < infant.birth_at.and_utc() {
            e.add("collected_at", "must not be before the birth");
        }
        if !FEEDING.contains(&c.feeding.as_str()) {
            e.add("feeding", format!("must be one of {}", FEEDING.join(", ")));
        }
        let collector = e.text("collector", &c.collector, 64);
        let repeat_of = match &c.repeat_of_barcode {
            None => None,
            Some(b) => match dbs::find_by_barcode(conn, &scope, b)? {
                Some(prev) if prev.infant_id == infant.id => Some(prev.id),
                _ => {
                    e.add(
                        "repeat_of_barcode",
                        "no earlier card of this infant has this barcode",
                    );
                    None
                }
            },
        };
        e.into_result().map_err(AppError::Validation)?;
        let t = now_micros(now);
        let card = Card {
            id: uuid::Uuid::now_v7().to_string(),
            infant_id: infant.id.clone(),
            hospital_id: infant.hospital_id.clone(),
            barcode,
            collected_at: now_micros(c.collected_at),
            feeding: c.feeding,
            transfusion: c.transfusion,
            tpn: c.tpn,
            antibiotics: c.antibiotics,
            collector,
            repeat_of,
            received_at: None,
            quality: None,
            quality_recorded_at: None,
            created_by: p.key(),
            created_at: t,
            updated_at: t,
        };
        dbs::insert_card(conn, &card).map_err(|err| {
            if is_unique_violation(&err) {
                AppError::conflict(
                    "duplicate_barcode",
                    Some("barcode"),
                    "a card with this barcode is registered",
                )
            } else {
                err.into()
            }
        })?;
        audit::write(conn, p, "card", &card.id, None, &card, now)?;
        Ok((card, infant))
    })
}

/// A card's stored values by analyte.
fn stored_results(
    conn: &mut AnyConnection,
    card_id: &str,
) -> Result<BTreeMap<String, f64>, AppError> {
    Ok(dbs::results_of(conn, card_id)?
        .into_iter()
        .map(|r| (r.analyte, r.value))
        .collect())
}

/// What interpreting a card needs: the catalogue and due policy in force, and who acts.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// Catalogue in force.
    pub interp: &'a Interpreter,
    /// Due policy in force (for the cases a result opens).
    pub policy: &'a DuePolicy,
    /// Who acts (timeline and audit trail).
    pub who: &'a Principal,
}

/// Interprets a card with the given values, stores the interpretation and, in the same
/// transaction, opens or updates the follow-up case it calls for.
pub fn interpret_and_store(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    card: &Card,
    infant: &Infant,
    results: &BTreeMap<String, f64>,
    now: DateTime<Utc>,
) -> Result<Interpretation, AppError> {
    let facts = InfantFacts {
        birth_at: infant.birth_at.and_utc(),
        ga_weeks: i64::from(infant.gestational_age_weeks),
        birth_weight_g: i64::from(infant.birth_weight_g),
    };
    let unsatisfactory_reason = card.quality.clone().filter(|q| q != "acceptable");
    let card_facts = CardFacts {
        collected_at: card.collected_at.and_utc(),
        unsatisfactory_reason,
        transfusion: card.transfusion,
        tpn: card.tpn,
    };
    let result = rules.interp.interpret(&facts, &card_facts, results);
    let outcome = serde_json::to_value(result.outcome).map_err(anyhow::Error::from)?;
    let tier = result.tier.map(|t| format!("{t:?}"));
    dbs::insert_interpretation(
        conn,
        &InterpretationRow {
            id: uuid::Uuid::now_v7().to_string(),
            card_id: card.id.clone(),
            catalogue_version: result.catalogue_version.clone(),
            outcome: outcome.as_str().unwrap_or_default().to_string(),
            tier,
            detail: serde_json::to_string(&result).map_err(anyhow::Error::from)?,
            interpreted_at: now_micros(now),
        },
    )?;
    if let Some(spec) = cases::spec_for_card(&result, &card.id, &card.barcode) {
        cases::open_or_update(conn, rules.policy, infant, spec, rules.who, now)?;
    } else if result.outcome == CardOutcome::Normal && card.repeat_of.is_some() {
        cases::propose_resolution(conn, infant, &card.id, &card.barcode, rules.who, now)?;
    }
    Ok(result)
}

/// Records lab receipt and quality (`acceptable` or a catalogue reason), then re-interprets.
pub fn receive(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    barcode: &str,
    received_at: DateTime<Utc>,
    quality: &str,
    now: DateTime<Utc>,
) -> Result<(Card, Interpretation), AppError> {
    let scope = Scope::unrestricted();
    write_transaction(conn, |conn| {
        let card = dbs::find_by_barcode(conn, &scope, barcode)?
            .ok_or(AppError::NotFound { entity: "card" })?;
        let mut e = FieldErrors::new();
        let reasons = &rules.interp.catalogue().specimen.unsatisfactory_reasons;
        if quality != "acceptable" && !reasons.iter().any(|r| r.code == quality) {
            let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
            e.add(
                "quality",
                format!("must be acceptable or one of {}", codes.join(", ")),
            );
        }
        if received_at < card.collected_at.and_utc() {
            e.add("received_at", "must not be before collection");
        }
        if received_at > now + chrono::Duration::minutes(5) {
            e.add("received_at", "must not be in the future");
        }
        e.into_result().map_err(AppError::Validation)?;
        let t = now_micros(now);
        dbs::set_receipt(conn, &card.id, now_micros(received_at), quality, t)?;
        let before = card;
        let card = dbs::get_card(conn, &scope, &before.id)?
            .ok_or(AppError::NotFound { entity: "card" })?;
        audit::write(conn, rules.who, "card", &card.id, Some(&before), &card, now)?;
        let infant = infant::get(conn, &scope, &card.infant_id)?
            .ok_or(AppError::NotFound { entity: "infant" })?;
        let results = stored_results(conn, &card.id)?;
        let i = interpret_and_store(conn, rules, &card, &infant, &results, now)?;
        Ok((card, i))
    })
}

/// One analyte value as submitted.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultInput {
    /// Analyte code, or a ratio marker of the catalogue (e.g. `Phe/Tyr`).
    pub analyte: String,
    /// Value. Anything but a non-negative number rejects this card only (not the whole plate), so the
    /// value is read as raw JSON and checked per card.
    #[schema(value_type = f64)]
    pub value: serde_json::Value,
    /// Unit; must match the catalogue (`ratio` for ratios).
    pub unit: String,
}

impl ResultInput {
    /// The value as a number (checked before use; 0 otherwise).
    pub fn number(&self) -> f64 {
        self.value.as_f64().unwrap_or_default()
    }
}

/// The outcome of one card in a results request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CardResultOutcome {
    /// Barcode.
    pub barcode: String,
    /// `accepted` or `rejected`.
    pub status: &'static str,
    /// Why it was rejected, per field.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, Vec<String>>,
    /// The interpretation, when accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<Interpretation>,
}

/// Ratio markers of the catalogue's rules, which a lab may send as values of their own.
fn ratio_markers(interp: &Interpreter) -> BTreeSet<&str> {
    interp
        .catalogue()
        .rules
        .iter()
        .flat_map(|r| r.criteria.iter())
        .filter(|c| matches!(MarkerExpr::parse(&c.marker), Ok(MarkerExpr::Ratio(..))))
        .map(|c| c.marker.as_str())
        .collect()
}

/// Checks a card's values against the catalogue.
fn check_results(
    interp: &Interpreter,
    ratios: &BTreeSet<&str>,
    results: &[ResultInput],
) -> Result<(), FieldErrors> {
    let cat = interp.catalogue();
    let mut e = FieldErrors::new();
    if results.is_empty() {
        e.add("results", "at least one value is required");
    }
    let mut seen = BTreeSet::new();
    for (i, r) in results.iter().enumerate() {
        let f = format!("results[{i}]");
        if !seen.insert(r.analyte.as_str()) {
            e.add(
                format!("{f}.analyte"),
                format!("{} appears twice", r.analyte),
            );
        }
        let unit = match cat.analyte(&r.analyte) {
            Some(a) => Some(a.unit.as_str()),
            None if ratios.contains(r.analyte.as_str()) => Some("ratio"),
            None => {
                e.add(
                    format!("{f}.analyte"),
                    format!("unknown analyte {}", r.analyte),
                );
                None
            }
        };
        if let Some(u) = unit.filter(|u| *u != r.unit) {
            e.add(format!("{f}.unit"), format!("must be {u}"));
        }
        if !r.value.as_f64().is_some_and(|v| v.is_finite() && v >= 0.0) {
            e.add(format!("{f}.value"), "must be a non-negative number");
        }
    }
    e.into_result()
}

/// Cards committed together. Each card still runs in its own savepoint, so a failing card rolls
/// back alone; grouping only saves commits (one disk flush per group instead of per card).
pub const CARDS_PER_COMMIT: usize = 100;

/// One card's barcode and values.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardResults {
    /// Card barcode.
    pub barcode: String,
    /// Analyte values.
    pub results: Vec<ResultInput>,
}

fn rejected(barcode: &str, errors: FieldErrors) -> CardResultOutcome {
    CardResultOutcome {
        barcode: barcode.to_string(),
        status: "rejected",
        errors: errors.0,
        interpretation: None,
    }
}

/// Stores and interprets the results of many cards (a plate). Every card is checked and written
/// on its own: a rejected card changes nothing and does not stop the others.
pub fn submit_plate(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    cards: &[CardResults],
    now: DateTime<Utc>,
) -> Vec<CardResultOutcome> {
    let ratios = ratio_markers(rules.interp);
    let mut out = Vec::with_capacity(cards.len());
    for chunk in cards.chunks(CARDS_PER_COMMIT) {
        let mut done = Vec::with_capacity(chunk.len());
        let committed = write_transaction(conn, |conn| -> Result<(), AppError> {
            for c in chunk {
                done.push(one_card(conn, rules, &ratios, c, now));
            }
            Ok(())
        });
        if let Err(e) = committed {
            tracing::error!(
                error.code = e.code(),
                "a group of cards could not be committed"
            );
            done = chunk
                .iter()
                .map(|c| {
                    rejected(
                        &c.barcode,
                        FieldErrors::single("card", "could not be stored; retry"),
                    )
                })
                .collect();
        }
        out.extend(done);
    }
    out
}

/// Runs [`submit_plate`] on `workers` pooled connections at once, each over a contiguous slice of
/// the plate, and returns the outcomes in the plate's order. On PostgreSQL this overlaps the
/// round trips of several cards; SQLite has one writer, so it gains nothing there (use 1).
pub fn submit_plate_parallel(
    pool: &DbPool,
    rules: Rules<'_>,
    cards: &[CardResults],
    now: DateTime<Utc>,
    workers: usize,
) -> Vec<CardResultOutcome> {
    let size = cards.len().div_ceil(workers.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = cards
            .chunks(size)
            .map(|slice| {
                scope.spawn(move || match pool.get() {
                    Ok(mut conn) => submit_plate(&mut conn, rules, slice, now),
                    Err(e) => {
                        tracing::error!(error = %e, "no database connection for a slice of a plate");
                        slice.iter().map(|c| rejected(&c.barcode, FieldErrors::single("card", "could not be stored; retry"))).collect()
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(cards.chunks(size))
            .flat_map(|(h, slice)| {
                h.join().unwrap_or_else(|_| {
                    slice
                        .iter()
                        .map(|c| {
                            rejected(
                                &c.barcode,
                                FieldErrors::single("card", "could not be stored; retry"),
                            )
                        })
                        .collect()
                })
            })
            .collect()
    })
}

fn one_card(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    ratios: &BTreeSet<&str>,
    c: &CardResults,
    now: DateTime<Utc>,
) -> CardResultOutcome {
    if let Err(e) = check_results(rules.interp, ratios, &c.results) {
        return rejected(&c.barcode, e);
    }
    // A nested transaction is a savepoint: this card's writes roll back alone on error.
    let outcome = conn.transaction(|conn| {
        let Some((card, infant)) = dbs::card_with_infant(conn, &c.barcode)? else {
            return Err(AppError::invalid("barcode", "unknown barcode"));
        };
        // Earlier values of other analytes still count; new values replace old ones.
        let before = stored_results(conn, &card.id)?;
        let mut values = before.clone();
        values.extend(c.results.iter().map(|r| (r.analyte.clone(), r.number())));
        let t = now_micros(now);
        let rows: Vec<ResultRow> = c
            .results
            .iter()
            .map(|r| ResultRow {
                card_id: card.id.clone(),
                analyte: r.analyte.clone(),
                value: r.number(),
                unit: r.unit.clone(),
                reported_at: t,
            })
            .collect();
        dbs::upsert_results(conn, &rows)?;
        audit::write(
            conn,
            rules.who,
            "card_results",
            &card.id,
            Some(&before),
            &values,
            now,
        )?;
        interpret_and_store(conn, rules, &card, &infant, &values, now)
    });
    match outcome {
        Ok(i) => CardResultOutcome {
            barcode: c.barcode.clone(),
            status: "accepted",
            errors: BTreeMap::new(),
            interpretation: Some(i),
        },
        Err(AppError::Validation(e)) => rejected(&c.barcode, e),
        Err(other) => {
            tracing::error!(error.code = other.code(), "card results failed");
            rejected(
                &c.barcode,
                FieldErrors::single("card", "could not be stored; retry"),
            )
        }
    }
}
