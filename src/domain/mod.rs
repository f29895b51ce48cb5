//! Pure domain types and rules: no HTTP, no database, no I/O, so they test without either.

/// Gives a unit enum its one text form (the same as its serde name): `as_str`, `parse` and
/// `ALL`. `db::types` stores exactly this text; unknown text parses to `None`, never a default.
macro_rules! text_enum {
    ($t:ident { $($v:ident = $s:literal),+ $(,)? }) => {
        impl $t {
            /// Every value, in declaration order.
            pub const ALL: &'static [$t] = &[$($t::$v),+];
            /// The stored and wire text.
            pub fn as_str(self) -> &'static str {
                match self { $($t::$v => $s),+ }
            }
            /// The allowed texts, comma-separated, for error messages.
            pub fn names() -> String {
                [$($s),+].join(", ")
            }
            /// The value with this text, if any.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($t::$v),)+ _ => None }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

pub mod audit;
pub mod case;
pub mod catalogue;
pub mod cchd;
pub mod consent;
pub mod contact;
pub mod due;
pub mod escalation;
pub mod hearing;
pub mod hl7;
pub mod id_card;
pub mod ids;
pub mod infant;
pub mod interpretation;
pub mod job;
pub mod management;
pub mod mllp;
pub mod notification;
pub mod principal;
pub mod quality;
pub mod role;
pub mod session;
pub mod specimen;
pub mod validation;
pub mod worklist;

#[cfg(test)]
mod tests {
    /// Every closed set stored as text: its text is its serde name (one form for the database,
    /// the API and case keys), and parsing the text gives the value back.
    #[test]
    fn stored_text_is_the_serde_name() {
        macro_rules! check {
            ($($t:ty),+) => {$(
                for &v in <$t>::ALL {
                    assert_eq!(serde_json::to_value(v).unwrap(), v.as_str(), "{}", stringify!($t));
                    assert_eq!(<$t>::parse(v.as_str()), Some(v));
                }
                assert_eq!(<$t>::parse("no-such-value"), None);
            )+};
        }
        use super::*;
        check!(
            case::CaseState,
            audit::AuditAction,
            job::Job,
            specimen::Feeding,
            interpretation::CardOutcome,
            consent::Decision,
            hearing::HearingStage,
            hearing::HearingMethod,
            hearing::EarResult,
            hearing::InterventionKind,
            cchd::AuscultationMethod,
            cchd::AuscultationResult,
            case::Reason,
            case::EntryKind,
            case::EventKind,
            catalogue::Tier,
            catalogue::Programme,
            contact::Channel,
            contact::AttemptOutcome,
            escalation::Rung,
            id_card::IdDocumentType,
            infant::Sex,
            infant::InfantStatus,
            notification::Status,
            notification::Channel,
            notification::Audience,
            notification::ReceiptStatus,
            role::Role
        );
    }
}
