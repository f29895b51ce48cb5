//! `dbs_cards`, `dbs_interpretations`: blood-spot cards and every interpretation made of them
//! (their values: [`super::values`]). Card reads and writes take a [`Scope`].

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::models::screening::infant::Infant;
use crate::db::schema::{dbs_card_values, dbs_cards, dbs_interpretations, infants};
use crate::db::types::{Json, UtcMicros};
use crate::domain::catalogue::Tier;
use crate::domain::ids::{CardId, HospitalId, InfantId};
use crate::domain::interpretation::{CardOutcome, Interpretation};
use crate::domain::principal::Scope;
use crate::domain::specimen::Feeding;

/// A card row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = dbs_cards)]
pub struct Card {
    pub id: CardId,
    pub infant_id: InfantId,
    pub hospital_id: HospitalId,
    pub barcode: String,
    pub collected_at: UtcMicros,
    pub feeding: Feeding,
    pub transfusion: bool,
    pub tpn: bool,
    pub antibiotics: bool,
    pub collector: String,
    pub repeat_of: Option<CardId>,
    pub received_at: Option<UtcMicros>,
    pub quality: Option<String>,
    pub quality_recorded_at: Option<UtcMicros>,
    pub created_by: String,
    pub created_at: UtcMicros,
    pub updated_at: UtcMicros,
}

/// One interpretation; `detail` is the engine's output as JSON.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = dbs_interpretations)]
pub struct InterpretationRow {
    pub id: String,
    pub card_id: CardId,
    pub catalogue_version: String,
    pub outcome: CardOutcome,
    pub tier: Option<Tier>,
    pub detail: Json<Interpretation>,
    pub interpreted_at: UtcMicros,
}

/// Inserts a card and updates its quality facts (one statement on PostgreSQL, where the caller
/// holds its infant's lock: `infant::get_for_write`).
pub fn insert_card(conn: &mut AnyConnection, row: &Card) -> QueryResult<()> {
    use crate::db::models::quality::touch;
    let insert = diesel::insert_into(dbs_cards::table).values(row);
    if conn.backend() == crate::db::Backend::Postgres {
        // The card and its facts in one statement.
        let then = touch::new_card_pg(row.infant_id, row.id);
        let (_, written) = crate::db::sql::insert_then(conn, insert, then.as_ref())?;
        return match written {
            Some(n) => touch::new_card_written(conn, row.infant_id, n),
            None => Ok(()),
        };
    }
    insert.execute(conn)?;
    touch::new_card(conn, row.infant_id, row.id)
}

/// A card by id within `scope`: probed by its key alone, the scope checked on the row (see
/// `infant::get`).
pub fn get_card(conn: &mut AnyConnection, scope: &Scope, id: CardId) -> QueryResult<Option<Card>> {
    let row: Option<Card> =
        crate::by_key!(conn, dbs_cards::table.find(id).select(Card::as_select()))?;
    Ok(row.filter(|c| scope.allows(c.hospital_id)))
}

/// A card by barcode within `scope`.
pub fn find_by_barcode(
    conn: &mut AnyConnection,
    scope: &Scope,
    barcode: &str,
) -> QueryResult<Vec<Card>> {
    let mut q = dbs_cards::table
        .filter(dbs_cards::barcode.eq(barcode))
        .into_boxed();
    q = crate::scoped!(q, scope, dbs_cards::hospital_id);
    // Barcodes are unique per hospital: two rows mean two hospitals used it.
    q.select(Card::as_select()).limit(2).load(conn)
}

/// The card of an infant with this barcode.
pub fn find_of_infant(
    conn: &mut AnyConnection,
    infant_id: InfantId,
    barcode: &str,
) -> QueryResult<Option<Card>> {
    dbs_cards::table
        .filter(dbs_cards::infant_id.eq(infant_id))
        .filter(dbs_cards::barcode.eq(barcode))
        .select(Card::as_select())
        .first(conn)
        .optional()
}

/// An infant's cards, oldest first, within `scope`.
pub fn cards_of_infant(
    conn: &mut AnyConnection,
    scope: &Scope,
    infant_id: InfantId,
) -> QueryResult<Vec<Card>> {
    let mut q = dbs_cards::table
        .filter(dbs_cards::infant_id.eq(infant_id))
        .into_boxed();
    q = crate::scoped!(q, scope, dbs_cards::hospital_id);
    q.order(dbs_cards::collected_at.asc())
        .select(Card::as_select())
        .load(conn)
}

/// Records receipt and quality.
pub fn set_receipt(
    conn: &mut AnyConnection,
    id: CardId,
    received_at: UtcMicros,
    quality: &str,
    now: UtcMicros,
) -> QueryResult<usize> {
    let n = match conn {
        // diesel prepares no update: this one is written once per connection.
        AnyConnection::Postgresql(c) => SetReceipt {
            id,
            received_at,
            quality,
            now,
        }
        .execute(c)?,
        AnyConnection::Sqlite(c) => diesel::update(dbs_cards::table.find(id))
            .set((
                dbs_cards::received_at.eq(Some(received_at)),
                dbs_cards::quality.eq(Some(quality)),
                dbs_cards::quality_recorded_at.eq(Some(now)),
                dbs_cards::updated_at.eq(now),
            ))
            .execute(c)?,
    };
    crate::db::models::quality::facts::touch_card(conn, id)?;
    Ok(n)
}

