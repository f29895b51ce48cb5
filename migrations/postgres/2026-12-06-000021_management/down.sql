DROP TABLE management_events;
DROP TABLE management_treatments;
DROP TABLE management_contact_escalations;
DROP TABLE management_contacts;
DROP TABLE management_episodes;
DROP TABLE management_plans;
