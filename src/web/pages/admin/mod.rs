//! Administration pages (administrators only).

pub mod accounts;
pub mod catalogue;
pub mod hospitals;
pub mod merges;
pub mod operations;
pub mod templates;
