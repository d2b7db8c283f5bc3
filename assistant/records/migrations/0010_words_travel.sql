-- Version 10: taught words travel with the person (docs/sync.md "Taught words").
-- Each word-consent decision gets one id, the same on every device and the hub, so the
-- decisions of every device merge by union; words_state says when the person's words last
-- changed here (the latest change, on any device, wins) and what the hub last acknowledged;
-- an example the hub already holds is not uploaded again (on_hub).

ALTER TABLE word_consent_events ADD COLUMN uid TEXT;
UPDATE word_consent_events SET uid = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX word_consent_uid ON word_consent_events (uid);

ALTER TABLE word_examples ADD COLUMN on_hub INTEGER NOT NULL DEFAULT 0;

CREATE TABLE words_state (
    person_id    TEXT PRIMARY KEY REFERENCES people (id),
    changed_at   TEXT NOT NULL,
    sent_digest  TEXT
);
INSERT INTO words_state (person_id, changed_at)
    SELECT person_id, max(at) FROM (
        SELECT person_id, at FROM word_consent_events
        UNION ALL SELECT person_id, coalesce(deleted_at, kept_at) FROM word_examples
    ) GROUP BY person_id;
