DROP TABLE hearing_interventions;
