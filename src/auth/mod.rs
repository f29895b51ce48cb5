//! Authentication: password and secret hashing, JWT issue and validation, the middleware that
//! turns a bearer token into a [`Principal`](crate::domain::principal::Principal), and the
//! per-address rate limiter for login endpoints, and immediate token revocation.

pub mod extract;
pub mod jwt;
pub mod password;
pub mod rate_limit;
pub mod revocation;
pub mod secrets;
