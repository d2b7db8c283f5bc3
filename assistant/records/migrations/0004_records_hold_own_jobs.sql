-- Version 4: a session record holds only the jobs that belong to it (assistant/records/belongs.py).
-- Records saved before kept every open job of the device, so one person's check-in listed other
-- people's jobs. Keep a job when its person took part, the session's check-in answered it, or
-- it changed during the session (an event at or after the start); a record with nobody in it
-- yet (a draft before the roll call) keeps them all. The jobs and job_events tables are
-- unchanged: the jobs themselves stay on the device.

UPDATE sessions SET data = json_set(data, '$.jobs', json((
    SELECT coalesce(json_group_array(json(j.value)), json_array())
    FROM json_each(sessions.data, '$.jobs') AS j
    WHERE json_extract(j.value, '$.person_id') IN (
            SELECT json_extract(p.value, '$.id') FROM json_each(sessions.data, '$.people') AS p)
        OR EXISTS (
            SELECT 1 FROM json_each(sessions.data, '$.checkins') AS c,
                json_each(c.value, '$.jobs') AS cj
            WHERE cj.key = json_extract(j.value, '$.id'))
        OR EXISTS (
            SELECT 1 FROM json_each(j.value, '$.history') AS e
            WHERE julianday(json_extract(e.value, '$.at'))
                >= julianday(json_extract(sessions.data, '$.started_at')))
)))
WHERE json_array_length(data, '$.people') > 0 AND json_array_length(data, '$.jobs') > 0;
