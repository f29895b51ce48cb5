DROP TABLE quality_card_facts;
DROP TABLE quality_infant_facts;
