-- Moves the checkpoint of projection $1 to position $2 unless it is further
-- already, adds $3 processed events, and stamps it with $4.
INSERT INTO projection_checkpoints AS c (projection, position, events_processed, updated_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (projection) DO UPDATE SET
    position = GREATEST(c.position, excluded.position),
    events_processed = c.events_processed + excluded.events_processed,
    updated_at = excluded.updated_at
