//! Screening: births, blood-spot cards and results, hearing and heart screens, consents, merges.

pub mod dbs;
pub mod hl7;
pub mod infant;
pub mod merge;
pub mod phones;
pub mod screens;
pub mod values;
