//! `catalogue_versions`: every published catalogue, immutable once stored.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::catalogue_versions;
use crate::db::types::UtcMicros;

/// A stored catalogue version; `content` is the catalogue as JSON.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = catalogue_versions)]
pub struct CatalogueVersion {
    pub version: String,
    pub jurisdiction: String,
    pub effective_from: NaiveDate,
    pub content: String,
    pub published_by: String,
    pub published_at: UtcMicros,
}

/// Stores a version.
pub fn insert(conn: &mut AnyConnection, row: &CatalogueVersion) -> QueryResult<()> {
    diesel::insert_into(catalogue_versions::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Reads one version.
pub fn get(conn: &mut AnyConnection, version: &str) -> QueryResult<Option<CatalogueVersion>> {
    catalogue_versions::table
        .find(version)
        .select(CatalogueVersion::as_select())
        .first(conn)
        .optional()
}

/// All versions, newest effective first.
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<CatalogueVersion>> {
    catalogue_versions::table
        .order((
            catalogue_versions::effective_from.desc(),
            catalogue_versions::published_at.desc(),
        ))
        .select(CatalogueVersion::as_select())
        .load(conn)
}
