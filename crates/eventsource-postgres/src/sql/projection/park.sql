-- Parks an event for projection $1, or, when it is parked already, adds the
-- attempts and replaces the error and the last failure; the position, type,
-- tenant and first failure stay. Attempts stop growing at the column's
-- largest value.
INSERT INTO projection_dead_letters AS l (
    projection, position, event_id, event_type, tenant_id, error, attempts,
    first_failed_at, last_failed_at
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
ON CONFLICT (projection, event_id) DO UPDATE SET
    error = excluded.error,
    attempts = LEAST(l.attempts::bigint + excluded.attempts, 2147483647)::integer,
    last_failed_at = excluded.last_failed_at