/// A card's receipt as a statement diesel prepares once per connection (its update statements
/// are parsed and planned on every call).
struct SetReceipt<'a> {
    id: CardId,
    received_at: UtcMicros,
    quality: &'a str,
    now: UtcMicros,
}

impl diesel::query_builder::QueryId for SetReceipt<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for SetReceipt<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Text, Timestamp};
        out.push_sql("UPDATE dbs_cards SET received_at = ");
        out.push_bind_param::<Timestamp, _>(&self.received_at)?;
        out.push_sql(", quality = ");
        out.push_bind_param::<Text, _>(&self.quality)?;
        out.push_sql(", quality_recorded_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(&self.id)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for SetReceipt<'_> {}

/// A card and its infant by barcode (laboratory paths, which see every card): on SQLite one
/// join; on PostgreSQL one statement of index probes only (see
/// [`card_with_infant_and_values`]).
pub fn card_with_infant(
    conn: &mut AnyConnection,
    barcode: &str,
) -> QueryResult<Vec<(Card, Infant)>> {
    match conn {
        AnyConnection::Postgresql(c) => Ok(CardWithInfantPg::new(barcode, false)
            .load::<(Card, Infant, bool)>(c)?
            .into_iter()
            .map(|(card, infant, _)| (card, infant))
            .collect()),
        AnyConnection::Sqlite(c) => dbs_cards::table
            .inner_join(infants::table)
            .filter(dbs_cards::barcode.eq(barcode))
            .select((Card::as_select(), Infant::as_select()))
            // No `LIMIT ?`: see `crate::by_key!` (a barcode is on one card per hospital).
            .load(c),
    }
}

/// [`card_with_infant`] and whether the card has stored values yet: a receipt or a first result
/// (the usual cases) then needs no read of them. Run on the connection itself (see
/// `crate::by_key!`): a laboratory's every result reads this.
///
/// On PostgreSQL a statement is planned once per connection, and a plan made while the tables
/// were small and had no statistics is kept for as long as the connection lives. Two plans made
/// so were seen in the write bench (`auto_explain`), each in some runs and not others: the join
/// as a hash over every infant (the barcode's default estimate of five cards made a probe per
/// card look dearer), and `EXISTS` over the values as a sequential scan (it expects an early
/// match; a new card has none), so that every first result read every stored infant or value
/// (35-160 buffers and ≈ 1.2 ms instead of 9 buffers and 0.04 ms per read; those runs made
/// 15-25 % fewer groups/s). So on PostgreSQL ([`CardWithInfantPg`]) the infant is a `LATERAL`
/// subquery that cannot be flattened into a join (`OFFSET 0`): a probe by key per card, never a
/// hash over every infant; and the card's values row is another such probe, by its key.
pub fn card_with_infant_and_values(
    conn: &mut AnyConnection,
    barcode: &str,
) -> QueryResult<Vec<(Card, Infant, bool)>> {
    match conn {
        AnyConnection::Postgresql(c) => CardWithInfantPg::new(barcode, true).load(c),
        AnyConnection::Sqlite(c) => {
            let has_values = diesel::dsl::exists(
                dbs_card_values::table.filter(dbs_card_values::card_id.eq(dbs_cards::id)),
            );
            dbs_cards::table
                .inner_join(infants::table)
                .filter(dbs_cards::barcode.eq(barcode))
                .select((Card::as_select(), Infant::as_select(), has_values))
                .load(c)
        }
    }
}

/// The cards of a barcode, each with its infant and (when `values`) whether it has stored
/// values, as PostgreSQL reads them in one statement whatever the statistics (see
/// [`card_with_infant_and_values`]): the infant a `LATERAL` probe by key named like its table,
/// so the columns `Infant::as_select()` spells read from it.
struct CardWithInfantPg<'a> {
    barcode: &'a str,
    values: bool,
}

impl<'a> CardWithInfantPg<'a> {
    fn new(barcode: &'a str, values: bool) -> Self {
        Self { barcode, values }
    }
}

impl diesel::query_builder::QueryId for CardWithInfantPg<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for CardWithInfantPg<'_> {
    type SqlType = (
        diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<Card, diesel::pg::Pg>>,
        diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<Infant, diesel::pg::Pg>>,
        diesel::sql_types::Bool,
    );
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for CardWithInfantPg<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        // The select lists as diesel spells them (positions match what `Card` and `Infant`
        // load), built once.
        static LISTS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let lists = match LISTS.get() {
            Some(lists) => lists,
            None => {
                let lists = format!("{}, {}", select_list::<Card>()?, select_list::<Infant>()?);
                LISTS.get_or_init(|| lists)
            }
        };
        out.push_sql("SELECT ");
        out.push_sql(lists);
        out.push_sql(if self.values {
            ", v.card_id IS NOT NULL"
        } else {
            ", FALSE"
        });
        out.push_sql(
            " FROM dbs_cards CROSS JOIN LATERAL \
             (SELECT * FROM infants i WHERE i.id = dbs_cards.infant_id OFFSET 0) AS infants",
        );
        if self.values {
            out.push_sql(
                " LEFT JOIN LATERAL (SELECT v.card_id FROM dbs_card_values v \
                 WHERE v.card_id = dbs_cards.id OFFSET 0) AS v ON TRUE",
            );
        }
        out.push_sql(" WHERE dbs_cards.barcode = ");
        out.push_bind_param::<diesel::sql_types::Text, _>(self.barcode)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for CardWithInfantPg<'_> {}

