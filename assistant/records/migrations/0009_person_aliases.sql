-- Version 9: staff merged two records of one person on the hub (docs/sync.md "Merge rules").
-- The hub sends the kept person with the other's id on this device as an alias; the device
-- moves what it holds of the alias (jobs, consent, taught words, the name's recording) to the
-- kept person and marks the alias removed. Its finished sessions keep the id they were
-- recorded under; this table says whom it now means (a withdrawal of consent covers both).

CREATE TABLE person_aliases (
    alias_id   TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people (id),
    merged_at  TEXT NOT NULL
);
CREATE INDEX person_aliases_person ON person_aliases (person_id);
