//! Blood-spot cards: registration by the hospital, receipt and quality by the lab, and their
//! interpretation under the catalogue in force (results arrive through `services::results`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::models::screening::dbs::{self, Card, InterpretationRow};
use crate::db::models::screening::infant::{self, Infant};
use crate::db::models::screening::values;
use crate::db::types::{Json, UtcMicros};
use crate::db::{AnyConnection, write_transaction};
use crate::domain::due::DuePolicy;
use crate::domain::ids::{CardId, InfantId};
use crate::domain::interpretation::{
    CardFacts, CardOutcome, InfantFacts, Interpretation, Interpreter,
};
use crate::domain::principal::Principal;
use crate::domain::specimen::Feeding;
use crate::domain::validation::FieldErrors;
use crate::error::{AppError, ErrorCode, is_unique_violation};
use crate::services::admin::audit;
use crate::services::follow_up::cases;

/// A card as submitted.
#[derive(Debug, Clone)]
pub struct NewCard {
    /// The infant the card was collected from.
    pub infant_id: InfantId,
    /// Unique barcode.
    pub barcode: String,
    /// Collection time.
    pub collected_at: DateTime<Utc>,
    /// Feeding status.
    pub feeding: Feeding,
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
    let hours = (collected_at - infant.birth_at.utc())
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
        // Locked as read: the card's quality facts upkeep follows (`dbs::insert_card`).
        let infant = infant::get_for_write(conn, &scope, c.infant_id)?
            .ok_or(AppError::NotFound { entity: "infant" })?;
        let mut e = FieldErrors::new();
        let barcode = text_code(&mut e, "barcode", &c.barcode);
        if c.collected_at > now + chrono::Duration::minutes(5) {
            e.add("collected_at", "must not be in the future");
        }
        if c.collected_at < infant.birth_at.utc() {
            e.add("collected_at", "must not be before the birth");
        }
        let collector = e.text("collector", &c.collector, 64);
        let repeat_of = match &c.repeat_of_barcode {
            None => None,
            Some(b) => match dbs::find_of_infant(conn, infant.id, b)? {
                Some(prev) => Some(prev.id),
                None => {
                    e.add(
                        "repeat_of_barcode",
                        "no earlier card of this infant has this barcode",
                    );
                    None
                }
            },
        };
        e.into_result().map_err(AppError::Validation)?;
        let t = UtcMicros::new(now);
        let card = Card {
            id: CardId::new(),
            infant_id: infant.id,
            hospital_id: infant.hospital_id,
            barcode,
            collected_at: UtcMicros::new(c.collected_at),
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
        // Audited first: on PostgreSQL the entry rides in the insert's statement.
        audit::write(conn, p, "card", card.id, None, &card, now)?;
        dbs::insert_card(conn, &card).map_err(|err| {
            if is_unique_violation(&err) {
                AppError::conflict(
                    ErrorCode::DuplicateBarcode,
                    Some("barcode"),
                    "a card with this barcode is registered",
                )
            } else {
                err.into()
            }
        })?;
        Ok((card, infant))
    })
}

/// A card's stored values by analyte.
pub(crate) fn stored_results(
    conn: &mut AnyConnection,
    card_id: CardId,
) -> Result<BTreeMap<String, f64>, AppError> {
    Ok(values::of_card(conn, card_id)?
        .into_iter()
        .map(|r| (r.analyte, r.value))
        .collect())
}

