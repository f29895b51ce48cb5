//! Screening: births, blood-spot cards and results, hearing and heart screens, consents, merges.

pub mod cards;
pub mod hl7;
pub mod hospital_board;
pub mod infants;
pub mod merges;
pub mod results;
pub mod screens;
pub mod search;
pub mod summary;
