-- Version 11: goals follow their people (docs/sync.md "Goals"). The goals the hub sends this
-- device (a group's goal agreed or reviewed on another device, a person's own goal), each with
-- the time of its copy; replaced by each update. A review here looks at the goal in force
-- over these and this device's own sessions: the latest copy wins.

CREATE TABLE received_goals (
    id           TEXT PRIMARY KEY,
    at           TEXT NOT NULL,
    data         TEXT NOT NULL,
    received_at  TEXT NOT NULL
);
