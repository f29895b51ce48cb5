//! Screening: births, blood-spot cards and results, hearing and heart screens, consents, merges.

pub mod cards;
pub mod hl7;
pub mod infants;
pub mod merges;
pub mod screens;
