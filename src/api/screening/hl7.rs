//! `POST /api/v1/hl7v2`: a laboratory's HL7 v2 `ORU^R01` result message, answered with an HL7
//! `ACK` (`Content-Type: application/hl7-v2`). HL7 errors are ACKs (`AE`, `AR`), never HTTP
//! errors; HTTP refuses only what is not a message at all: no or a wrong credential, a body too
//! large, bytes not valid in the message's character set, or another media type.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::json::read_limited;
use crate::auth::extract::require;
use crate::db;
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, ErrorCode};
use crate::services::admin::{catalogue, policy};
use crate::services::screening::cards::Rules;
use crate::services::screening::hl7;
use crate::state::AppState;
use secrecy::ExposeSecret;

/// The media types a laboratory may send.
const MEDIA_TYPES: [&str; 3] = [
    "application/hl7-v2",
    "x-application/hl7-v2+er7",
    "text/plain",
];

/// One HL7 v2.5.1 `ORU^R01` message, or a batch of them (`FHS`/`BHS`, answered with a batch of
/// ACKs); the answer to a message is its `ACK` (`AA`, `AE` with one `ERR` per card
/// not stored, or `AR`). A message resent with the same sending facility and MSH-10 gets the
/// same `ACK` and writes nothing.
#[utoipa::path(tag = "cards", security(("bearer" = [])),
    request_body(content = String, content_type = "application/hl7-v2",
        example = "MSH|^~\\&|NBSLIS|ZJNBSC|GUTHRIE|ZJNBSC|20261125150000+0800||ORU^R01^ORU_R01|LIS0001|P|2.5.1\rPID|1||000123^^^ZJ001^MR\rOBR|1|||54090-6^Thyroid newborn screening panel^LN|||20261123103000+0800|||||||||||||||20261125143000+0800|||F\rOBX|1|ST|57723-9^Unique bar code number of Current sample^LN||3301202611210123||||||F\rOBX|2|NM|29575-8^Thyrotropin^LN||32.5|m[IU]/L|<9|HH|||F\rSPM|1|||||||||||||||||20261124091500+0800"),
    responses((status = 200, description = "the ACK", content_type = "application/hl7-v2", body = String),
        (status = 401, body = crate::error::Problem), (status = 413, body = crate::error::Problem),
        (status = 415, body = crate::error::Problem)))]
#[post("/hl7v2")]
pub async fn receive_message(
    req: HttpRequest,
    p: Principal,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::RecordLabResults)?;
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !MEDIA_TYPES.contains(&media.as_str()) {
        return Err(AppError::UnsupportedMediaType);
    }
    let body = read_limited(
        &mut payload.into_inner(),
        state.settings.hl7.max_message_bytes,
    )
    .await?;
    let text = hl7::text_of(&state.settings.hl7, &body).ok_or_else(|| AppError::BadRequest {
        code: ErrorCode::UnreadableBody,
        detail: "the message is not valid in its character set (MSH-18, or the laboratory's)"
            .into(),
        field: None,
    })?;
    let answer = apply(&state, p, text, "http").await?;
    Ok(HttpResponse::Ok()
        .content_type("application/hl7-v2")
        .body(answer))
}

/// Applies a body (one message or a batch) from `who` under the catalogue and due policy in
/// force, and returns its ACK: the one path of HTTP and MLLP. Outcomes are logged under
/// `transport`.
pub async fn apply(
    state: &AppState,
    who: Principal,
    text: String,
    transport: &'static str,
) -> Result<String, AppError> {
    let now = state.now();
    let interp = catalogue::current(&state.catalogues, now)?;
    let policy = policy::current(&state.policies, now)?;
    let settings = state.settings.hl7.clone();
    // PostgreSQL overlaps a batch's messages on several connections; SQLite has one writer.
    let workers = crate::db::sql::writers(
        state.settings.database.url.expose_secret(),
        4,
        state.pool.max_size() as usize,
    );
    let pool = state.pool.clone();
    let (answer, outcomes) = tokio::task::spawn_blocking(move || {
        let rules = Rules {
            interp: &interp,
            policy: &policy,
            who: &who,
        };
        hl7::ingest_body(&pool, &settings, rules, &text, now, workers)
    })
    .await
    .map_err(|e| AppError::Unexpected(anyhow::anyhow!("hl7 task failed: {e}")))??;
    hl7::log(&outcomes, transport);
    Ok(answer)
}

