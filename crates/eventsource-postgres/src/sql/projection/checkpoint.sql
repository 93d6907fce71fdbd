-- The checkpoint of projection $1 (no row when it has none).
SELECT projection, position, events_processed, updated_at
FROM projection_checkpoints
WHERE projection = $1
