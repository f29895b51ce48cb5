//! `POST /api/v1/hl7v2`: a laboratory's HL7 v2 `ORU^R01` result message, answered with an HL7
//! `ACK` (`Content-Type: application/hl7-v2`). HL7 errors are ACKs (`AE`, `AR`), never HTTP
//! errors; HTTP refuses only what is not a message at all: no or a wrong credential, a body too
//! large, bytes not valid in the message's character set, or another media type.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};

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
    // MSH is ASCII: the facility names the laboratory, whose profile may name the character set
    // of messages that do not say theirs (MSH-18).
    let default = crate::domain::hl7::facility_of(&body)
        .and_then(|f| state.settings.hl7.labs.get(&f))
        .and_then(|l| l.charset.clone());
    let text = crate::domain::hl7::decode(&body, default.as_deref()).ok_or_else(|| {
        AppError::BadRequest {
            code: ErrorCode::UnreadableBody,
            detail: "the message is not valid in its character set (MSH-18, or the laboratory's)"
                .into(),
            field: None,
        }
    })?;
    let now = state.now();
    let interp = catalogue::current(&state.catalogues, now)?;
    let policy = policy::current(&state.policies, now)?;
    let settings = state.settings.hl7.clone();
    let (answer, outcomes) = db::run(&state.pool, move |conn| {
        let rules = Rules {
            interp: &interp,
            policy: &policy,
            who: &p,
        };
        hl7::ingest_body(conn, &settings, rules, &text, now)
    })
    .await?;
    for o in &outcomes {
        tracing::info!(
            hl7.ack = o.code.as_str(),
            hl7.cards = o.cards,
            hl7.rejected = o.rejected,
            hl7.replayed = o.replayed,
            "hl7 message"
        );
    }
    Ok(HttpResponse::Ok()
        .content_type("application/hl7-v2")
        .body(answer))
}
