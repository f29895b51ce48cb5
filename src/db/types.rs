//! How domain values are stored: the only module that knows. Every column type here is TEXT or
//! TIMESTAMP in both schemas, so nothing in the stored data changes; what changes is that rows
//! read like the domain (`state: CaseState`, `recall_due_at: UtcMicros`) and that a stored value
//! the code does not know is a read error, never a silent default.
//!
//! - Closed sets (`CaseState`, `Tier`, …) are stored as their `as_str` text ([`text_enum!`]
//!   in `domain`), which is also their serde name.
//! - Entity ids are stored as hyphenated UUID text.
//! - [`UtcMicros`] is a UTC instant truncated to microseconds (what both backends keep), so a
//!   value written and read back compares equal.
//! - [`Json`] is a TEXT column holding JSON, decoded once on read; a value that does not decode
//!   is an error.
//!
//! Each type gets `AsExpression`/`FromSqlRow` through diesel's `foreign_derive` (the domain
//! stays free of diesel) and `ToSql`/`FromSql` for SQLite, PostgreSQL and the `MultiBackend` of
//! [`AnyConnection`](super::AnyConnection).

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Text, Timestamp};
use diesel::sqlite::Sqlite;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::MultiBackend;

/// `AsExpression` and `FromSqlRow` for a domain type stored as TEXT, through diesel's
/// `foreign_derive` on a proxy (the type itself stays free of diesel).
macro_rules! text_expression {
    ($t:path) => {
        #[derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(foreign_derive)]
        #[diesel(sql_type = Text)]
        #[allow(dead_code)]
        struct Proxy($t);
    };
}

/// Stores closed sets as their text: `ToSql` through `&'static str`, `FromSql` through
/// `String` then `parse`, for every backend at once.
macro_rules! text_columns {
    ($($t:path),+ $(,)?) => {$(
        const _: () = {
            text_expression!($t);

            impl<DB: Backend> ToSql<Text, DB> for $t
            where
                str: ToSql<Text, DB>,
            {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                    self.as_str().to_sql(out)
                }
            }

            impl<DB: Backend> FromSql<Text, DB> for $t
            where
                String: FromSql<Text, DB>,
            {
                fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                    let s = String::from_sql(bytes)?;
                    <$t>::parse(&s).ok_or_else(|| {
                        format!("unknown {} {s:?} in the database", stringify!($t)).into()
                    })
                }
            }
        };
    )+};
}

/// Stores ids (and other values with `Display`/`FromStr`) as text. PostgreSQL writes the text
/// into the bind buffer, SQLite binds an owned string, and `MultiBackend` forwards to either.
macro_rules! display_columns {
    ($($t:path),+ $(,)?) => {$(
        const _: () = {
            text_expression!($t);

            impl ToSql<Text, Pg> for $t {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                    use std::io::Write;
                    write!(out, "{self}")?;
                    Ok(IsNull::No)
                }
            }

            impl ToSql<Text, Sqlite> for $t {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                    out.set_value(self.to_string());
                    Ok(IsNull::No)
                }
            }

            impl ToSql<Text, MultiBackend> for $t {
                fn to_sql<'b>(
                    &'b self,
                    out: &mut Output<'b, '_, MultiBackend>,
                ) -> serialize::Result {
                    out.set_value((Text, self));
                    Ok(IsNull::No)
                }
            }

            impl<DB: Backend> FromSql<Text, DB> for $t
            where
                String: FromSql<Text, DB>,
            {
                fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                    let s = String::from_sql(bytes)?;
                    s.parse::<$t>().map_err(|e| {
                        format!("bad {} {s:?} in the database: {e}", stringify!($t)).into()
                    })
                }
            }
        };
    )+};
}

