-- A card's values named their card through a foreign key, checked value by value: 40 checks per
-- card, each a query of its own (16 % of PostgreSQL's time on the everyday write path, more for a
-- plate). The same rule is now checked once per statement: the inserted or updated values' cards
-- are locked as a foreign key locks them (FOR KEY SHARE, so none can be deleted meanwhile) and a
-- value whose card is missing fails the statement with the foreign-key error (23503). A card that
-- has values cannot be deleted (nothing deletes cards; this keeps it so; the other foreign keys
-- to dbs_cards still refuse a TRUNCATE of it alone). SQLite keeps its foreign key, an index probe
-- in the process.
ALTER TABLE dbs_results DROP CONSTRAINT dbs_results_card_id_fkey;

CREATE FUNCTION dbs_results_cards_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM dbs_cards c WHERE c.id IN (SELECT v.card_id FROM new_values v) FOR KEY SHARE;
    IF EXISTS (SELECT 1 FROM new_values v
               WHERE NOT EXISTS (SELECT 1 FROM dbs_cards c WHERE c.id = v.card_id)) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'insert or update on table "dbs_results" violates foreign key constraint "dbs_results_card_id_fkey"',
            DETAIL = 'a value names a card that does not exist',
            TABLE = 'dbs_results',
            CONSTRAINT = 'dbs_results_card_id_fkey';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER dbs_results_cards_exist_on_insert AFTER INSERT ON dbs_results
    REFERENCING NEW TABLE AS new_values
    FOR EACH STATEMENT EXECUTE FUNCTION dbs_results_cards_exist();

CREATE TRIGGER dbs_results_cards_exist_on_update AFTER UPDATE ON dbs_results
    REFERENCING NEW TABLE AS new_values
    FOR EACH STATEMENT EXECUTE FUNCTION dbs_results_cards_exist();

CREATE FUNCTION dbs_cards_keep_valued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM dbs_results r WHERE r.card_id = OLD.id) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'update or delete on table "dbs_cards" violates foreign key constraint "dbs_results_card_id_fkey" on table "dbs_results"',
            DETAIL = 'the card has values',
            TABLE = 'dbs_cards',
            CONSTRAINT = 'dbs_results_card_id_fkey';
    END IF;
    RETURN OLD;
END
$$;

CREATE TRIGGER dbs_cards_keep_valued BEFORE DELETE ON dbs_cards
    FOR EACH ROW EXECUTE FUNCTION dbs_cards_keep_valued();
