-- Version 8: a status update can carry a new date for the job (a check-in's "not yet", then
-- "When will you try again?"; docs/scripts.md "new_date"). The date travels with the status
-- history, which merges across devices by union: the latest event with a date gives the job
-- its when and due (Job.follow_history). NULL: the update set no new date.

ALTER TABLE job_events ADD COLUMN new_when TEXT;
ALTER TABLE job_events ADD COLUMN new_due TEXT;
