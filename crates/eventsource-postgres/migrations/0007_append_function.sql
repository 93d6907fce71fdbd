-- The append as a function, so that its plan is made once per session.
--
-- The statement (one per save: the version and duplicate checks and the
-- insert, see below) has several parts and 17 array parameters. Sent as a
-- prepared statement, PostgreSQL kept planning it afresh for every save,
-- which cost about a quarter of a save (0.85 against 0.59 ms for 10 events
-- on one connection). PL/pgSQL keeps the plan of the query for the session,
-- and `SET plan_cache_mode` on the function makes that plan generic for
-- this query only: every part of it probes a unique index (the duplicate
-- check through a lateral subquery, the stream's version through max() on
-- the stream's index), so no value changes which plan is right.
-- `tests/append_plan.rs` checks that saves into a grown table scan nothing.
--
-- SECURITY INVOKER (the default): it runs with the caller's privileges and
-- row-level security, exactly as the statement did.
--
-- One append, in one statement (one round trip, one implicit transaction).
--
-- $1..$13: one array element per event, in the order given.
-- $14..$17: one array element per stream write: the stream, the version of
-- its first event, and whether the expectation needs the stream to exist.
--
-- Returns one row per stream with its actual version ('stream'), one per
-- event id already stored ('duplicate') and, when every stream is at the
-- version its write follows and no id is stored, one row per stored event
-- with its position ('stored'). Nothing is inserted otherwise. A writer that
-- commits between this statement's snapshot and its insert is caught by the
-- unique constraints instead.
CREATE FUNCTION eventsource_append(
    uuid[], uuid[], text[], text[], int4[], uuid[], text[], int4[], timestamptz[], text[],
    uuid[], uuid[], text[], uuid[], text[], int4[], bool[]
) RETURNS TABLE (outcome text, ordinal int8, event_id uuid, number int8)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $append$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH batch AS (
        -- The JSON is checked here, before the insert takes the append lock
        -- (this CTE is read by `duplicates` first), to keep the lock short.
        SELECT
            event_id, aggregate_id, aggregate_type, event_type, event_version, tenant_id, actor_id,
            version, occurred_at, payload::json AS payload, correlation_id, causation_id,
            metadata::json AS metadata, ordinal
        FROM UNNEST(
            $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int4[], $6::uuid[], $7::text[],
            $8::int4[], $9::timestamptz[], $10::text[], $11::uuid[], $12::uuid[], $13::text[]
        ) WITH ORDINALITY AS b (
            event_id, aggregate_id, aggregate_type, event_type, event_version, tenant_id, actor_id,
            version, occurred_at, payload, correlation_id, causation_id, metadata, ordinal
        )
    ),
    streams AS (
        SELECT
            s.ordinal,
            s.first_version,
            s.must_exist,
            COALESCE((
                SELECT max(e.version)
                FROM events AS e
                WHERE e.aggregate_id = s.aggregate_id AND e.aggregate_type = s.aggregate_type
            ), 0) AS actual_version
        FROM UNNEST($14::uuid[], $15::text[], $16::int4[], $17::bool[]) WITH ORDINALITY
            AS s (aggregate_id, aggregate_type, first_version, must_exist, ordinal)
    ),
    duplicates AS (
        -- One probe of the unique event_id index per batch row. A semi-join
        -- here could be planned (and kept, in a prepared statement's generic
        -- plan) as a scan of the whole table when first prepared on a small one.
        SELECT b.event_id
        FROM batch AS b
        CROSS JOIN LATERAL (
            SELECT 1 FROM events AS e WHERE e.event_id = b.event_id LIMIT 1
        ) AS stored
    ),
    admitted AS (
        SELECT
            NOT EXISTS (
                SELECT 1
                FROM streams
                WHERE first_version <> actual_version + 1 OR (must_exist AND actual_version = 0)
            )
            AND NOT EXISTS (SELECT 1 FROM duplicates) AS ok
    ),
    stored AS (
        INSERT INTO events (
            event_id, aggregate_id, aggregate_type, event_type, event_version, tenant_id, actor_id,
            version, "timestamp", payload, correlation_id, causation_id, metadata
        )
        SELECT
            event_id, aggregate_id, aggregate_type, event_type, event_version, tenant_id, actor_id,
            version, occurred_at, payload, correlation_id, causation_id, metadata
        FROM batch
        WHERE (SELECT ok FROM admitted)
        ORDER BY ordinal
        RETURNING event_id, global_position
    )
    SELECT 'stream' AS outcome, ordinal, NULL::uuid AS event_id, actual_version::int8 AS number
    FROM streams
    UNION ALL
    SELECT 'duplicate', NULL, event_id, NULL
    FROM duplicates
    UNION ALL
    SELECT 'stored', NULL, event_id, global_position
    FROM stored;
END
$append$;
