//! Use cases. Each runs in one transaction over a connection it is given, validates with the
//! domain rules first (so a rejected request writes nothing) and returns `AppError`.

pub mod accounts;
pub mod audit;
pub mod bootstrap;
pub mod cards;
pub mod cases;
pub mod catalogue;
pub mod contacts;
pub mod digests;
pub mod escalation;
pub mod infants;
pub mod merges;
pub mod notices;
pub mod notifications;
pub mod policy;
pub mod quality;
pub mod quality_breakdowns;
pub mod quality_facts;
pub mod reminders;
pub mod results;
pub mod screening;
pub mod screens;
pub mod versions;
