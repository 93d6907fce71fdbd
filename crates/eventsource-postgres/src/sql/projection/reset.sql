-- Removes the documents, checkpoint and dead letters of projection $1, in
-- one statement (every data-modifying part of a WITH runs).
WITH documents AS (
    DELETE FROM projection_documents WHERE projection = $1
),
checkpoint AS (
    DELETE FROM projection_checkpoints WHERE projection = $1
)
DELETE FROM projection_dead_letters WHERE projection = $1
