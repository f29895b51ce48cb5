-- A card's analyte values as one row: its panel, a JSON object of analyte →
-- [value, unit, reported_at, tested_at] (times as RFC 3339 UTC text, tested_at null when the
-- laboratory sent none). A card's values are written and read whole (a result report is a
-- card's panel; a correction merges into it), and 40 rows per card cost 40 heap tuples, 40
-- index entries and 40 foreign-key checks on every first result: most of a result's database
-- time. The view `dbs_results` gives the row per value for SQL readers.
-- `toast_tuple_target`: a panel (≈ 2.5 kB for 40 values) stays in its row, uncompressed.
CREATE TABLE dbs_card_values (
    card_id TEXT PRIMARY KEY NOT NULL REFERENCES dbs_cards(id),
    panel TEXT NOT NULL
) WITH (toast_tuple_target = 8160);

INSERT INTO dbs_card_values (card_id, panel)
SELECT card_id,
       json_object_agg(analyte, json_build_array(
           value,
           unit,
           to_char(reported_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           to_char(tested_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
       ) ORDER BY analyte)::text
FROM dbs_results
GROUP BY card_id;

DROP TABLE dbs_results;

CREATE VIEW dbs_results AS
SELECT v.card_id,
       e.key AS analyte,
       (e.value->>0)::double precision AS value,
       e.value->>1 AS unit,
       (e.value->>2)::timestamp AS reported_at,
       (e.value->>3)::timestamp AS tested_at
FROM dbs_card_values v, json_each(v.panel::json) e;
