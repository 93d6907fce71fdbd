-- Which of the given event ids are stored: one probe of the unique event_id
-- index per id. `event_id = ANY($1)` was planned, when first prepared on an
-- empty table, as a sequential scan that the connection then kept, so an
-- import checking each batch read the whole table every time.
SELECT ids.event_id
FROM unnest($1::uuid[]) AS ids (event_id)
CROSS JOIN LATERAL (
    SELECT 1 FROM events AS e WHERE e.event_id = ids.event_id LIMIT 1
) AS stored
