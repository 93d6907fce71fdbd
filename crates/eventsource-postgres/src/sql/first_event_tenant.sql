-- The tenant of the first event of stream ($1 aggregate_id, $2
-- aggregate_type): one probe of the unique (aggregate_id, aggregate_type,
-- version) index, whatever the stream's length.
SELECT tenant_id FROM events WHERE aggregate_id = $1 AND aggregate_type = $2 AND version = 1
