-- Version 4: personal words. Examples of how a person says yes, no, next, help and repeat
-- (recordings of their voice, kept to understand them), and their own consent for that,
-- asked and recorded separately from consent to keep answers. Withdrawing it deletes the
-- examples. The WAV files live in <data_dir>/words/<sha256>.wav (assistant/records/words_repo.py).

CREATE TABLE word_consent_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id    TEXT NOT NULL REFERENCES people (id),
    allowed      INTEGER NOT NULL,
    at           TEXT NOT NULL,
    method       TEXT NOT NULL,
    witnessed_by TEXT,
    withdrawal   INTEGER NOT NULL DEFAULT 0,
    deleted      INTEGER NOT NULL DEFAULT 0,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX word_consent_person ON word_consent_events (person_id, seq);

CREATE TABLE word_examples (
    id          TEXT PRIMARY KEY,
    person_id   TEXT NOT NULL REFERENCES people (id),
    word        TEXT NOT NULL CHECK (word IN ('yes', 'no', 'next', 'help', 'repeat')),
    sha256      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    source      TEXT NOT NULL DEFAULT 'taught',
    kept_at     TEXT NOT NULL,
    deleted_at  TEXT,
    deleted_why TEXT
);
CREATE INDEX word_examples_person ON word_examples (person_id, word, kept_at);
CREATE INDEX word_examples_sha ON word_examples (sha256);
