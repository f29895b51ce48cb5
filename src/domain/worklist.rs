//! The worklists staff work from: one closed set with each list's name.

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
}
