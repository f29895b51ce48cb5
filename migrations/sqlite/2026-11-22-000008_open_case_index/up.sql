-- Worklists read open cases by recall due time; a partial index over open cases only keeps the
-- overdue page and its count proportional to the cases on the list, not to all cases.
CREATE INDEX cases_open_due ON cases (recall_due_at, id) WHERE state <> 'resolved';
