DROP INDEX dbs_cards_barcode;
DROP INDEX dbs_cards_hospital_barcode;
ALTER TABLE dbs_cards ADD CONSTRAINT dbs_cards_barcode_key UNIQUE (barcode);
