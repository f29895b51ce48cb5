-- Most outbox rows never get a provider message id (e-mail, failed sends) and every row written
-- paid for an index entry: only rows that have one are indexed now (delivery receipts look them
-- up by it, which implies it is not null).
DROP INDEX notifications_provider;
CREATE INDEX notifications_provider ON notifications (provider_message_id) WHERE provider_message_id IS NOT NULL;
