//! Pure domain types and rules: no HTTP, no database, no I/O, so they test without either.

pub mod case;
pub mod catalogue;
pub mod cchd;
pub mod due;
pub mod hearing;
pub mod id_card;
pub mod ids;
pub mod infant;
pub mod interpretation;
pub mod principal;
pub mod role;
pub mod validation;
