-- Every checkpoint, by projection name in code point order.
SELECT projection, position, events_processed, updated_at
FROM projection_checkpoints
ORDER BY projection
