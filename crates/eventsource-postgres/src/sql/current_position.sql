-- The last committed position (NULL for an empty store).
SELECT max(global_position)
FROM events
