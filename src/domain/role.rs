//! Roles and what each may do. Screening-centre roles see every hospital; hospital roles are
//! bound to one hospital and only ever see its data.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// A principal's role, carried in its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Screening-centre administrator: accounts, hospitals, clients, everything else.
    Admin,
    /// Screening-centre follow-up staff.
    Coordinator,
    /// Clinician at the screening centre.
    Clinician,
    /// Read-only screening-centre access.
    Viewer,
    /// A hospital's REST client (machine).
    HospitalClient,
    /// A person working at one maternity hospital.
    HospitalStaff,
    /// The screening laboratory's REST client (machine): receipt, quality and results only.
    LabClient,
}

super::text_enum!(Role {
    Admin = "admin",
    Coordinator = "coordinator",
    Clinician = "clinician",
    Viewer = "viewer",
    HospitalClient = "hospital_client",
    HospitalStaff = "hospital_staff",
    LabClient = "lab_client",
});

impl Role {
    /// Whether this role is bound to a single hospital.
    pub fn is_hospital_bound(self) -> bool {
        matches!(self, Role::HospitalClient | Role::HospitalStaff)
    }

    /// Whether a staff user (a person with a password) may hold this role.
    pub fn is_user_role(self) -> bool {
        !matches!(self, Role::HospitalClient | Role::LabClient)
    }

    /// Whether this is a REST client's role.
    pub fn is_client_role(self) -> bool {
        matches!(self, Role::HospitalClient | Role::LabClient)
    }

    /// May read infants' personal data (the lab works from barcodes only).
    /// Whether this role may do `a`: the one permission table (see [`Action`]).
    pub fn may(self, a: Action) -> bool {
        use Role::*;
        let centre_staff = matches!(self, Admin | Coordinator | Clinician);
        match a {
            Action::ReadPersonalData => self != LabClient,
            Action::WriteInfants => centre_staff || self.is_hospital_bound(),
            Action::RecordLabResults => centre_staff || self == LabClient,
            Action::WorkCases | Action::RetryNotifications => centre_staff,
            Action::RecordContactAttempts => centre_staff || self.is_hospital_bound(),
            Action::RecordClinical => matches!(self, Admin | Clinician | HospitalStaff),
            Action::ManageEpisodes => centre_staff,
            Action::ManageAccounts
            | Action::PublishCatalogue
            | Action::MergeInfants
            | Action::RunJobs
            | Action::ReadAudit => self == Admin,
        }
    }
}

/// What a principal may be allowed to do. Scoping (which hospital's data) is separate: the
/// query layer applies the principal's `Scope` to every action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read infants, cases, worklists, screening summaries, cards, notifications and reports.
    ReadPersonalData,
    /// Register births and update infants; register cards; record hearing and heart screens,
    /// consents and hearing interventions.
    WriteInfants,
    /// Record card receipts and results (the laboratory's work).
    RecordLabResults,
    /// Act on follow-up cases (transitions, notes, assignment); be assigned one.
    WorkCases,
    /// Record a contact attempt on a case (case workers and the birth hospital).
    RecordContactAttempts,
    /// Record a management episode's measurements, treatment, and acknowledge its flags
    /// (clinicians, at the centre or the hospital).
    RecordClinical,
    /// Register, transfer, report and close management episodes; record a contact without
    /// measurements (the centre's coordinators and clinicians).
    ManageEpisodes,
    /// Queue a failed or cancelled notification again.
    RetryNotifications,
    /// Create and change hospitals, users and API clients.
    ManageAccounts,
    /// Publish a condition-catalogue version.
    PublishCatalogue,
    /// Merge duplicate infant records and undo merges.
    MergeInfants,
    /// See and run timed jobs.
    RunJobs,
    /// Read the audit trail.
    ReadAudit,
}

impl Action {
    /// Every action, in the order of the permission matrix.
    pub const ALL: [Action; 13] = [
        Action::ReadPersonalData,
        Action::WriteInfants,
        Action::RecordLabResults,
        Action::WorkCases,
        Action::RecordContactAttempts,
        Action::RecordClinical,
        Action::ManageEpisodes,
        Action::RetryNotifications,
        Action::ManageAccounts,
        Action::PublishCatalogue,
        Action::MergeInfants,
        Action::RunJobs,
        Action::ReadAudit,
    ];
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; expected one of {names}", names = Role::names())]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s).ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        for &r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn only_hospital_roles_are_bound() {
        let bound: Vec<_> = Role::ALL
            .iter()
            .copied()
            .filter(|r| r.is_hospital_bound())
            .collect();
        assert_eq!(bound, vec![Role::HospitalClient, Role::HospitalStaff]);
        assert!(!Role::Viewer.may(Action::WriteInfants));
    }

    /// The role × action matrix, printed for a clinical reviewer to sign off
    /// (`cargo test permission_matrix -- --nocapture`) and pinned here: a change to the table
    /// changes this test.
    #[test]
    fn permission_matrix() {
        let mut out = format!("{:<24}", "action");
        for &r in Role::ALL {
            out.push_str(&format!("{:>16}", r.as_str()));
        }
        out.push('\n');
        let mut rows = vec![];
        for a in Action::ALL {
            let mut line = format!("{:<24}", format!("{a:?}"));
            let mut row = String::new();
            for &r in Role::ALL {
                let yes = r.may(a);
                line.push_str(&format!("{:>16}", if yes { "yes" } else { "-" }));
                row.push(if yes { 'Y' } else { '.' });
            }
            out.push_str(&line);
            out.push('\n');
            rows.push(row);
        }
        println!("{out}");
        // Columns: admin, coordinator, clinician, viewer, hospital_client, hospital_staff,
        // lab_client.
        assert_eq!(
            rows,
            [
                "YYYYYY.", // ReadPersonalData
                "YYY.YY.", // WriteInfants
                "YYY...Y", // RecordLabResults
                "YYY....", // WorkCases
                "YYY.YY.", // RecordContactAttempts
                "Y.Y..Y.", // RecordClinical
                "YYY....", // ManageEpisodes
                "YYY....", // RetryNotifications
                "Y......", // ManageAccounts
                "Y......", // PublishCatalogue
                "Y......", // MergeInfants
                "Y......", // RunJobs
                "Y......", // ReadAudit
            ]
        );
    }
}
