//! Follow-up: cases, contact attempts, escalation, notices, reminders and digests.

pub mod cases;
pub mod contacts;
pub mod digests;
pub mod escalation;
pub mod notices;
pub mod notifications;
pub mod reminders;
pub mod worklists;
