//! When a staff console session ends: after `idle` without a request, or `absolute` after
//! sign-in whatever the activity. Requests move the idle expiry, at most once a minute (so an
//! active session costs one write a minute, not one per page) and never past the absolute one.

use chrono::{DateTime, Duration, Utc};

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in whatever the activity.
    pub absolute: Duration,
}

/// A request within this long of the last recorded one leaves the idle expiry where it is.
pub const TOUCH_EVERY: Duration = Duration::seconds(60);

/// Whether a session with these expiries has ended at `now`.
pub fn is_over(now: DateTime<Utc>, idle_expires: DateTime<Utc>, expires: DateTime<Utc>) -> bool {
    now >= idle_expires || now >= expires
}

/// The new idle expiry after a request at `now`, or `None` when the last recorded request is
/// recent enough to leave it.
pub fn next_idle_expiry(
    now: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    expires: DateTime<Utc>,
    life: Lifetimes,
) -> Option<DateTime<Utc>> {
    (now - last_seen >= TOUCH_EVERY).then(|| (now + life.idle).min(expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::minutes(minutes)
    }

    const LIFE: Lifetimes = Lifetimes {
        idle: Duration::minutes(30),
        absolute: Duration::hours(12),
    };

    #[test]
    fn a_session_ends_when_idle_or_old() {
        assert!(!is_over(t(29), t(30), t(720)));
        assert!(is_over(t(30), t(30), t(720)));
        assert!(is_over(t(720), t(740), t(720)));
    }

    #[test]
    fn requests_move_the_idle_expiry_once_a_minute_and_not_past_the_end() {
        assert_eq!(next_idle_expiry(t(10), t(10), t(720), LIFE), None);
        assert_eq!(next_idle_expiry(t(11), t(10), t(720), LIFE), Some(t(41)));
        assert_eq!(next_idle_expiry(t(700), t(600), t(720), LIFE), Some(t(720)));
    }
}
