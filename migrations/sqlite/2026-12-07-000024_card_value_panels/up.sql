-- A card's analyte values as one row: its panel, a JSON object of analyte →
-- [value, unit, reported_at, tested_at] (times as RFC 3339 UTC text, tested_at null when the
-- laboratory sent none). A card's values are written and read whole (a result report is a
-- card's panel; a correction merges into it), and 40 rows per card cost 40 row and index
-- insertions on every first result. The view `dbs_results` gives the row per value for SQL
-- readers.
CREATE TABLE dbs_card_values (
    card_id TEXT PRIMARY KEY NOT NULL REFERENCES dbs_cards(id),
    panel TEXT NOT NULL
);

INSERT INTO dbs_card_values (card_id, panel)
SELECT card_id,
       json_group_object(analyte, json_array(
           value,
           unit,
           replace(reported_at, ' ', 'T') || 'Z',
           CASE WHEN tested_at IS NULL THEN NULL ELSE replace(tested_at, ' ', 'T') || 'Z' END
       ))
FROM (SELECT * FROM dbs_results ORDER BY card_id, analyte)
GROUP BY card_id;

DROP TABLE dbs_results;

-- Times as diesel stores a SQLite TIMESTAMP (`2026-12-07 06:36:02.123456`).
CREATE VIEW dbs_results AS
SELECT v.card_id AS card_id,
       e.key AS analyte,
       json_extract(e.value, '$[0]') AS value,
       json_extract(e.value, '$[1]') AS unit,
       replace(rtrim(json_extract(e.value, '$[2]'), 'Z'), 'T', ' ') AS reported_at,
       replace(rtrim(json_extract(e.value, '$[3]'), 'Z'), 'T', ' ') AS tested_at
FROM dbs_card_values v, json_each(v.panel) e;
