-- The events of one stream after a version, in version order (served by the
-- unique (aggregate_id, aggregate_type, version) index).
SELECT
    global_position, event_id, event_type, event_version, "timestamp", aggregate_id,
    aggregate_type, version, tenant_id, actor_id, correlation_id, causation_id,
    metadata::text AS metadata, payload::text AS payload
FROM events
WHERE aggregate_id = $1 AND aggregate_type = $2 AND version > $3
ORDER BY version