use crate::domain::audit::AuditAction;
use crate::domain::case::{CaseState, EntryKind, Reason};
use crate::domain::catalogue::{Programme, Tier};
use crate::domain::cchd::{AuscultationMethod, AuscultationResult};
use crate::domain::consent::Decision;
use crate::domain::contact::{AttemptOutcome, Channel as ContactChannel};
use crate::domain::escalation::Rung;
use crate::domain::hearing::{EarResult, HearingMethod, HearingStage, InterventionKind};
use crate::domain::id_card::IdDocumentType;
use crate::domain::ids::{
    ApiClientId, CardId, CaseId, ContactId, EpisodeId, HospitalId, InfantId, NotificationId, UserId,
};
use crate::domain::infant::{InfantStatus, Sex};
use crate::domain::interpretation::CardOutcome;
use crate::domain::job::Job;
use crate::domain::management::plan::ContactKind;
use crate::domain::management::{ContactRung, EpisodeState, Origin, TreatmentKind};
use crate::domain::notification::{Audience, Channel, Status as NotificationStatus};
use crate::domain::role::Role;
use crate::domain::specimen::Feeding;

text_columns!(
    EpisodeState,
    Origin,
    TreatmentKind,
    ContactRung,
    ContactKind,
    Job,
    AuditAction,
    Feeding,
    CardOutcome,
    Decision,
    HearingStage,
    HearingMethod,
    EarResult,
    InterventionKind,
    AuscultationMethod,
    AuscultationResult,
    ContactChannel,
    AttemptOutcome,
    CaseState,
    EntryKind,
    Reason,
    Programme,
    Tier,
    Rung,
    IdDocumentType,
    Sex,
    InfantStatus,
    NotificationStatus,
    Channel,
    Audience,
    Role,
);

display_columns!(
    HospitalId,
    UserId,
    ApiClientId,
    InfantId,
    CaseId,
    CardId,
    NotificationId,
    EpisodeId,
    ContactId,
);

/// A UTC instant at the microsecond precision both databases keep (TIMESTAMP without zone,
/// always UTC). Built from a `DateTime<Utc>` (truncating), read back as one.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = Timestamp)]
pub struct UtcMicros(NaiveDateTime);

impl UtcMicros {
    /// `at`, truncated to microseconds.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(at.naive_utc().trunc_subsecs(6))
    }

    /// The instant.
    pub fn utc(self) -> DateTime<Utc> {
        self.0.and_utc()
    }
}

impl From<DateTime<Utc>> for UtcMicros {
    fn from(at: DateTime<Utc>) -> Self {
        Self::new(at)
    }
}

impl From<UtcMicros> for DateTime<Utc> {
    fn from(at: UtcMicros) -> Self {
        at.utc()
    }
}

impl fmt::Display for UtcMicros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.utc().fmt(f)
    }
}

impl Serialize for UtcMicros {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.utc().serialize(s)
    }
}

impl<'de> Deserialize<'de> for UtcMicros {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DateTime::<Utc>::deserialize(d).map(Self::new)
    }
}

impl ToSql<Timestamp, Pg> for UtcMicros {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        ToSql::<Timestamp, Pg>::to_sql(&self.0, out)
    }
}

/// The text diesel writes, without chrono's format interpreter ([`super::sqlite_time`]).
impl ToSql<Timestamp, Sqlite> for UtcMicros {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(super::sqlite_time::format(&self.0));
        Ok(IsNull::No)
    }
}

impl ToSql<Timestamp, MultiBackend> for UtcMicros {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Timestamp, self));
        Ok(IsNull::No)
    }
}

impl FromSql<Timestamp, Pg> for UtcMicros {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(bytes).map(|n| Self(n.trunc_subsecs(6)))
    }
}

/// The shape [`super::sqlite_time`] writes is read directly; any other goes to diesel.
impl FromSql<Timestamp, Sqlite> for UtcMicros {
    fn from_sql(mut bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let direct = match bytes.value_type() {
            Some(diesel::sqlite::SqliteType::Text) => super::sqlite_time::parse(bytes.read_text()),
            _ => None,
        };
        match direct {
            Some(n) => Ok(Self(n.trunc_subsecs(6))),
            None => <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(bytes)
                .map(|n| Self(n.trunc_subsecs(6))),
        }
    }
}

impl FromSql<Timestamp, MultiBackend> for UtcMicros {
    fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<Self, Timestamp>()
    }
}

