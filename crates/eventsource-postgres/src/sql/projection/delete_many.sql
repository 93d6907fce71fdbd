-- Deletes several documents of projection $1: tenants $2 (NULL for none)
-- and keys $3, element by element; absent ones are passed over.
DELETE FROM projection_documents AS d
USING unnest($2::uuid[], $3::text[]) AS w (tenant_id, key)
WHERE d.projection = $1
    AND d.tenant_key = COALESCE(w.tenant_id::text, '')
    AND d.key = w.key
