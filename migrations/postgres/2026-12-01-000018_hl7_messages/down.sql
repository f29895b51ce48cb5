DROP TABLE hl7_cards;
DROP TABLE hl7_messages;
