//! The worklists staff work from: one closed set with each list's name and the deadline window
//! that defines the time-bound lists.

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, Offset, TimeZone, Utc};

/// China Standard Time, the screening centre's day for "due today".
fn centre_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix())
}

/// The end of `now`'s day in China Standard Time, as a UTC instant.
pub fn end_of_local_day(now: DateTime<Utc>) -> DateTime<Utc> {
    let tz = centre_offset();
    let tomorrow = now.with_timezone(&tz).date_naive() + Duration::days(1);
    tz.from_local_datetime(&tomorrow.and_time(NaiveTime::MIN))
        .single()
        .map_or(now + Duration::days(1), |t| t.with_timezone(&Utc))
}

/// The earliest-pending-deadline window of a time-bound list: `[from, before)`, either end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineWindow {
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before this instant.
    pub before: Option<DateTime<Utc>>,
}

/// A worklist of open cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worklist {
    /// Past the earliest pending deadline.
    Overdue,
    /// The earliest pending deadline falls later today (China Standard Time).
    DueToday,
    /// The earliest pending deadline falls within 48 hours.
    Due48h,
    /// Nobody assigned.
    Unassigned,
    /// The family's details need correcting or another channel.
    ContactProblems,
    /// Critical (T0) cases.
    Critical,
}

impl Worklist {
    /// Every worklist, in the order they are counted.
    pub const ALL: [Worklist; 6] = [
        Worklist::Overdue,
        Worklist::DueToday,
        Worklist::Due48h,
        Worklist::Unassigned,
        Worklist::ContactProblems,
        Worklist::Critical,
    ];

    /// The list's name in `GET /api/v1/worklists/{name}`.
    pub fn name(self) -> &'static str {
        match self {
            Worklist::Overdue => "overdue",
            Worklist::DueToday => "due_today",
            Worklist::Due48h => "due_48h",
            Worklist::Unassigned => "unassigned",
            Worklist::ContactProblems => "contact_problems",
            Worklist::Critical => "critical",
        }
    }

    /// The worklist with this name.
    pub fn parse(name: &str) -> Option<Worklist> {
        Worklist::ALL.iter().copied().find(|w| w.name() == name)
    }

    /// The deadline window of a time-bound list at `now` (ordered by deadline); `None` for the
    /// lists that are not about time.
    pub fn deadline_window(self, now: DateTime<Utc>) -> Option<DeadlineWindow> {
        let w = |from, before| Some(DeadlineWindow { from, before });
        match self {
            Worklist::Overdue => w(None, Some(now)),
            Worklist::DueToday => w(Some(now), Some(end_of_local_day(now))),
            Worklist::Due48h => w(Some(now), Some(now + Duration::hours(48))),
            Worklist::Unassigned | Worklist::ContactProblems | Worklist::Critical => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for w in Worklist::ALL {
            assert_eq!(Worklist::parse(w.name()), Some(w));
        }
        assert_eq!(Worklist::parse("nope"), None);
    }

    #[test]
    fn due_today_ends_at_midnight_china_standard_time() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 15:59 UTC is 23:59 in Beijing: the day ends a minute later.
        assert_eq!(
            end_of_local_day(t("2026-12-01T15:59:00Z")),
            t("2026-12-01T16:00:00Z")
        );
        // 16:00 UTC is already tomorrow in Beijing.
        assert_eq!(
            end_of_local_day(t("2026-12-01T16:00:00Z")),
            t("2026-12-02T16:00:00Z")
        );
        let now = t("2026-12-01T02:00:00Z");
        let w = Worklist::DueToday.deadline_window(now).unwrap();
        assert_eq!(
            (w.from, w.before),
            (Some(now), Some(t("2026-12-01T16:00:00Z")))
        );
        let w = Worklist::Overdue.deadline_window(now).unwrap();
        assert_eq!((w.from, w.before), (None, Some(now)));
        assert!(Worklist::Critical.deadline_window(now).is_none());
    }
}
