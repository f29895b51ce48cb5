//! Analyte results from the laboratory: one card or a whole plate, each card checked, stored
//! and interpreted on its own (a savepoint per card, 100 cards per commit), with per-card
//! outcomes; on PostgreSQL a plate is spread over several connections.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::models::screening::dbs;
use crate::db::models::screening::values::{self as card_values, ResultRow};
use crate::db::types::UtcMicros;
use crate::db::{AnyConnection, DbPool, write_transaction};
use crate::domain::interpretation::{Interpretation, Interpreter};
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::admin::audit;
use crate::services::screening::cards::{Rules, interpret_and_store, stored_results_if};

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

/// The outcome of one card in a results request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CardResultOutcome {
    /// The card's barcode.
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

/// One checked value under its canonical analyte code.
struct Checked {
    analyte: String,
    value: f64,
    unit: String,
}

/// Checks a card's values against the catalogue; returns them under their canonical codes (an
/// alias such as `C5OH` is stored as `C5-OH`).
fn check_results(
    interp: &Interpreter,
    results: &[ResultInput],
) -> Result<Vec<Checked>, FieldErrors> {
    let cat = interp.catalogue();
    let mut e = FieldErrors::new();
    if results.is_empty() {
        e.add("results", "at least one value is required");
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(results.len());
    for (i, r) in results.iter().enumerate() {
        let f = format!("results[{i}]");
        let analyte = cat.analyte_by_any_name(&r.analyte);
        let code = analyte.map_or(r.analyte.as_str(), |a| a.code.as_str());
        if !seen.insert(code) {
            e.add(format!("{f}.analyte"), format!("{code} appears twice"));
        }
        let unit = match analyte {
            Some(a) => Some(a.unit.as_str()),
            None if interp.is_ratio(&r.analyte) => Some("ratio"),
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
        match r.value.as_f64().filter(|v| v.is_finite() && *v >= 0.0) {
            None => e.add(format!("{f}.value"), "must be a non-negative number"),
            Some(v) => match analyte.and_then(|a| a.plausible_max.map(|m| (a, m))) {
                Some((a, max)) if v > max => e.add(
                    format!("{f}.value"),
                    format!(
                        "{} {v} {} is above the plausible maximum {max} {}: an instrument or transcription error",
                        a.code, a.unit, a.unit
                    ),
                ),
                _ => out.push(Checked {
                    analyte: code.to_string(),
                    value: v,
                    unit: r.unit.clone(),
                }),
            },
        }
    }
    e.into_result().map(|()| out)
}

/// Cards committed together. Each card still runs in its own savepoint, so a failing card rolls
/// back alone; grouping only saves commits (one disk flush per group instead of per card).
pub const CARDS_PER_COMMIT: usize = 100;

/// A card's outcome when it was stored and interpreted.
pub fn accepted(barcode: &str, interpretation: Interpretation) -> CardResultOutcome {
    CardResultOutcome {
        barcode: barcode.to_string(),
        status: "accepted",
        errors: BTreeMap::new(),
        interpretation: Some(interpretation),
    }
}

/// A card's outcome when its write failed for `e`: validation errors name the fields, anything
/// else asks for a retry (and is logged).
pub fn failed(barcode: &str, e: AppError) -> CardResultOutcome {
    match e {
        AppError::Validation(errors) => rejected(barcode, errors),
        AppError::NotFound { .. } => {
            rejected(barcode, FieldErrors::single("barcode", "unknown barcode"))
        }
        other => {
            tracing::error!(error.code = other.code(), "card write failed");
            rejected(
                barcode,
                FieldErrors::single("card", "could not be stored; retry"),
            )
        }
    }
}

/// One card's barcode and values.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardResults {
    /// Card barcode.
    pub barcode: String,
    /// Analyte values.
    pub results: Vec<ResultInput>,
    /// When the laboratory tested the card (RFC 3339); not before receipt, not in the future.
    #[serde(default)]
    pub tested_at: Option<DateTime<Utc>>,
    /// When the laboratory reported the result (RFC 3339); the interpretation, the case's due
    /// times and the timeliness indicators count from it. Arrival time when absent.
    #[serde(default)]
    pub reported_at: Option<DateTime<Utc>>,
}

/// The time a card's result counts from: the laboratory's report time, checked against the card
/// (not before receipt or collection, test before report, neither in the future), else `now`.
fn result_times(
    card: &crate::db::models::screening::dbs::Card,
    c: &CardResults,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, AppError> {
    let mut e = FieldErrors::new();
    let floor = card.received_at.unwrap_or(card.collected_at).utc();
    for (field, t) in [("tested_at", c.tested_at), ("reported_at", c.reported_at)] {
        let Some(t) = t else { continue };
        if t > now + chrono::Duration::minutes(5) {
            e.add(field, "must not be in the future");
        }
        if t < floor {
            e.add(field, "must not be before the card's receipt");
        }
    }
    if let (Some(tested), Some(reported)) = (c.tested_at, c.reported_at)
        && reported < tested
    {
        e.add("reported_at", "must not be before tested_at");
    }
    e.into_result().map_err(AppError::Validation)?;
    Ok(c.reported_at.unwrap_or(now).min(now))
}

/// A card's outcome when it was refused for `errors`.
pub fn rejected(barcode: &str, errors: FieldErrors) -> CardResultOutcome {
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
    let mut out = Vec::with_capacity(cards.len());
    if let [one] = cards {
        // One card: its own transaction, with the quality facts kept by the incremental touches
        // (a savepoint and a deferred recompute buy nothing for a single card).
        out.push(one_card(conn, rules, one, now));
        return out;
    }
    for chunk in cards.chunks(CARDS_PER_COMMIT) {
        let mut done = Vec::with_capacity(chunk.len());
        // The quality facts of the chunk's infants are recomputed once, at its end.
        let committed = write_transaction(conn, |conn| -> Result<(), AppError> {
            crate::db::models::quality::facts::deferred(conn, |conn| {
                for c in chunk {
                    done.push(one_card(conn, rules, c, now));
                }
                Ok(())
            })
        });
        if let Err(e) = committed {
            tracing::error!(
                error.code = e.code(),
                "a group of cards could not be committed"
            );
            done = unstored(chunk);
        }
        out.extend(done);
    }
    out
}

/// Every card of `cards` refused with a request to retry (nothing of them was stored).
fn unstored(cards: &[CardResults]) -> Vec<CardResultOutcome> {
    cards
        .iter()
        .map(|c| {
            rejected(
                &c.barcode,
                FieldErrors::single("card", "could not be stored; retry"),
            )
        })
        .collect()
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
    let slice_on = |slice: &[CardResults]| match pool.get() {
        Ok(mut conn) => submit_plate(&mut conn, rules, slice, now),
        Err(e) => {
            tracing::error!(error = %e, "no database connection for a slice of a plate");
            unstored(slice)
        }
    };
    if size >= cards.len() {
        // One slice: on this thread (a thread started per request cost more than its card).
        return slice_on(cards);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = cards
            .chunks(size)
            .map(|slice| scope.spawn(move || slice_on(slice)))
            .collect();
        handles
            .into_iter()
            .zip(cards.chunks(size))
            .flat_map(|(h, slice)| h.join().unwrap_or_else(|_| unstored(slice)))
            .collect()
    })
}

fn one_card(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    c: &CardResults,
    now: DateTime<Utc>,
) -> CardResultOutcome {
    let checked = match check_results(rules.interp, &c.results) {
        Ok(v) => v,
        Err(e) => return rejected(&c.barcode, e),
    };
    // A nested transaction is a savepoint: this card's writes roll back alone on error.
    let outcome = crate::db::write_transaction(conn, |conn| {
        let (card, infant, has_values) = crate::services::screening::cards::sole_card(
            dbs::card_with_infant_and_values(conn, &c.barcode)?,
        )?;
        let before = stored_results_if(conn, card.id, has_values)?;
        store_checked(conn, rules, &card, &infant, before, &checked, c, now)
    });
    match outcome {
        Ok(i) => accepted(&c.barcode, i),
        Err(e) => failed(&c.barcode, e),
    }
}

/// A card's results when its card row, infant and stored results are loaded already, inside the
/// caller's transaction (nothing here opens one): checks the values, stores them, audits and
/// interprets (opening or updating a case as the interpretation asks). `before` is the card's
/// stored values.
#[allow(clippy::too_many_arguments)]
pub fn submit_loaded(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    card: &dbs::Card,
    infant: &crate::db::models::screening::infant::Infant,
    before: BTreeMap<String, f64>,
    c: &CardResults,
    now: DateTime<Utc>,
) -> Result<Interpretation, AppError> {
    let checked = check_results(rules.interp, &c.results).map_err(AppError::Validation)?;
    store_checked(conn, rules, card, infant, before, &checked, c, now)
}

#[allow(clippy::too_many_arguments)]
fn store_checked(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    card: &dbs::Card,
    infant: &crate::db::models::screening::infant::Infant,
    before: BTreeMap<String, f64>,
    checked: &[Checked],
    c: &CardResults,
    now: DateTime<Utc>,
) -> Result<Interpretation, AppError> {
    let at = result_times(card, c, now)?;
    // Earlier values of other analytes still count; new values replace old ones.
    let mut values = before.clone();
    values.extend(checked.iter().map(|r| (r.analyte.clone(), r.value)));
    let rows: Vec<ResultRow> = checked
        .iter()
        .map(|r| ResultRow {
            card_id: card.id,
            analyte: r.analyte.clone(),
            value: r.value,
            unit: r.unit.clone(),
            reported_at: UtcMicros::new(at),
            tested_at: c.tested_at.map(UtcMicros::new),
        })
        .collect();
    // On PostgreSQL the values are stored in the interpretation's statement.
    let rides = match conn {
        AnyConnection::Postgresql(_) => card_values::upserts(&rows),
        AnyConnection::Sqlite(_) => {
            card_values::store(conn, &rows)?;
            Vec::new()
        }
    };
    audit::write(
        conn,
        rules.who,
        "card_results",
        card.id,
        Some(&before),
        &values,
        now,
    )?;
    let rides: Vec<&dyn diesel::query_builder::QueryFragment<diesel::pg::Pg>> = rides
        .iter()
        .map(|r| r as &dyn diesel::query_builder::QueryFragment<diesel::pg::Pg>)
        .collect();
    interpret_and_store(conn, rules, card, infant, &values, at, &rides)
}
