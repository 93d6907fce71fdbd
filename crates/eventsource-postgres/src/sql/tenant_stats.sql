-- Events and distinct aggregates per tenant and aggregate type. A stream is
-- (aggregate_id, aggregate_type), so a tenant's aggregates are the sum over
-- its types of the distinct ids.
SELECT
    tenant_id,
    aggregate_type,
    count(*)::int8 AS events,
    count(DISTINCT aggregate_id)::int8 AS aggregates
FROM events
GROUP BY tenant_id, aggregate_type
