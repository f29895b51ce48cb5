//! Follow-up: cases, contact attempts, escalation, notices, reminders and digests.

pub mod cases;
pub mod notifications;
pub mod worklists;
