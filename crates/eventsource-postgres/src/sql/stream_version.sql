-- A stream's version (0 when absent): a backward scan of the unique
-- (aggregate_id, aggregate_type, version) index.
SELECT COALESCE(max(version), 0)::int8
FROM events
WHERE aggregate_id = $1 AND aggregate_type = $2
