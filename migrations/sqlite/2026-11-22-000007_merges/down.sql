DROP TABLE infant_merges;
ALTER TABLE infants DROP COLUMN merged_into;
