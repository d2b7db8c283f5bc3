-- Version 6: what the hub sends this device (assistant/sync/updates.py).
-- received_jobs: jobs of this device's people made on other devices, with their status
-- history as the hub holds it. A job this device holds in jobs is never copied here: the hub's
-- events are added to job_events instead. hub_people: which local people the hub sent, and
-- their hub person id.

CREATE TABLE received_jobs (
    id          TEXT PRIMARY KEY,
    person_id   TEXT NOT NULL,
    data        TEXT NOT NULL,              -- Job as JSON, without history
    history     TEXT NOT NULL,              -- the hub's status history, JSON list of JobEvent
    received_at TEXT NOT NULL
);
CREATE INDEX received_jobs_person ON received_jobs (person_id);

CREATE TABLE hub_people (
    person_id   TEXT PRIMARY KEY REFERENCES people (id),
    hub_id      TEXT NOT NULL,
    received_at TEXT NOT NULL
);
