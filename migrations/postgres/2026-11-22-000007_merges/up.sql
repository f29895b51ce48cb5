-- Admin merges of two records of the same infant, reversible: the merged record points at the
-- kept one, and the merge lists exactly which rows moved so an undo moves them back.
ALTER TABLE infants ADD COLUMN merged_into TEXT;
CREATE TABLE infant_merges (
    id TEXT PRIMARY KEY NOT NULL,
    kept_id TEXT NOT NULL REFERENCES infants(id),
    merged_id TEXT NOT NULL REFERENCES infants(id),
    moved TEXT NOT NULL,
    merged_by TEXT NOT NULL,
    merged_at TIMESTAMP NOT NULL,
    undone_by TEXT,
    undone_at TIMESTAMP
);
