-- The booked recall visit of a case (time and place), for reminders and the worklists.
ALTER TABLE cases ADD COLUMN appointment_at TIMESTAMP;
ALTER TABLE cases ADD COLUMN appointment_place TEXT;
