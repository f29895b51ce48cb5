//! The timed jobs: one closed set, each with its name (the admin endpoint's and the config
//! key's), how a server that was down catches it up, and which scheduled tick a run serves.

use chrono::{DateTime, SubsecRound, Utc};

/// A timed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    /// Fires every due rung of the escalation ladder.
    Escalation,
    /// Opens `missed` cases for infants past a programme's screening age.
    MissedScreens,
    /// Visit-day and overdue reminders to families.
    FamilyReminders,
    /// Each hospital's daily list of open and overdue cases.
    HospitalDigest,
    /// Delivers queued notifications.
    Dispatcher,
    /// The monthly quality scorecards.
    QualityScorecard,
    /// The weekly rebuild of the quality facts tables.
    QualityFacts,
    /// Forgets the raw text of HL7 messages past `hl7.raw_retention_days`.
    Hl7Retention,
}

/// How a job is caught up when a server starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// A sweep over stored state: run at once.
    Always,
    /// A periodic message: run when its last run is older than a day.
    WhenStale,
    /// A safety net that start-up covers another way: wait for the next tick.
    Never,
}

super::text_enum!(Job {
    Escalation = "escalation",
    MissedScreens = "missed_screens",
    FamilyReminders = "family_reminders",
    HospitalDigest = "hospital_digest",
    Dispatcher = "dispatcher",
    QualityScorecard = "quality_scorecard",
    QualityFacts = "quality_facts",
    Hl7Retention = "hl7_retention",
});

impl Job {
    /// The job's name: the admin endpoint's path segment, its `[jobs]` config key and its
    /// stored name.
    pub fn name(self) -> &'static str {
        self.as_str()
    }

    /// How a starting server catches the job up.
    pub fn catch_up(self) -> CatchUp {
        match self {
            Job::Escalation | Job::MissedScreens | Job::Dispatcher | Job::Hl7Retention => {
                CatchUp::Always
            }
            Job::FamilyReminders | Job::HospitalDigest | Job::QualityScorecard => {
                CatchUp::WhenStale
            }
            // Start-up fills missing facts; a missed weekly rebuild waits for its next run.
            Job::QualityFacts => CatchUp::Never,
        }
    }
}

/// The scheduled time a tick firing at `fired_at` serves: of the times of `cron` (six fields,
/// seconds first, UTC) just before and just after `fired_at`, the nearer. A tick fires a little
/// after its time, or a little before it on a server whose clock runs ahead; either way every
/// server names it alike, which is the key that lets only one of them run it. `None` when
/// `cron` does not parse.
pub fn tick_at(cron: &str, fired_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let schedule = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(cron)
        .ok()?;
    let before = schedule.find_previous_occurrence(&fired_at, true).ok();
    let after = schedule.find_next_occurrence(&fired_at, false).ok();
    let nearest = match (before, after) {
        (Some(b), Some(a)) if a - fired_at < fired_at - b => a,
        (Some(b), _) => b,
        (None, a) => a?,
    };
    Some(nearest.trunc_subsecs(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn servers_firing_one_tick_name_it_alike() {
        // Every minute: fired a little late, or a little early by a clock running ahead.
        let every_minute = "0 * * * * *";
        for fired in [
            "2026-12-01T12:00:00.004Z",
            "2026-12-01T12:00:00.900Z",
            "2026-12-01T11:59:58.500Z",
        ] {
            assert_eq!(
                tick_at(every_minute, at(fired)),
                Some(at("2026-12-01T12:00:00Z")),
                "{fired}"
            );
        }
        // The next tick is another key.
        assert_eq!(
            tick_at(every_minute, at("2026-12-01T12:01:00.010Z")),
            Some(at("2026-12-01T12:01:00Z"))
        );
        // Every 5 s (the dispatcher) and a weekly job.
        assert_eq!(
            tick_at("*/5 * * * * *", at("2026-12-01T12:00:07.100Z")),
            Some(at("2026-12-01T12:00:05Z"))
        );
        assert_eq!(
            tick_at("0 0 19 * * Sun", at("2026-12-06T19:00:00.300Z")),
            Some(at("2026-12-06T19:00:00Z"))
        );
        assert_eq!(tick_at("not a schedule", at("2026-12-06T19:00:00Z")), None);
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        for &j in Job::ALL {
            assert_eq!(Job::parse(j.name()), Some(j));
        }
        let mut names: Vec<_> = Job::ALL.iter().map(|j| j.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Job::ALL.len());
        assert_eq!(Job::parse("nope"), None);
    }
}
