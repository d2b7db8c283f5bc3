-- Version 1: the first schema of the records database.
-- Never edit a released migration: add a new numbered file instead.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The roster. A removed person keeps their row (their past answers still point at it).
CREATE TABLE people (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    data       TEXT NOT NULL,              -- Person as JSON, without consent
    added_at   TEXT NOT NULL,
    removed_at TEXT
);
CREATE INDEX people_name ON people (name COLLATE NOCASE);

-- Every consent decision, in the order it was recorded. The latest one is in force.
CREATE TABLE consent_events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id     TEXT NOT NULL REFERENCES people (id),
    audio         INTEGER NOT NULL CHECK (audio IN (0, 1)),
    at            TEXT NOT NULL,
    method        TEXT NOT NULL,
    witnessed_by  TEXT,
    session_id    TEXT,
    withdrawal    INTEGER NOT NULL DEFAULT 0 CHECK (withdrawal IN (0, 1)),
    clips_deleted INTEGER,
    recorded_at   TEXT NOT NULL
);
CREATE INDEX consent_person ON consent_events (person_id, seq);

-- One row per session; data holds the whole SessionRecord as JSON (state and audio clips
-- are kept in their own columns and tables, which the store owns).
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    state        TEXT NOT NULL CHECK (state IN ('draft', 'finalised', 'sent')),
    script       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    saved_at     TEXT NOT NULL,
    saves        INTEGER NOT NULL DEFAULT 1,
    finalised_at TEXT,
    sent_at      TEXT,
    data         TEXT NOT NULL
);
CREATE INDEX sessions_state ON sessions (state, saved_at);

CREATE TABLE session_people (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    person_id  TEXT NOT NULL REFERENCES people (id),
    PRIMARY KEY (session_id, person_id)
);

-- An index of every answer (the full answer is in sessions.data).
CREATE TABLE answers (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    person_id  TEXT,
    step_id    TEXT NOT NULL,
    at         TEXT NOT NULL,
    transcript TEXT NOT NULL
);
CREATE INDEX answers_session ON answers (session_id, seq);

-- Audio kept with consent. Files live at clips/<sha256>.wav. A deleted clip keeps its row.
CREATE TABLE clips (
    answer_id   TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    person_id   TEXT,
    bytes       INTEGER NOT NULL,
    kept_at     TEXT NOT NULL,
    deleted_at  TEXT,
    deleted_why TEXT
);
CREATE INDEX clips_sha ON clips (sha256);
CREATE INDEX clips_person ON clips (person_id);

-- Jobs across sessions; job_events is the status history (append-only).
CREATE TABLE jobs (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    person_id  TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX jobs_person ON jobs (person_id);

CREATE TABLE job_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id      TEXT NOT NULL REFERENCES jobs (id),
    status      TEXT NOT NULL,
    at          TEXT NOT NULL,
    help_needed TEXT,
    note_answer TEXT,
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    UNIQUE (job_id, at, status)
);

CREATE TABLE flags (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    person_id   TEXT,
    at          TEXT NOT NULL,
    data        TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT
);
CREATE INDEX flags_open ON flags (resolved_at, at);
