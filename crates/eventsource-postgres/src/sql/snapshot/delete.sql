-- Removes the snapshot of stream ($1, $2).
DELETE FROM snapshots
WHERE aggregate_id = $1 AND aggregate_type = $2
