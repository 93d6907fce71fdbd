-- One document of projection $1: tenant $2 (NULL for none), key $3. The
-- value comes back as the exact JSON text stored.
SELECT value::text
FROM projection_documents
WHERE projection = $1 AND tenant_key = COALESCE($2::uuid::text, '') AND key = $3
