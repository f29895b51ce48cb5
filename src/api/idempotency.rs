//! `Idempotency-Key` on POST: the first successful response is stored per principal and key;
//! a retry with the same key and body gets it back (with `Idempotency-Replayed: true`) and
//! writes nothing; the same key with a different body is 422; a retry while the first request
//! is still running is 409. Failed first attempts (non-2xx) release the key so the client can
//! retry after fixing the request. Keys are kept for 24 hours.
//!
//! A running request's claim belongs to its server (`instance_id`) under a lease on the wall
//! clock, renewed every third of `server.idempotency_lease_secs` while it runs. If the server
//! dies, the lease lapses and a retry takes the key over and runs the request again; every
//! write it repeats is idempotent by itself (results replace values, cases are unique per
//! infant, programme and reason), so a partly applied plate ends with every card once.

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};

use crate::api::json::read_limited;
use crate::auth::secrets::sha256_hex;
use crate::db;
use crate::db::models::admin::idempotency::{self, IdempotencyRecord};
use crate::db::types::UtcMicros;
use crate::domain::principal::Principal;
use crate::error::{AppError, ErrorCode, is_unique_violation};
use crate::state::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on replayed responses.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");

/// How long a key is honoured.
pub const KEEP_HOURS: i64 = 24;

enum Claim {
    /// This request owns the key now.
    Fresh,
    /// A stored response to give back.
    Replay(Box<IdempotencyRecord>),
}

/// The middleware.
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let principal = req.extensions().get::<Principal>().cloned();
    let key = req
        .headers()
        .get(&IDEMPOTENCY_KEY)
        .map(|v| v.to_str().map(str::to_string));
    let (Some(principal), Some(key), true) = (principal, key, req.method() == Method::POST) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = key
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            AppError::bad_field(
                ErrorCode::InvalidIdempotencyKey,
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("application state missing")))?;

    // The largest limit of any route; the handler's extractor applies the route's own.
    let limit = state
        .settings
        .server
        .bulk_body_limit_bytes
        .max(state.settings.server.body_limit_bytes);
    let body = read_limited(&mut req.take_payload(), limit).await?;
    req.set_payload(Payload::from(body.clone()));
    let path = req.path().to_string();
    let hash = sha256_hex(&[b"POST ", path.as_bytes(), b"\n", &body].concat());

    let lease = chrono::Duration::seconds(
        i64::try_from(state.settings.server.idempotency_lease_secs.max(1)).unwrap_or(30),
    );
    let owner: String = state.instance_id.to_string();
    let wall = chrono::Utc::now();
    let record = IdempotencyRecord {
        principal: principal.key(),
        idem_key: key.clone(),
        method: "POST".into(),
        path,
        request_hash: hash,
        response_status: None,
        response_body: None,
        response_location: None,
        created_at: UtcMicros::new(state.now()),
        owner: Some(owner.clone()),
        lease_until: Some(UtcMicros::new(wall + lease)),
    };
    let (pk, kk) = (record.principal.clone(), record.idem_key.clone());
    let cutoff = UtcMicros::new(state.now() - chrono::Duration::hours(KEEP_HOURS));
    let owner_db = owner.clone();
    let claim = db::run(&state.pool, move |c| {
        idempotency::purge_before(c, cutoff)?;
        match idempotency::claim(c, &record) {
            Ok(()) => Ok(Claim::Fresh),
            Err(e) if is_unique_violation(&e) => {
                let existing = idempotency::get(c, &record.principal, &record.idem_key)?.ok_or(
                    AppError::conflict(ErrorCode::IdempotencyInProgress, None, "retry shortly"),
                )?;
                if existing.request_hash != record.request_hash {
                    return Err(AppError::Unprocessable {
                        code: ErrorCode::IdempotencyKeyReused,
                        detail: "this Idempotency-Key was used with a different request".into(),
                    });
                }
                // Its server died: the lease lapsed, and this request takes the key over.
                if existing.response_status.is_none()
                    && idempotency::take_over(
                        c,
                        &record.principal,
                        &record.idem_key,
                        &owner_db,
                        UtcMicros::new(wall),
                        UtcMicros::new(wall + lease),
                    )?
                {
                    tracing::warn!("idempotency key taken over from a request that died");
                    return Ok(Claim::Fresh);
                }
                if existing.response_status.is_none() {
                    return Err(AppError::conflict(
                        ErrorCode::IdempotencyInProgress,
                        None,
                        "a request with this Idempotency-Key is still being processed",
                    ));
                }
                Ok(Claim::Replay(Box::new(existing)))
            }
            Err(e) => Err(e.into()),
        }
    })
    .await?;

    if let Claim::Replay(r) = claim {
        let (http_req, _) = req.into_parts();
        return Ok(ServiceResponse::new(http_req, replay(&r)));
    }

    let renewal = Renewal(tokio::spawn(renew_while_running(
        state.clone(),
        pk.clone(),
        kk.clone(),
        owner.clone(),
        lease,
    )));
    let res = next.call(req).await;
    drop(renewal);
    let res = match res {
        Ok(res) => res,
        Err(e) => {
            release(&state, pk, kk, owner).await;
            return Err(e);
        }
    };
    let (http_req, res) = res.into_parts();
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (head, body) = res.into_parts();
    let bytes = match to_bytes(body).await {
        Ok(b) => b,
        Err(_) => {
            release(&state, pk, kk, owner).await;
            return Err(
                AppError::Unexpected(anyhow::anyhow!("could not buffer the response")).into(),
            );
        }
    };
    if status.is_success() {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let code = i32::from(status.as_u16());
        db::run(&state.pool, move |c| {
            Ok(idempotency::complete(
                c,
                &pk,
                &kk,
                &owner,
                code,
                &text,
                location.as_deref(),
            )?)
        })
        .await?;
    } else {
        release(&state, pk, kk, owner).await;
    }
    Ok(ServiceResponse::new(
        http_req,
        head.set_body(BoxBody::new(bytes)),
    ))
}

/// Aborts the lease renewal when the request is done (or dropped).
struct Renewal(tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the claim's lease every third of it until aborted or the claim is lost.
async fn renew_while_running(
    state: web::Data<AppState>,
    principal: String,
    key: String,
    owner: String,
    lease: chrono::Duration,
) {
    let every = (lease / 3)
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        let (p, k, o) = (principal.clone(), key.clone(), owner.clone());
        let until = UtcMicros::new(chrono::Utc::now() + lease);
        match db::run(&state.pool, move |c| {
            Ok(idempotency::renew(c, &p, &k, &o, until)?)
        })
        .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("a running request lost its idempotency key");
                return;
            }
            Err(e) => tracing::warn!(error.code = e.code(), "idempotency lease not renewed"),
        }
    }
}

async fn release(state: &AppState, principal: String, key: String, owner: String) {
    let res = db::run(&state.pool, move |c| {
        Ok(idempotency::release(c, &principal, &key, &owner)?)
    })
    .await;
    if let Err(e) = res {
        tracing::warn!(
            error.code = e.code(),
            "could not release an idempotency key"
        );
    }
}

fn replay(r: &IdempotencyRecord) -> HttpResponse {
    let status = r
        .response_status
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, "application/json"));
    res.insert_header((REPLAYED, HeaderValue::from_static("true")));
    if let Some(l) = r
        .response_location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        res.insert_header((header::LOCATION, l));
    }
    res.body(r.response_body.clone().unwrap_or_default())
}
