//! Handlers take a [`Principal`] argument to require authentication, then check the role with
//! [`require`]. Data scoping is not done here but in the query layer (`Scope`).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::domain::principal::Principal;
use crate::domain::role::Role;
use crate::error::AppError;

impl FromRequest for Principal {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Principal>()
                .cloned()
                .ok_or(AppError::Unauthorized {
                    code: "missing_token",
                    detail: "this endpoint needs a bearer token".into(),
                }),
        )
    }
}

/// Refuses with 403 unless the principal's role is one of `roles`.
pub fn require(p: &Principal, roles: &[Role]) -> Result<(), AppError> {
    if roles.contains(&p.role) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// Screening-centre roles that may read.
pub const CENTRE_READERS: &[Role] = &[
    Role::Admin,
    Role::Coordinator,
    Role::Clinician,
    Role::Viewer,
];

/// Refuses with 403 principals that may not read infants' personal data (the lab client).
pub fn require_personal_data(p: &Principal) -> Result<(), AppError> {
    if p.role.reads_personal_data() {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}
