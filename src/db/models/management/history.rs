//! `management_treatments` (a history: each change is a row) and `management_events` (the
//! episode's timeline).

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{management_events, management_treatments};
use crate::db::types::{Json, UtcMicros};
use crate::domain::ids::EpisodeId;
use crate::domain::management::TreatmentKind;

/// A treatment start or change.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = management_treatments)]
pub struct Treatment {
    pub id: String,
    pub episode_id: EpisodeId,
    pub kind: TreatmentKind,
    pub regimen: String,
    pub prescriber: String,
    pub started_at: UtcMicros,
    pub recorded_by: String,
    pub recorded_at: UtcMicros,
}

/// A timeline entry.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = management_events)]
pub struct Event {
    pub id: String,
    pub episode_id: EpisodeId,
    pub kind: String,
    pub detail: Json<serde_json::Value>,
    pub actor: String,
    pub at: UtcMicros,
}

/// Inserts a treatment.
pub fn insert_treatment(conn: &mut AnyConnection, t: &Treatment) -> QueryResult<()> {
    diesel::insert_into(management_treatments::table)
        .values(t)
        .execute(conn)
        .map(|_| ())
}

/// An episode's treatments, in order.
pub fn treatments_of(conn: &mut AnyConnection, id: EpisodeId) -> QueryResult<Vec<Treatment>> {
    management_treatments::table
        .filter(management_treatments::episode_id.eq(id))
        .order((
            management_treatments::started_at.asc(),
            management_treatments::id.asc(),
        ))
        .select(Treatment::as_select())
        .load(conn)
}

/// Appends timeline entries.
pub fn insert_events(conn: &mut AnyConnection, rows: &[Event]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    crate::with_conn!(conn, |c| diesel::insert_into(management_events::table)
        .values(rows)
        .execute(c))
    .map(|_| ())
}

/// An episode's timeline, in order.
pub fn events_of(conn: &mut AnyConnection, id: EpisodeId) -> QueryResult<Vec<Event>> {
    management_events::table
        .filter(management_events::episode_id.eq(id))
        .order((management_events::at.asc(), management_events::id.asc()))
        .select(Event::as_select())
        .load(conn)
}
