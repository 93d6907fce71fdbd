-- One append, in one statement: the function `eventsource_append`
-- (migration 0007) holds the statement and says what $1..$17 and the rows
-- returned are.
SELECT outcome, ordinal, event_id, number
FROM eventsource_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
