//! `/api/v1/cards` and `/api/v1/results`: blood-spot cards registered by hospitals; receipt,
//! quality and analyte results recorded by the screening-centre laboratory.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::json::ApiJson;
use crate::api::path_id;
use crate::auth::extract::require;
use crate::db;
use crate::domain::ids::{CardId, HospitalId, InfantId};
use crate::domain::interpretation::Interpretation;
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::domain::specimen::Feeding;
use crate::error::{AppError, Problem};
use crate::services::admin::catalogue::current;
use crate::services::admin::policy;
use crate::services::screening::cards::Rules;
use crate::services::screening::cards::{self as svc, CollectionTiming, NewCard};
use crate::services::screening::results::{self, CardResultOutcome, CardResults};
use crate::state::AppState;

/// Connections a plate is spread over on PostgreSQL.
pub const PLATE_WORKERS: usize = 4;

/// Most cards in one results request.
pub const MAX_CARDS_PER_REQUEST: usize = 2000;

/// A card registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCardRequest {
    /// The infant the card was collected from.
    pub infant_id: InfantId,
    /// Unique card barcode.
    pub barcode: String,
    /// Collection time (RFC 3339).
    pub collected_at: DateTime<Utc>,
    /// Feeding when collected.
    pub feeding: Feeding,
    /// Transfused before collection.
    #[serde(default)]
    pub transfusion: bool,
    /// On parenteral nutrition.
    #[serde(default)]
    pub tpn: bool,
    /// On antibiotics.
    #[serde(default)]
    pub antibiotics: bool,
    /// Who collected it.
    pub collector: String,
    /// Barcode of the card this one repeats.
    #[serde(default)]
    pub repeat_of_barcode: Option<String>,
}

/// A registered card.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardResponse {
    /// The card's id.
    pub id: CardId,
    /// The infant the card was collected from.
    pub infant_id: InfantId,
    /// The infant's birth hospital.
    pub hospital_id: HospitalId,
    /// The card's barcode, unique per hospital.
    pub barcode: String,
    /// Collection time.
    pub collected_at: DateTime<Utc>,
    /// Age at collection (h).
    pub age_at_collection_hours: i64,
    /// How the collection age compares with the catalogue's limits.
    pub timing: CollectionTiming,
    /// Id of the card this one repeats.
    pub repeat_of: Option<CardId>,
}

/// Lab receipt and quality.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRequest {
    /// When the lab received the card.
    pub received_at: DateTime<Utc>,
    /// `acceptable` or an unsatisfactory reason code of the catalogue.
    pub quality: String,
}

/// The card after receipt, with its interpretation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptResponse {
    /// The card's barcode.
    pub barcode: String,
    /// Quality recorded.
    pub quality: String,
    /// Interpretation after receipt.
    pub interpretation: Interpretation,
}

/// Results of one or many cards (a plate).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultsRequest {
    /// One entry per card, 1 to 2,000 cards.
    pub cards: Vec<CardResults>,
    /// The plate's test time, for cards that carry none.
    #[serde(default)]
    pub tested_at: Option<DateTime<Utc>>,
    /// The plate's report time, for cards that carry none.
    #[serde(default)]
    pub reported_at: Option<DateTime<Utc>>,
}

/// Receipts of many cards.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptsRequest {
    /// One receipt per card.
    pub cards: Vec<svc::CardReceipt>,
}

/// Per-card outcomes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultsResponse {
    /// Cards accepted.
    pub accepted: usize,
    /// Cards rejected.
    pub rejected: usize,
    /// One entry per submitted card, in order.
    pub cards: Vec<CardResultOutcome>,
}

/// Register a blood-spot card for an infant.
#[utoipa::path(tag = "cards", security(("bearer" = [])), request_body = CreateCardRequest, responses(
    (status = 201, body = CardResponse), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/cards")]
pub async fn create_card(
    p: Principal,
    state: web::Data<AppState>,
    body: ApiJson<CreateCardRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::WriteInfants)?;
    let b = body.0;
    let input = NewCard {
        infant_id: b.infant_id,
        barcode: b.barcode,
        collected_at: b.collected_at,
        feeding: b.feeding,
        transfusion: b.transfusion,
        tpn: b.tpn,
        antibiotics: b.antibiotics,
        collector: b.collector,
        repeat_of_barcode: b.repeat_of_barcode,
    };
    let now = state.now();
    let interp = current(&state.catalogues, now)?;
    let (card, infant) = state
        .writer
        .run(move |c| svc::register(c, &p, input, now))
        .await?;
    let (hours, timing) = svc::timing(&interp, &infant, card.collected_at.utc());
    tracing::info!(card.id = %card.id, infant.id = %card.infant_id, "card registered");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/cards/{}", card.id)))
        .json(CardResponse {
            id: card.id,
            infant_id: card.infant_id,
            hospital_id: card.hospital_id,
            barcode: card.barcode,
            collected_at: card.collected_at.utc(),
            age_at_collection_hours: hours,
            timing,
            repeat_of: card.repeat_of,
        }))
}

/// One card with its latest interpretation (404 when not visible).
#[utoipa::path(tag = "cards", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 200, body = crate::services::screening::summary::CardSummary), (status = 404, body = Problem)))]
#[get("/cards/{id}")]
pub async fn get_card(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    // The role table: hospital principals (their own infants) and centre staff; the
    // laboratory records receipts and results but reads no infant's record.
    require(&p, Action::ReadPersonalData)?;
    let id: uuid::Uuid = path_id(&id, "card")?;
    let now = state.now();
    let interp = current(&state.catalogues, now)?;
    let scope = p.scope();
    let card = db::run(&state.pool, move |c| {
        let card = crate::services::screening::summary::card(c, &interp, &scope, CardId(id))?;
        crate::services::admin::audit::read(c, &p, "card", card.id, now)?;
        Ok(card)
    })
    .await?;
    Ok(HttpResponse::Ok().json(card))
}