/// The columns `T::as_select()` reads, as PostgreSQL text (`"table"."column", …`), as diesel
/// spells them.
fn select_list<T>() -> QueryResult<String>
where
    T: Selectable<diesel::pg::Pg>,
    T::SelectExpression: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    use diesel::query_builder::QueryBuilder;
    let mut sql = diesel::pg::PgQueryBuilder::new();
    diesel::query_builder::QueryFragment::<diesel::pg::Pg>::to_sql(
        &T::construct_selection(),
        &mut sql,
        &diesel::pg::Pg,
    )?;
    Ok(sql.finish())
}

/// Barcodes per statement when cards are read in sets.
const BARCODES_PER_QUERY: usize = 500;

/// The cards (with their infants) of these barcodes (laboratory paths, which see every card):
/// a batch's cards read at once, the cards and then their infants by id, two index probes per
/// [`BARCODES_PER_QUERY`] (a join may be planned as a hash over every infant).
pub fn cards_with_infants(
    conn: &mut AnyConnection,
    barcodes: &[&str],
) -> QueryResult<Vec<(Card, Infant)>> {
    let mut out = Vec::with_capacity(barcodes.len());
    for part in barcodes.chunks(BARCODES_PER_QUERY) {
        let cards: Vec<Card> = dbs_cards::table
            .filter(dbs_cards::barcode.eq_any(part))
            .select(Card::as_select())
            .load(conn)?;
        let ids: Vec<InfantId> = cards.iter().map(|c| c.infant_id).collect();
        let found: std::collections::HashMap<InfantId, Infant> = infants::table
            .filter(infants::id.eq_any(&ids))
            .select(Infant::as_select())
            .load::<Infant>(conn)?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        out.extend(
            cards
                .into_iter()
                .filter_map(|c| found.get(&c.infant_id).map(|i| (c, i.clone()))),
        );
    }
    Ok(out)
}

/// Stores an interpretation and keeps its card's quality facts (one statement on PostgreSQL,
/// which `rides` join: see `sql::insert_then_riding`; SQLite does not run them).
pub fn insert_interpretation(
    conn: &mut AnyConnection,
    row: &InterpretationRow,
    rides: &[&dyn diesel::query_builder::QueryFragment<diesel::pg::Pg>],
) -> QueryResult<()> {
    use crate::db::models::quality::{facts, touch};
    let then = touch::new_interpretation(row);
    let insert = diesel::insert_into(dbs_interpretations::table).values(row);
    if let (_, Some(0), _) = crate::db::sql::insert_then_riding(conn, insert, then.as_ref(), rides)?
    {
        // The card has no facts row to update: recomputed (see `touch::new_interpretation`).
        facts::touch_card(conn, row.card_id)?;
    }
    Ok(())
}

/// The latest interpretation of a card.
pub fn latest_interpretation(
    conn: &mut AnyConnection,
    card_id: CardId,
) -> QueryResult<Option<InterpretationRow>> {
    dbs_interpretations::table
        .filter(dbs_interpretations::card_id.eq(card_id))
        .order((
            dbs_interpretations::interpreted_at.desc(),
            dbs_interpretations::id.desc(),
        ))
        .select(InterpretationRow::as_select())
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postgres_card_read_probes_the_infant_by_key_in_an_unflattened_lateral() {
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&CardWithInfantPg::new("B1", true))
            .to_string();
        assert!(
            sql.starts_with(r#"SELECT "dbs_cards"."id", "dbs_cards"."infant_id", "#),
            "{sql}"
        );
        assert!(
            sql.contains(r#", "infants"."id", "infants"."hospital_id", "#),
            "{sql}"
        );
        assert!(
            sql.contains(
                "FROM dbs_cards CROSS JOIN LATERAL (SELECT * FROM infants i \
                 WHERE i.id = dbs_cards.infant_id OFFSET 0) AS infants"
            ),
            "{sql}"
        );
        assert!(
            sql.ends_with("WHERE dbs_cards.barcode = $1 -- binds: [\"B1\"]"),
            "{sql}"
        );
        assert!(
            sql.contains(
                "LEFT JOIN LATERAL (SELECT v.card_id FROM dbs_card_values v \
                 WHERE v.card_id = dbs_cards.id OFFSET 0) AS v ON TRUE"
            ),
            "{sql}"
        );
        let without = diesel::debug_query::<diesel::pg::Pg, _>(&CardWithInfantPg::new("B1", false))
            .to_string();
        assert!(without.contains(", FALSE FROM dbs_cards"), "{without}");
    }
}
