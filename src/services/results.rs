//! Analyte results from the laboratory: one card or a whole plate, each card checked, stored
//! and interpreted on its own (a savepoint per card, 100 cards per commit), with per-card
//! outcomes; on PostgreSQL a plate is spread over several connections.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::{Deserialize, Serialize};

use crate::db::models::dbs::{self, ResultRow};
use crate::db::{AnyConnection, DbPool, now_micros, write_transaction};
use crate::domain::catalogue::MarkerExpr;
use crate::domain::interpretation::{Interpretation, Interpreter};
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::audit;
use crate::services::cards::{Rules, interpret_and_store, stored_results};

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
