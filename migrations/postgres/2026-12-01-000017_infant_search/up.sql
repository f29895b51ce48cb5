-- Finding an infant the way staff are asked about one: by the mother's phone number (one row per
-- normalised number, kept by every write of the infant) and by birth date.
CREATE TABLE infant_phones (
    phone TEXT NOT NULL,
    infant_id TEXT NOT NULL REFERENCES infants(id),
    PRIMARY KEY (phone, infant_id)
);
CREATE INDEX infant_phones_infant ON infant_phones (infant_id);
INSERT INTO infant_phones (phone, infant_id)
SELECT DISTINCT j.value, i.id FROM infants i, jsonb_array_elements_text(i.mother_phones::jsonb) AS j(value);
CREATE INDEX infants_birth ON infants (birth_at);
