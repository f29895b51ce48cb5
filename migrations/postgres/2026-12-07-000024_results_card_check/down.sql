DROP TRIGGER dbs_cards_keep_valued ON dbs_cards;
DROP FUNCTION dbs_cards_keep_valued();
DROP TRIGGER dbs_results_cards_exist_on_update ON dbs_results;
DROP TRIGGER dbs_results_cards_exist_on_insert ON dbs_results;
DROP FUNCTION dbs_results_cards_exist();
ALTER TABLE dbs_results ADD CONSTRAINT dbs_results_card_id_fkey
    FOREIGN KEY (card_id) REFERENCES dbs_cards(id);
