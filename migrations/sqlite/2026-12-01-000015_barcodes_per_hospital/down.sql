PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE dbs_cards_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    infant_id TEXT NOT NULL REFERENCES infants(id),
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    barcode TEXT NOT NULL UNIQUE,
    collected_at TIMESTAMP NOT NULL,
    feeding TEXT NOT NULL CHECK (feeding IN ('breast','formula','mixed','parenteral','none')),
    transfusion BOOLEAN NOT NULL,
    tpn BOOLEAN NOT NULL,
    antibiotics BOOLEAN NOT NULL,
    collector TEXT NOT NULL,
    repeat_of TEXT REFERENCES dbs_cards(id),
    received_at TIMESTAMP,
    quality TEXT,
    quality_recorded_at TIMESTAMP,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO dbs_cards_rebuilt SELECT * FROM dbs_cards;
DROP TABLE dbs_cards;
ALTER TABLE dbs_cards_rebuilt RENAME TO dbs_cards;
CREATE INDEX dbs_cards_infant ON dbs_cards (infant_id, collected_at);
COMMIT;
PRAGMA foreign_keys = ON;
