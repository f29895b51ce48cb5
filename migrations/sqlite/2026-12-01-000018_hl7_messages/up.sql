-- HL7 v2 messages from laboratories: each kept with the ACK it was answered with, so a resent
-- message (same sending facility and MSH-10) gets the same ACK and writes nothing.
CREATE TABLE hl7_messages (
    id TEXT PRIMARY KEY NOT NULL,
    sending_facility TEXT NOT NULL,
    control_id TEXT NOT NULL,
    received_by TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    ack_code TEXT NOT NULL CHECK (ack_code IN ('AA','AE','AR')),
    ack TEXT NOT NULL,
    cards INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    raw TEXT NOT NULL,
    UNIQUE (sending_facility, control_id)
);
CREATE INDEX hl7_messages_received ON hl7_messages (received_at);
-- The cards of a message already applied, each written in its card's own transaction: after a
-- crash mid-message, the resent message applies only the cards that were not.
-- Each also keeps the laboratory's own flags (OBX-8, its interpretation codes) and whether they
-- disagree with the catalogue's interpretation, for staff to look at.
CREATE TABLE hl7_cards (
    sending_facility TEXT NOT NULL,
    control_id TEXT NOT NULL,
    barcode TEXT NOT NULL,
    stored_at TIMESTAMP NOT NULL,
    card_id TEXT NOT NULL REFERENCES dbs_cards(id),
    lab_abnormal BOOLEAN NOT NULL,
    lab_flags TEXT NOT NULL,
    outcome TEXT NOT NULL,
    disagrees BOOLEAN NOT NULL,
    PRIMARY KEY (sending_facility, control_id, barcode)
);
CREATE INDEX hl7_cards_disagreements ON hl7_cards (disagrees, stored_at);
