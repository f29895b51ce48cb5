DROP VIEW dbs_results;

CREATE TABLE dbs_results (
    card_id TEXT NOT NULL REFERENCES dbs_cards(id),
    analyte TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    unit TEXT NOT NULL,
    reported_at TIMESTAMP NOT NULL,
    tested_at TIMESTAMP,
    PRIMARY KEY (card_id, analyte)
);

INSERT INTO dbs_results (card_id, analyte, value, unit, reported_at, tested_at)
SELECT v.card_id, e.key, (e.value->>0)::double precision, e.value->>1,
       (e.value->>2)::timestamp, (e.value->>3)::timestamp
FROM dbs_card_values v, json_each(v.panel::json) e;

DROP TABLE dbs_card_values;
