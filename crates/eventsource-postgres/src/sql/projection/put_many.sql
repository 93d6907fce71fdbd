-- Writes several documents of projection $1: tenants $2 (NULL for none),
-- keys $3 and JSON texts $4, element by element. One statement may not
-- update a row twice, so of two elements with the same tenant and key only
-- the later one is written.
INSERT INTO projection_documents AS d (projection, tenant_id, key, value)
SELECT DISTINCT ON (COALESCE(w.tenant_id::text, ''), w.key COLLATE "C")
    $1::text, w.tenant_id, w.key, w.value::json
FROM unnest($2::uuid[], $3::text[], $4::text[]) WITH ORDINALITY AS w (tenant_id, key, value, ordinal)
ORDER BY COALESCE(w.tenant_id::text, ''), w.key COLLATE "C", w.ordinal DESC
ON CONFLICT (projection, tenant_key, key) DO UPDATE SET value = excluded.value
