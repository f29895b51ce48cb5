//! `/api/v1/notifications`: the outbox as staff see it (filters: status, channel, case,
//! template), a retry action for failed or cancelled messages, and the SMS gateway's
//! delivery-receipt callback (authenticated by its shared `X-Receipt-Token`, not a bearer token).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};

use crate::api::Paged;
use crate::api::json::ApiJson;
use crate::api::{page_limit, path_id};
use crate::auth::extract::require;
use crate::db;
use crate::db::models::follow_up::notification::{self, Notification, NotificationFilter};
use crate::domain::ids::{CaseId, HospitalId, NotificationId};
use crate::domain::notification::{Audience, Channel, ReceiptStatus, Status};
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, ErrorCode, Problem};
use crate::services::follow_up::notifications as svc;
use crate::state::AppState;

/// A notification as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationResponse {
    /// The notification's id.
    pub id: NotificationId,
    /// Case it is about.
    pub case_id: Option<CaseId>,
    /// Hospital it concerns.
    pub hospital_id: Option<HospitalId>,
    /// The template it was rendered from.
    pub template: String,
    /// E-mail or SMS.
    pub channel: Channel,
    /// Whom it is for.
    pub recipient_role: Audience,
    /// Address or phone number.
    pub recipient: String,
    /// The language it was rendered in (`zh-CN` or `en`).
    pub locale: String,
    /// Subject (e-mail).
    pub subject: Option<String>,
    /// The rendered message text.
    pub body: String,
    /// Where it is in its lifecycle.
    pub status: Status,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Next attempt (queued).
    pub next_attempt_at: DateTime<Utc>,
    /// Provider's message id.
    pub provider_message_id: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Handed over.
    pub sent_at: Option<DateTime<Utc>>,
    /// Delivery confirmed by a receipt.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationResponse {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            case_id: n.case_id,
            hospital_id: n.hospital_id,
            template: n.template,
            channel: n.channel,
            recipient_role: n.recipient_role,
            recipient: n.recipient,
            locale: n.locale,
            subject: n.subject,
            body: n.body,
            status: n.status,
            attempts: n.attempts,
            next_attempt_at: n.next_attempt_at.utc(),
            provider_message_id: n.provider_message_id,
            last_error: n.last_error,
            created_at: n.created_at.utc(),
            sent_at: n.sent_at.map(|t| t.utc()),
            delivered_at: n.delivered_at.map(|t| t.utc()),
        }
    }
}

/// Filters of the notification list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NotificationQuery {
    /// One of `queued`, `sending`, `sent`, `delivered`, `failed`, `cancelled`.
    pub status: Option<String>,
    /// `email` or `sms`.
    pub channel: Option<String>,
    /// Case id.
    pub case_id: Option<String>,
    /// Template name.
    pub template: Option<String>,
    /// 1–200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    /// Newest first.
    pub items: Vec<NotificationResponse>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// List notifications, newest first. Hospital principals see their hospital's.
#[utoipa::path(tag = "notifications", security(("bearer" = [])), params(NotificationQuery),
    responses((status = 200, body = NotificationPage), (status = 400, body = Problem)))]
#[get("/notifications")]
pub async fn list_notifications(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<NotificationQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit, 50, 200)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                let msg = format!("must be one of {}", Status::names());
                AppError::bad_field(ErrorCode::InvalidQuery, "status", msg)
            })
        })
        .transpose()?;
    let channel = q
        .channel
        .as_deref()
        .map(|c| {
            Channel::parse(c).ok_or_else(|| {
                AppError::bad_field(ErrorCode::InvalidQuery, "channel", "must be email or sms")
            })
        })
        .transpose()?;
    let f = NotificationFilter {
        status,
        channel,
        case_id: q.case_id,
        template: q.template,
        before_id: q.cursor,
    };
    let (scope, now) = (p.scope(), state.now());
    let page = db::run(&state.pool, move |c| {
        let page = Paged::of(notification::list(c, &scope, &f, limit + 1)?, limit);
        let ids = page.items.iter().map(|r| r.id);
        crate::services::admin::audit::list_read(c, &p, "notification", ids, now)?;
        Ok(page)
    })
    .await?;
    let next_cursor = page.next_cursor(|n| n.id.to_string());
    let items = page.items.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(NotificationPage { items, next_cursor }))
}

/// One notification.
#[utoipa::path(tag = "notifications", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = NotificationResponse), (status = 404, body = Problem)))]
#[get("/notifications/{id}")]
pub async fn get_notification(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let id: uuid::Uuid = path_id(&id, "notification")?;
    let (scope, now) = (p.scope(), state.now());
    let n = db::run(&state.pool, move |c| {
        let n = notification::get(c, &scope, NotificationId(id))?.ok_or(AppError::NotFound {
            entity: "notification",
        })?;
        crate::services::admin::audit::read(c, &p, "notification", n.id, now)?;
        Ok(n)
    })
    .await?;
    Ok(HttpResponse::Ok().json(NotificationResponse::from(n)))
}

/// Queue a failed or cancelled notification again, now (staff).
#[utoipa::path(tag = "notifications", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = NotificationResponse), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/notifications/{id}/retry")]
pub async fn retry_notification(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::RetryNotifications)?;
    let id: uuid::Uuid = path_id(&id, "notification")?;
    let (scope, now) = (p.scope(), state.now());
    let n = db::run(&state.pool, move |c| {
        svc::retry(c, &scope, NotificationId(id), &p, now)
    })
    .await?;
    tracing::info!(notification.id = %n.id, "notification queued again by staff");
    Ok(HttpResponse::Ok().json(NotificationResponse::from(n)))
}

/// A delivery receipt from the SMS gateway.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsReceipt {
    /// The gateway's message id (as it answered when the message was sent).
    pub message_id: String,
    /// `delivered`, `failed`, `undeliverable` or `wrong_number`.
    pub status: String,
    /// Gateway's error text.
    pub error: Option<String>,
}

/// Delivery receipt callback for the SMS gateway (header `X-Receipt-Token`). A wrong-number
/// receipt puts the case on the contact-problem worklist.
#[utoipa::path(tag = "notifications", request_body = SmsReceipt, params(("X-Receipt-Token" = String, Header)),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/notifications/sms-receipts")]
pub async fn sms_receipt(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<SmsReceipt>,
) -> Result<HttpResponse, AppError> {
    use secrecy::ExposeSecret;
    let expected = state
        .settings
        .notify
        .sms
        .receipt_token
        .expose_secret()
        .as_bytes();
    let given = req
        .headers()
        .get("x-receipt-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if expected.is_empty() || !bool::from(given.ct_eq(expected)) {
        return Err(AppError::Unauthorized {
            code: ErrorCode::InvalidReceiptToken,
            detail: "X-Receipt-Token is missing or wrong".into(),
        });
    }
    let r = body.0;
    let status = ReceiptStatus::parse(&r.status).ok_or_else(|| {
        AppError::invalid(
            "status",
            format!("must be one of {}", ReceiptStatus::names()),
        )
    })?;
    let now = state.now();
    let id = db::run(&state.pool, move |c| {
        svc::record_sms_receipt(c, &r.message_id, status, r.error, now)
    })
    .await?;
    tracing::info!(notification.id = %id, "sms receipt recorded");
    Ok(HttpResponse::NoContent().finish())
}