/// Record lab receipt and quality of a card (laboratory roles).
#[utoipa::path(tag = "cards", security(("bearer" = [])), params(("barcode" = String, Path)), request_body = ReceiptRequest, responses(
    (status = 200, body = ReceiptResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/cards/{barcode}/receipt")]
pub async fn receive_card(
    p: Principal,
    state: web::Data<AppState>,
    barcode: web::Path<String>,
    body: ApiJson<ReceiptRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::RecordLabResults)?;
    let b = body.0;
    let now = state.now();
    let interp = current(&state.catalogues, now)?;
    let policy = policy::current(&state.policies, now)?;
    let barcode = barcode.into_inner();
    let (card, interpretation) = state
        .writer
        .run(move |c| {
            let rules = Rules::new(&interp, &policy, &p);
            svc::receive(c, rules, &barcode, b.received_at, &b.quality, now)
        })
        .await?;
    tracing::info!(card.id = %card.id, "card received");
    Ok(HttpResponse::Ok().json(ReceiptResponse {
        barcode: card.barcode,
        quality: card.quality.unwrap_or_default(),
        interpretation,
    }))
}

/// Submit analyte results for one card or a whole plate (laboratory roles). Each card is stored
/// and interpreted on its own: a rejected card changes nothing and the others still land. Send an
/// `Idempotency-Key` so a retried plate is answered from the first run.
#[utoipa::path(tag = "cards", security(("bearer" = [])), request_body = ResultsRequest, responses(
    (status = 200, body = ResultsResponse), (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/results")]
pub async fn submit_results(
    p: Principal,
    state: web::Data<AppState>,
    body: ApiJson<ResultsRequest, true>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::RecordLabResults)?;
    let ResultsRequest {
        mut cards,
        tested_at,
        reported_at,
    } = body.0;
    check_card_count(cards.len())?;
    for c in &mut cards {
        c.tested_at = c.tested_at.or(tested_at);
        c.reported_at = c.reported_at.or(reported_at);
    }
    let now = state.now();
    let interp = current(&state.catalogues, now)?;
    let policy = policy::current(&state.policies, now)?;
    if cards.len() == 1 && state.writer.groups_commits() {
        // One card on SQLite joins the group writer's next commit. A plate commits 100 cards
        // at a time on a pooled connection instead, so it neither holds the group writer for
        // its whole length nor loses what it stored when it is cut off.
        let outcomes = state
            .writer
            .run(move |c| {
                let rules = Rules::new(&interp, &policy, &p);
                Ok(results::submit_plate(c, rules, &cards, now))
            })
            .await?;
        return Ok(outcomes_response(outcomes, "results submitted"));
    }
    // PostgreSQL overlaps cards on several connections.
    let workers = crate::db::sql::writers(
        state.settings.database.url.expose_secret(),
        PLATE_WORKERS,
        state.pool.max_size() as usize,
    );
    let pool = state.pool.clone();
    let outcomes = tokio::task::spawn_blocking(move || {
        let rules = Rules::new(&interp, &policy, &p);
        results::submit_plate_parallel(&pool, rules, &cards, now, workers)
    })
    .await
    .map_err(|e| AppError::Unexpected(anyhow::anyhow!("results task failed: {e}")))?;
    Ok(outcomes_response(outcomes, "results submitted"))
}

fn check_card_count(n: usize) -> Result<(), AppError> {
    if n == 0 || n > MAX_CARDS_PER_REQUEST {
        return Err(AppError::invalid(
            "cards",
            format!("must hold 1 to {MAX_CARDS_PER_REQUEST} cards"),
        ));
    }
    Ok(())
}

fn outcomes_response(outcomes: Vec<CardResultOutcome>, what: &'static str) -> HttpResponse {
    let accepted = outcomes.iter().filter(|o| o.status == "accepted").count();
    tracing::info!(
        cards.accepted = accepted,
        cards.rejected = outcomes.len() - accepted,
        "{what}"
    );
    HttpResponse::Ok().json(ResultsResponse {
        accepted,
        rejected: outcomes.len() - accepted,
        cards: outcomes,
    })
}

/// Record the receipt and quality of many cards at once (laboratory roles), with per-card
/// outcomes like a results plate: a rejected card changes nothing and the others still land.
#[utoipa::path(tag = "cards", security(("bearer" = [])), request_body = ReceiptsRequest, responses(
    (status = 200, body = ResultsResponse), (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/cards/receipts")]
pub async fn receive_cards(
    p: Principal,
    state: web::Data<AppState>,
    body: ApiJson<ReceiptsRequest, true>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::RecordLabResults)?;
    let cards = body.0.cards;
    check_card_count(cards.len())?;
    let now = state.now();
    let interp = current(&state.catalogues, now)?;
    let policy = policy::current(&state.policies, now)?;
    let outcomes = db::run(&state.pool, move |c| {
        let rules = Rules::new(&interp, &policy, &p);
        Ok(svc::receive_many(c, rules, &cards, now))
    })
    .await?;
    Ok(outcomes_response(outcomes, "receipts recorded"))
}