/// A TEXT column holding JSON, decoded once on read into `T`; text that does not decode into `T`
/// is a read error.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Default,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = Text)]
pub struct Json<T>(pub T);

impl<T: Serialize + fmt::Debug> ToSql<Text, Pg> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        serde_json::to_writer(out, &self.0)?;
        Ok(IsNull::No)
    }
}

impl<T: Serialize + fmt::Debug> ToSql<Text, Sqlite> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl<T: Serialize + fmt::Debug + Send + Sync + 'static> ToSql<Text, MultiBackend> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Text, self));
        Ok(IsNull::No)
    }
}

impl<T: DeserializeOwned, DB: Backend> FromSql<Text, DB> for Json<T>
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let s = String::from_sql(bytes)?;
        serde_json::from_str(&s).map(Json).map_err(|e| {
            format!(
                "stored JSON does not decode as {}: {e}",
                std::any::type_name::<T>()
            )
            .into()
        })
    }
}

impl<T: Serialize> Serialize for Json<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Json<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Json)
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::{Nullable, Text, Timestamp};

    use super::*;
    use crate::db::AnyConnection;

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        state: CaseState,
        #[diesel(sql_type = Nullable<Text>)]
        rung: Option<Rung>,
        #[diesel(sql_type = Text)]
        id: CaseId,
        #[diesel(sql_type = Timestamp)]
        at: UtcMicros,
        #[diesel(sql_type = Text)]
        codes: Json<Vec<String>>,
    }

    fn conn() -> AnyConnection {
        crate::db::establish(":memory:").unwrap()
    }

    #[test]
    fn values_round_trip_through_the_database() {
        let mut c = conn();
        let id = CaseId::new();
        let at = UtcMicros::new(
            "2026-12-01T08:30:00.123456789Z"
                .parse::<DateTime<Utc>>()
                .unwrap(),
        );
        let row: Row =
            diesel::sql_query("SELECT ? AS state, ? AS rung, ? AS id, ? AS at, ? AS codes")
                .bind::<Text, _>(CaseState::RecallScheduled)
                .bind::<Nullable<Text>, _>(Some(Rung::L2))
                .bind::<Text, _>(id)
                .bind::<Timestamp, _>(at)
                .bind::<Text, _>(Json(vec!["PKU".to_string()]))
                .get_result(&mut c)
                .unwrap();
        assert_eq!(row.state, CaseState::RecallScheduled);
        assert_eq!(row.rung, Some(Rung::L2));
        assert_eq!(row.id, id);
        assert_eq!(row.at, at);
        assert_eq!(row.at.utc().timestamp_subsec_nanos(), 123_456_000);
        assert_eq!(row.codes.0, vec!["PKU".to_string()]);
    }

    #[test]
    fn unknown_stored_text_is_an_error_not_a_default() {
        #[derive(QueryableByName, Debug)]
        struct Tiered {
            #[allow(dead_code)]
            #[diesel(sql_type = Text)]
            tier: Tier,
        }
        #[derive(QueryableByName, Debug)]
        struct Coded {
            #[allow(dead_code)]
            #[diesel(sql_type = Text)]
            codes: Json<Vec<String>>,
        }
        #[derive(QueryableByName, Debug)]
        struct Ided {
            #[allow(dead_code)]
            #[diesel(sql_type = Text)]
            id: InfantId,
        }
        let mut c = conn();
        let err = diesel::sql_query("SELECT 'T9' AS tier")
            .get_result::<Tiered>(&mut c)
            .unwrap_err();
        assert!(err.to_string().contains("unknown Tier \"T9\""), "{err}");
        let err = diesel::sql_query("SELECT '{\"a\":1}' AS codes")
            .get_result::<Coded>(&mut c)
            .unwrap_err();
        assert!(err.to_string().contains("does not decode"), "{err}");
        let err = diesel::sql_query("SELECT 'not-an-id' AS id")
            .get_result::<Ided>(&mut c)
            .unwrap_err();
        assert!(err.to_string().contains("bad InfantId"), "{err}");
    }
}
