-- Several documents of projection $1, asked for as pairs of tenants $2 (NULL
-- for none) and keys $3, element by element. Returns, for each pair that has
-- a document, its 1-based place in the arrays and the exact JSON text
-- stored. Each pair probes the primary key from a lateral subquery; its
-- LIMIT keeps the planner from flattening it into a join that reads every
-- document of the projection (which a generic plan over a few documents
-- would choose, and keep as the table grows).
SELECT wanted.ordinal, document.value
FROM unnest($2::uuid[], $3::text[]) WITH ORDINALITY AS wanted (tenant_id, key, ordinal)
CROSS JOIN LATERAL (
    SELECT d.value::text AS value
    FROM projection_documents AS d
    WHERE d.projection = $1
        AND d.tenant_key = COALESCE(wanted.tenant_id::text, '')
        AND d.key = wanted.key
    LIMIT 1
) AS document
