-- The dead letters of projection $1, in position order.
SELECT
    id, projection, position, event_id, event_type, tenant_id, error, attempts,
    first_failed_at, last_failed_at
FROM projection_dead_letters
WHERE projection = $1
ORDER BY position, id
