//! Bearer-token middleware: a present `Authorization: Bearer` header must hold a valid token, whose
//! principal is put into the request extensions for [`extract`](crate::auth::extract) to read.
//! Requests without the header pass through; endpoints that need a principal refuse them.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};

use super::observe::RequestId;
use crate::error::{AppError, ErrorCode};
use crate::state::AppState;

/// Verifies the bearer token, if any.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // Only Bearer credentials are ours to check; Basic is read by the token endpoint. A header
    // that is not visible ASCII is malformed, not absent.
    let authorization = match req.headers().get(header::AUTHORIZATION).map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            return Err(AppError::Unauthorized {
                code: ErrorCode::InvalidToken,
                detail: "the Authorization header is not visible ASCII".into(),
            }
            .into());
        }
    };
    let token = authorization.and_then(|v| {
        v.get(..7)
            .filter(|s| s.eq_ignore_ascii_case("bearer "))
            .map(|_| v[7..].trim().to_string())
    });
    let Some(token) = token else {
        return next.call(req).await;
    };
    if token.is_empty() {
        return Err(AppError::Unauthorized {
            code: ErrorCode::InvalidToken,
            detail: "empty bearer token".into(),
        }
        .into());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("application state missing")))?;
    let (mut principal, version) =
        state
            .jwt
            .verify(&token)
            .map_err(|e| AppError::Unauthorized {
                code: ErrorCode::InvalidToken,
                detail: e.to_string(),
            })?;
    if !state
        .token_versions
        .still_valid(&state.pool, &principal, version)
        .await?
    {
        return Err(AppError::Unauthorized {
            code: ErrorCode::InvalidToken,
            detail: "token revoked".into(),
        }
        .into());
    }
    if let Some(r) = req.extensions().get::<RequestId>() {
        principal.request_id = Some(r.id.clone());
        principal.correlation_id = r.correlation.clone();
    }
    tracing::Span::current().record("principal", principal.key());
    req.extensions_mut().insert(principal);
    next.call(req).await
}
