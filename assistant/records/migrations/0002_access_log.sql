-- Version 2: who looked at or exported records (an audit log), and answers by person.

CREATE TABLE access_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    who        TEXT NOT NULL,
    action     TEXT NOT NULL,
    session_id TEXT,
    detail     TEXT
);

CREATE INDEX answers_person ON answers (person_id);
