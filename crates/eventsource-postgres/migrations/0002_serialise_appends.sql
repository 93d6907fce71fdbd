-- Gap-free global feed: every statement that inserts into `events` first takes
-- one transaction-scoped advisory lock, so positions are handed out and
-- committed one transaction at a time. A transaction becomes visible before it
-- releases its locks, hence a reader that sees position P also sees every
-- committed position below P. The trigger makes this hold for every insert
-- path, including hand-written ones, not only the store's.
--
-- The lock key is (a constant naming this library, the table's oid mapped into
-- int4), so event stores in different schemas do not wait for each other.
CREATE FUNCTION eventsource_serialise_appends() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1702260340, (TG_RELID::bigint - 2147483648)::int4);
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_serialise_appends
    BEFORE INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION eventsource_serialise_appends();
