-- PostgreSQL turns its single-column CHECKs of infants, dbs_cards, cases and audit_log into
-- domains (parsed once per connection, not by every insert); SQLite keeps its CHECKs.
SELECT 1;