/// A card on which the laboratory and the catalogue disagree.
#[derive(Debug, Serialize, ToSchema)]
pub struct Disagreement {
    /// The card.
    pub card_id: String,
    /// Its barcode.
    pub barcode: String,
    /// Our interpretation's outcome.
    pub outcome: String,
    /// The laboratory found it abnormal.
    pub lab_abnormal: bool,
    /// The laboratory's flags and interpretation codes (`code=flag`).
    pub lab_flags: Vec<String>,
    /// The message that brought it (MSH-4, MSH-10).
    pub sending_facility: String,
    /// MSH-10.
    pub control_id: String,
    /// When it was applied.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A page size.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1–500 (default 100).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page (messages only).
    pub cursor: Option<String>,
}

/// Cards whose laboratory flags and catalogue interpretation disagree (the laboratory saw an
/// abnormal value we call normal, or the reverse): either the catalogue or the laboratory is
/// wrong, and staff should look. Newest first.
#[utoipa::path(tag = "cards", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = [Disagreement])))]
#[get("/results/disagreements")]
pub async fn disagreements(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let limit = crate::api::page_limit(q.limit, 100, 500)?;
    let now = state.now();
    let rows = db::run(&state.pool, move |c| {
        let rows = crate::db::models::screening::hl7::disagreements(c, &p.scope(), limit)?;
        crate::services::admin::audit::list_read(
            c,
            &p,
            "card",
            rows.iter().map(|r| r.card_id),
            now,
        )?;
        Ok(rows)
    })
    .await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(|r| Disagreement {
                card_id: r.card_id.to_string(),
                barcode: r.barcode,
                outcome: r.outcome.as_str().into(),
                lab_abnormal: r.lab_abnormal,
                lab_flags: r.lab_flags.0,
                sending_facility: r.sending_facility,
                control_id: r.control_id,
                at: r.stored_at.utc(),
            })
            .collect::<Vec<_>>(),
    ))
}

/// One message as received.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageRecord {
    /// Our id (the cursor).
    pub id: String,
    /// MSH-4.1.
    pub sending_facility: String,
    /// MSH-10.
    pub control_id: String,
    /// Who sent it.
    pub received_by: String,
    /// When.
    pub received_at: chrono::DateTime<chrono::Utc>,
    /// `AA`, `AE` or `AR`.
    pub ack_code: String,
    /// Cards in it.
    pub cards: i32,
    /// Cards refused.
    pub rejected: i32,
    /// The ACK sent back.
    pub ack: String,
    /// The message as received; empty after `hl7.raw_retention_days`.
    pub raw: String,
}

/// A page of messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    /// Newest first.
    pub items: Vec<MessageRecord>,
    /// The cursor of the next page.
    pub next_cursor: Option<String>,
}

/// The HL7 messages received, newest first, with their ACKs (administrators; reading them is
/// audited, since a raw message holds personal data).
#[utoipa::path(tag = "cards", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = MessagePage), (status = 403, body = crate::error::Problem)))]
#[get("/hl7v2/messages")]
pub async fn list_messages(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadAudit)?;
    let limit = crate::api::page_limit(q.limit, 100, 500)?;
    let cursor = q.cursor.clone();
    let now = state.now();
    let rows = db::run(&state.pool, move |c| {
        let rows = crate::db::models::screening::hl7::list(c, cursor.as_deref(), limit + 1)?;
        let shown = rows.iter().take(usize::try_from(limit).unwrap_or(0));
        crate::services::admin::audit::list_read(
            c,
            &p,
            "hl7_message",
            shown.map(|r| r.id.clone()),
            now,
        )?;
        Ok(rows)
    })
    .await?;
    let page = crate::api::Paged::of(rows, limit);
    let next_cursor = page.next_cursor(|r| r.id.clone());
    Ok(HttpResponse::Ok().json(MessagePage {
        items: page
            .items
            .into_iter()
            .map(|r| MessageRecord {
                id: r.id,
                sending_facility: r.sending_facility,
                control_id: r.control_id,
                received_by: r.received_by,
                received_at: r.received_at.utc(),
                ack_code: r.ack_code,
                cards: r.cards,
                rejected: r.rejected,
                ack: r.ack,
                raw: r.raw,
            })
            .collect(),
        next_cursor,
    }))
}
