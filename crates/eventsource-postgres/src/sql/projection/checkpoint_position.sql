-- The checkpoint position of projection $1 (no row when it has none).
SELECT position
FROM projection_checkpoints
WHERE projection = $1
