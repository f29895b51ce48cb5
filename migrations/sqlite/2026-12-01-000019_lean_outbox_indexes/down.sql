DROP INDEX notifications_provider;
CREATE INDEX notifications_provider ON notifications (provider_message_id);
