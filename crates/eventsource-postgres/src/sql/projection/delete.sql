-- Deletes a document of projection $1: tenant $2 (NULL for none), key $3.
DELETE FROM projection_documents
WHERE projection = $1 AND tenant_key = COALESCE($2::uuid::text, '') AND key = $3
