-- Keeps a stream's snapshot unless the stored one has a higher version.
INSERT INTO snapshots AS s (
    aggregate_id, aggregate_type, tenant_id, version, schema_version, state, taken_at
)
VALUES ($1, $2, $3, $4, $5, $6::text::json, $7)
ON CONFLICT (aggregate_id, aggregate_type) DO UPDATE SET
    tenant_id = excluded.tenant_id,
    version = excluded.version,
    schema_version = excluded.schema_version,
    state = excluded.state,
    taken_at = excluded.taken_at
WHERE excluded.version >= s.version
