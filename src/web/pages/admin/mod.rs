//! Administration pages (administrators only).

pub mod templates;
