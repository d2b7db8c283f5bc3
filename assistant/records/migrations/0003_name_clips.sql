-- Version 3: a recording of each person's name (their voice, so only with consent).

CREATE TABLE name_clips (
    person_id   TEXT PRIMARY KEY REFERENCES people (id),
    sha256      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    kept_at     TEXT NOT NULL,
    deleted_at  TEXT,
    deleted_why TEXT
);
CREATE INDEX name_clips_sha ON name_clips (sha256);
