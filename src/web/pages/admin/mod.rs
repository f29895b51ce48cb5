//! Administration pages (administrators only).

pub mod accounts;
pub mod templates;
