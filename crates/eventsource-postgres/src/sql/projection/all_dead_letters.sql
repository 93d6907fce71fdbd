-- The dead letters of every projection, in position order.
SELECT
    id, projection, position, event_id, event_type, tenant_id, error, attempts,
    first_failed_at, last_failed_at
FROM projection_dead_letters
ORDER BY position, id
