-- Version 12: a person's own settings travel on their own, not only inside their next session
-- (docs/sync.md "Settings"). For each person, the settings_at the hub holds from or for this
-- device: what it acknowledged, or what it sent down. A person whose settings_at differs is
-- sent again at the next sync.

CREATE TABLE settings_state (
    person_id  TEXT PRIMARY KEY,
    sent_at    TEXT NOT NULL
);
