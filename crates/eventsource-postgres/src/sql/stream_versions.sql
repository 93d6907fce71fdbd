-- The actual version of each stream (0 when absent), in the order given;
-- read after an append lost a race to learn what the winner left.
SELECT
    s.ordinal,
    COALESCE((
        SELECT max(e.version)
        FROM events AS e
        WHERE e.aggregate_id = s.aggregate_id AND e.aggregate_type = s.aggregate_type
    ), 0)::int8 AS actual_version
FROM UNNEST($1::uuid[], $2::text[]) WITH ORDINALITY AS s (aggregate_id, aggregate_type, ordinal)
ORDER BY s.ordinal
