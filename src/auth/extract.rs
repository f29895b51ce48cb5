//! Handlers take a [`Principal`] argument to require authentication, then check the role with
//! [`require`] and an [`Action`] of the one permission table (`Role::may`). Data scoping is not
//! done here but in the query layer (`Scope`).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, ErrorCode};

impl FromRequest for Principal {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Principal>()
                .cloned()
                .ok_or(AppError::Unauthorized {
                    code: ErrorCode::MissingToken,
                    detail: "this endpoint needs a bearer token".into(),
                }),
        )
    }
}

/// Refuses with 403 unless the principal's role may do `a` (the table is `Role::may`).
pub fn require(p: &Principal, a: Action) -> Result<(), AppError> {
    if p.role.may(a) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}
