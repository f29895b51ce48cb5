DROP TABLE follow_up_visits;
