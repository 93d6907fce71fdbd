-- Writes a document of projection $1: tenant $2 (NULL for none), key $3,
-- JSON text $4.
INSERT INTO projection_documents AS d (projection, tenant_id, key, value)
VALUES ($1, $2, $3, $4::text::json)
ON CONFLICT (projection, tenant_key, key) DO UPDATE SET value = excluded.value
