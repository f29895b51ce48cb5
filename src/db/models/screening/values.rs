//! `dbs_card_values`: a card's analyte values, one row per card. Its `panel` is a JSON object,
//! analyte → `[value, unit, reported_at, tested_at]`: a card's values are written and read whole
//! (a laboratory reports a card's panel; a correction merges into it), and one row per value
//! cost 40 row and index insertions and, on PostgreSQL, 40 foreign-key checks per first result
//! (about a third of the write path's database time). The view `dbs_results` shows one row per
//! value to SQL readers (reports, a DBA).

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};

use crate::db::AnyConnection;
use crate::db::schema::dbs_card_values;
use crate::db::types::{Json, UtcMicros};
use crate::domain::ids::CardId;

/// One analyte value.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub card_id: CardId,
    pub analyte: String,
    pub value: f64,
    pub unit: String,
    pub reported_at: UtcMicros,
    pub tested_at: Option<UtcMicros>,
}

/// A value as its panel holds it: `[value, unit, reported_at, tested_at]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Stored(f64, String, UtcMicros, Option<UtcMicros>);

/// A card's row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = dbs_card_values)]
struct Panel {
    card_id: CardId,
    panel: Json<BTreeMap<String, Stored>>,
}

impl Panel {
    /// The values, in analyte order.
    fn rows(self) -> impl Iterator<Item = ResultRow> {
        let card_id = self.card_id;
        self.panel.0.into_iter().map(
            move |(analyte, Stored(value, unit, reported_at, tested_at))| ResultRow {
                card_id,
                analyte,
                value,
                unit,
                reported_at,
                tested_at,
            },
        )
    }
}

/// `rows` as one panel per card, in first-seen card order.
fn panels(rows: &[ResultRow]) -> Vec<Panel> {
    let mut out: Vec<Panel> = Vec::new();
    for r in rows {
        let stored = Stored(r.value, r.unit.clone(), r.reported_at, r.tested_at);
        match out.iter_mut().find(|p| p.card_id == r.card_id) {
            Some(p) => {
                p.panel.0.insert(r.analyte.clone(), stored);
            }
            None => out.push(Panel {
                card_id: r.card_id,
                panel: Json(BTreeMap::from([(r.analyte.clone(), stored)])),
            }),
        }
    }
    out
}

/// Stores values: a card's first values insert its row; later ones merge into it, a value of
/// an analyte the card has replacing the old one (a corrected value supersedes it). One
/// statement per card, atomic under concurrent writers of the same card (the merge reads the
/// row as it is when the statement takes it).
pub fn store(conn: &mut AnyConnection, rows: &[ResultRow]) -> QueryResult<()> {
    for upsert in upserts(rows) {
        crate::with_conn!(conn, |c| upsert.execute(c))?;
    }
    Ok(())
}

/// [`store`]'s statements, one per card: on PostgreSQL a caller may run them in a later
/// insert's statement instead (`sql::insert_then_riding`: one round trip fewer per result).
pub fn upserts(rows: &[ResultRow]) -> Vec<PanelUpsert> {
    panels(rows).into_iter().map(PanelUpsert).collect()
}

/// One card's panel inserted, or merged into its row: the new values replace the old ones of
/// their analytes. Its own statement text because diesel never caches an upsert that updates
/// (PostgreSQL parsed and planned it, with the statement it rides in, on every result).
pub struct PanelUpsert(Panel);

impl PanelUpsert {
    fn walk<'b, DB>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
        merge: &'static str,
    ) -> QueryResult<()>
    where
        DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<Text>,
        CardId: diesel::serialize::ToSql<Text, DB>,
        Json<BTreeMap<String, Stored>>: diesel::serialize::ToSql<Text, DB>,
    {
        out.push_sql("INSERT INTO dbs_card_values (card_id, panel) VALUES (");
        out.push_bind_param::<Text, _>(&self.0.card_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.0.panel)?;
        out.push_sql(") ON CONFLICT (card_id) DO UPDATE SET panel = ");
        out.push_sql(merge);
        Ok(())
    }
}

impl diesel::query_builder::QueryId for PanelUpsert {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for PanelUpsert {
    fn walk_ast<'b>(
        &'b self,
        out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        self.walk(
            out,
            "(dbs_card_values.panel::jsonb || excluded.panel::jsonb)::text",
        )
    }
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for PanelUpsert {
    fn walk_ast<'b>(
        &'b self,
        out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        self.walk(out, "json_patch(dbs_card_values.panel, excluded.panel)")
    }
}

impl<Conn> RunQueryDsl<Conn> for PanelUpsert {}

/// Cards per statement when values are read in sets.
const CARDS_PER_QUERY: usize = 500;

/// The values of these cards, in one query per [`CARDS_PER_QUERY`] cards.
pub fn of_cards(conn: &mut AnyConnection, ids: &[CardId]) -> QueryResult<Vec<ResultRow>> {
    let mut out = Vec::new();
    for part in ids.chunks(CARDS_PER_QUERY) {
        let found: Vec<Panel> = dbs_card_values::table
            .filter(dbs_card_values::card_id.eq_any(part))
            .select(Panel::as_select())
            .load(conn)?;
        out.extend(found.into_iter().flat_map(Panel::rows));
    }
    Ok(out)
}

/// All values of a card, in analyte order.
pub fn of_card(conn: &mut AnyConnection, card_id: CardId) -> QueryResult<Vec<ResultRow>> {
    let found: Option<Panel> = crate::by_key!(
        conn,
        dbs_card_values::table
            .find(card_id)
            .select(Panel::as_select())
    )?;
    Ok(found.into_iter().flat_map(Panel::rows).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(card: CardId, analyte: &str, value: f64) -> ResultRow {
        ResultRow {
            card_id: card,
            analyte: analyte.into(),
            value,
            unit: "umol/L".into(),
            reported_at: UtcMicros::new(chrono::Utc::now()),
            tested_at: None,
        }
    }

    #[test]
    fn values_group_into_one_panel_per_card_and_read_back_in_analyte_order() {
        let (a, b) = (CardId::new(), CardId::new());
        let rows = vec![row(a, "TSH", 1.0), row(b, "PHE", 2.0), row(a, "C0", 3.0)];
        let ps = panels(&rows);
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].card_id, a);
        let back: Vec<ResultRow> = ps.into_iter().flat_map(Panel::rows).collect();
        assert_eq!(
            back,
            vec![rows[2].clone(), rows[0].clone(), rows[1].clone()]
        );
    }

    #[test]
    fn a_stored_value_is_a_four_element_array() {
        let r = row(CardId::new(), "TSH", 12.5);
        let json = serde_json::to_value(Stored(r.value, r.unit, r.reported_at, None)).unwrap();
        assert_eq!(json[0], 12.5);
        assert_eq!(json[1], "umol/L");
        assert!(json[2].as_str().unwrap().ends_with('Z'));
        assert!(json[3].is_null());
    }

    #[test]
    fn the_values_upsert_is_a_cached_prepared_statement_on_both_databases() {
        use diesel::query_builder::QueryFragment;
        let rows = [row(CardId::new(), "TSH", 12.5)];
        let upserts = upserts(&rows);
        assert_eq!(upserts.len(), 1);
        let pg: &dyn QueryFragment<diesel::pg::Pg> = &upserts[0];
        assert!(pg.is_safe_to_cache_prepared(&diesel::pg::Pg).unwrap());
        let sqlite: &dyn QueryFragment<diesel::sqlite::Sqlite> = &upserts[0];
        assert!(
            sqlite
                .is_safe_to_cache_prepared(&diesel::sqlite::Sqlite)
                .unwrap()
        );
    }
}
