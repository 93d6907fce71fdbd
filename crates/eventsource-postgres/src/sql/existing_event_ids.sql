-- Which of the given event ids are stored.
SELECT event_id
FROM events
WHERE event_id = ANY($1::uuid[])
