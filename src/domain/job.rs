//! The timed jobs: one closed set, each with its name (the admin endpoint's and the config
//! key's) and how a server that was down catches it up.

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

#[cfg(test)]
mod tests {
    use super::*;

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
