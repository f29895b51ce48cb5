//! Follow-up: cases, contact attempts, escalation, notices, reminders and digests.

pub mod case;
pub mod contact;
pub mod notification;
pub mod sweep;
pub mod visit;
