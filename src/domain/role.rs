//! Roles and what each may do. Screening-centre roles see every hospital; hospital roles are
//! bound to one hospital and only ever see its data.

use serde::{Deserialize, Serialize};
use std::fmt;
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

impl Role {
    /// All roles, for messages and documentation.
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Coordinator,
        Role::Clinician,
        Role::Viewer,
        Role::HospitalClient,
        Role::HospitalStaff,
        Role::LabClient,
    ];

    /// The stable text form used in tokens and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Coordinator => "coordinator",
            Role::Clinician => "clinician",
            Role::Viewer => "viewer",
            Role::HospitalClient => "hospital_client",
            Role::HospitalStaff => "hospital_staff",
            Role::LabClient => "lab_client",
        }
    }

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
    pub fn reads_personal_data(self) -> bool {
        self != Role::LabClient
    }

    /// May register births and edit infants' contact details and status.
    /// May act on follow-up cases (and so be assigned one).
    pub fn works_cases(self) -> bool {
        matches!(self, Role::Admin | Role::Coordinator | Role::Clinician)
    }

    pub fn can_write_infants(self) -> bool {
        matches!(
            self,
            Role::Admin
                | Role::Coordinator
                | Role::Clinician
                | Role::HospitalClient
                | Role::HospitalStaff
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}; expected one of {}", Role::names()))
    }
}

impl Role {
    /// Comma-separated role names.
    pub fn names() -> String {
        Role::ALL.map(Role::as_str).join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        for r in Role::ALL {
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
            .into_iter()
            .filter(|r| r.is_hospital_bound())
            .collect();
        assert_eq!(bound, vec![Role::HospitalClient, Role::HospitalStaff]);
        assert!(!Role::Viewer.can_write_infants());
    }
}
