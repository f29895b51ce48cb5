-- Card barcodes are unique per hospital, not across hospitals, so a hospital registering a
-- barcode another hospital uses gets the answer a free barcode gets.
ALTER TABLE dbs_cards DROP CONSTRAINT dbs_cards_barcode_key;
CREATE UNIQUE INDEX dbs_cards_hospital_barcode ON dbs_cards (hospital_id, barcode);
CREATE INDEX dbs_cards_barcode ON dbs_cards (barcode);
