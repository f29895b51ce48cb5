//! Typed identifiers. Every entity id is a UUIDv7 (time-ordered, so ids sort by creation and
//! make stable pagination cursors) wrapped in its own type so ids of different entities cannot
//! be swapped by mistake.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A maternity hospital.
    HospitalId
);
id_type!(
    /// A staff user account.
    UserId
);
id_type!(
    /// A hospital's REST API client (the row id, not the public `client_id`).
    ApiClientId
);
id_type!(
    /// A registered infant.
    InfantId
);

id_type!(
    /// A follow-up case.
    CaseId
);
id_type!(
    /// A dried blood spot card.
    CardId
);
id_type!(
    /// A queued e-mail or SMS.
    NotificationId
);
id_type!(
    /// A long-term management episode (one infant, one condition).
    EpisodeId
);
id_type!(
    /// A scheduled follow-up contact of a management episode.
    ContactId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_by_creation() {
        let a = InfantId::new();
        let b = InfantId::new();
        assert!(a < b);
        assert_eq!(a.to_string().parse::<InfantId>().unwrap(), a);
        assert!("not-a-uuid".parse::<InfantId>().is_err());
    }
}
