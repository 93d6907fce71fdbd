-- Live delivery: every statement that inserts into `events` notifies the
-- channel `eventsource_events` with the highest position it inserted.
-- PostgreSQL delivers a notification when its transaction commits (and drops
-- it on rollback), so a listener never hears of events it cannot read yet.
-- Like the append lock, a trigger covers every insert path, hand-written SQL
-- included, and costs no extra round trip.
--
-- The payload is a global position. Listening needs no privilege, so any
-- role connected to the database can learn when, and roughly how many,
-- events are appended; what they are stays behind the table's privileges and
-- row-level security.
CREATE FUNCTION eventsource_notify_appends() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_position BIGINT;
BEGIN
    SELECT max(global_position) INTO last_position FROM appended;
    IF last_position IS NOT NULL THEN
        PERFORM pg_notify('eventsource_events', last_position::text);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify_appends
    AFTER INSERT ON events
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION eventsource_notify_appends();
