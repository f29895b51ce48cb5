DROP INDEX cases_open_due;
