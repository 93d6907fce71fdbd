-- The snapshot of stream ($1, $2), its state as the exact JSON text stored.
SELECT tenant_id, version, schema_version, state::text AS state, taken_at
FROM snapshots
WHERE aggregate_id = $1 AND aggregate_type = $2