/// [`stored_results`] when the card read said it has any (`has_values`), else none without a
/// query (a card's receipt and first result usually come before any value).
pub(crate) fn stored_results_if(
    conn: &mut AnyConnection,
    card_id: CardId,
    has_values: bool,
) -> Result<BTreeMap<String, f64>, AppError> {
    if has_values {
        stored_results(conn, card_id)
    } else {
        Ok(BTreeMap::new())
    }
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

impl<'a> Rules<'a> {
    /// The rules in force for `who`.
    pub fn new(interp: &'a Interpreter, policy: &'a DuePolicy, who: &'a Principal) -> Self {
        Self {
            interp,
            policy,
            who,
        }
    }
}

/// Interprets a card with the given values, stores the interpretation and, in the same
/// transaction, opens or updates the follow-up case it calls for. `rides` (PostgreSQL: the
/// card's values, see `values::upserts`) run in the interpretation's insert.
pub fn interpret_and_store(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    card: &Card,
    infant: &Infant,
    results: &BTreeMap<String, f64>,
    now: DateTime<Utc>,
    rides: &[&dyn diesel::query_builder::QueryFragment<diesel::pg::Pg>],
) -> Result<Interpretation, AppError> {
    let facts = InfantFacts {
        birth_at: infant.birth_at.utc(),
        ga_weeks: i64::from(infant.gestational_age_weeks),
        birth_weight_g: i64::from(infant.birth_weight_g),
    };
    let unsatisfactory_reason = card.quality.clone().filter(|q| q != "acceptable");
    let card_facts = CardFacts {
        collected_at: card.collected_at.utc(),
        unsatisfactory_reason,
        transfusion: card.transfusion,
        tpn: card.tpn,
    };
    let result = rules.interp.interpret(&facts, &card_facts, results);
    dbs::insert_interpretation(
        conn,
        &InterpretationRow {
            id: uuid::Uuid::now_v7().to_string(),
            card_id: card.id,
            catalogue_version: result.catalogue_version.clone(),
            outcome: result.outcome,
            tier: result.tier,
            detail: Json(result.clone()),
            interpreted_at: UtcMicros::new(now),
        },
        rides,
    )?;
    if let Some(spec) = cases::spec_for_card(&result, card.id, &card.barcode) {
        cases::open_or_update(conn, rules.policy, infant, spec, rules.who, now)?;
    } else if result.outcome == CardOutcome::Normal && card.repeat_of.is_some() {
        cases::propose_resolution(conn, infant, card.id, &card.barcode, rules.who, now)?;
    }
    Ok(result)
}

/// The one card a laboratory's barcode names. Barcodes are unique per hospital; should two
/// hospitals use the same one, the laboratory's message is refused for that card until the
/// screening centre resolves it (never stored on a guess).
pub fn sole_card<T>(rows: Vec<T>) -> Result<T, AppError> {
    let mut rows = rows.into_iter();
    match (rows.next(), rows.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => Err(AppError::NotFound { entity: "card" }),
        (Some(_), Some(_)) => Err(AppError::invalid(
            "barcode",
            "is registered by more than one hospital; the screening centre must resolve it",
        )),
    }
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
    write_transaction(conn, |conn| {
        let (card, infant, has_values) =
            sole_card(dbs::card_with_infant_and_values(conn, barcode)?)?;
        let results = stored_results_if(conn, card.id, has_values)?;
        receive_loaded(
            conn,
            rules,
            card,
            &infant,
            &results,
            received_at,
            quality,
            now,
        )
    })
}

/// [`receive`] for a card whose row, infant and stored results the caller has loaded, inside
/// the caller's transaction (nothing here opens one): records the receipt
/// ([`record_receipt`]) and re-interprets. Returns the card as updated.
#[allow(clippy::too_many_arguments)]
pub fn receive_loaded(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    card: Card,
    infant: &Infant,
    results: &BTreeMap<String, f64>,
    received_at: DateTime<Utc>,
    quality: &str,
    now: DateTime<Utc>,
) -> Result<(Card, Interpretation), AppError> {
    let card = record_receipt(conn, rules, card, received_at, quality, now)?;
    let i = interpret_and_store(conn, rules, &card, infant, results, now, &[])?;
    Ok((card, i))
}

/// Validates and stores a card's receipt and quality, and audits it, without interpreting: for
/// a caller that stores the card's results next in the same transaction (an HL7 message
/// carries both), whose interpretation then follows. Returns the card as updated.
pub fn record_receipt(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    card: Card,
    received_at: DateTime<Utc>,
    quality: &str,
    now: DateTime<Utc>,
) -> Result<Card, AppError> {
    let mut e = FieldErrors::new();
    let reasons = &rules.interp.catalogue().specimen.unsatisfactory_reasons;
    if quality != "acceptable" && !reasons.iter().any(|r| r.code == quality) {
        let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
        e.add(
            "quality",
            format!("must be acceptable or one of {}", codes.join(", ")),
        );
    }
    if received_at < card.collected_at.utc() {
        e.add("received_at", "must not be before collection");
    }
    if received_at > now + chrono::Duration::minutes(5) {
        e.add("received_at", "must not be in the future");
    }
    e.into_result().map_err(AppError::Validation)?;
    let t = UtcMicros::new(now);
    dbs::set_receipt(conn, card.id, UtcMicros::new(received_at), quality, t)?;
    // The row as the update left it (no read back).
    let before = card;
    let card = Card {
        received_at: Some(UtcMicros::new(received_at)),
        quality: Some(quality.to_string()),
        quality_recorded_at: Some(t),
        updated_at: t,
        ..before.clone()
    };
    audit::write(conn, rules.who, "card", card.id, Some(&before), &card, now)?;
    Ok(card)
}

/// One card's receipt in a bulk request.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardReceipt {
    /// The card's barcode, unique per hospital.
    pub barcode: String,
    /// When the lab received the card.
    pub received_at: DateTime<Utc>,
    /// `acceptable` or an unsatisfactory reason code of the catalogue.
    pub quality: String,
}

/// Records many receipts, each card in its own transaction: a rejected card changes nothing and
/// does not stop the others. Outcomes are in the request's order.
pub fn receive_many(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    cards: &[CardReceipt],
    now: DateTime<Utc>,
) -> Vec<crate::services::screening::results::CardResultOutcome> {
    use crate::services::screening::results::{accepted, failed};
    cards
        .iter()
        .map(
            |c| match receive(conn, rules, &c.barcode, c.received_at, &c.quality, now) {
                Ok((_, i)) => accepted(&c.barcode, i),
                Err(e) => failed(&c.barcode, e),
            },
        )
        .collect()
}
