-- The events of stream ($1 aggregate_id, $2 aggregate_type) after version
-- $3, only when the stream's first event belongs to tenant $4. The
-- sub-select names no column of the outer query, so PostgreSQL runs it once,
-- before the scan, as a one-time filter: for a stream that is missing or
-- starts with another tenant's event the scan never runs, and the statement
-- costs one probe of the unique index whatever the stream's length.
SELECT
    global_position, event_id, event_type, event_version, "timestamp", aggregate_id,
    aggregate_type, version, tenant_id, actor_id, correlation_id, causation_id,
    metadata::text AS metadata, payload::text AS payload
FROM events
WHERE aggregate_id = $1 AND aggregate_type = $2 AND version > $3
    AND (
        SELECT first.tenant_id FROM events AS first
        WHERE first.aggregate_id = $1 AND first.aggregate_type = $2 AND first.version = 1
    ) = $4
ORDER BY version
