-- Removes dead letter $1 if it belongs to projection $2.
DELETE FROM projection_dead_letters
WHERE id = $1 AND projection = $2
