-- Serialises the transactions of one projection ($1, its name): a
-- transaction-scoped advisory lock, held until commit or rollback.
--
-- The key is one BIGINT, a space apart from the append lock's pair of
-- integers (PostgreSQL keeps the two forms distinct): the name hashed with
-- hashtextextended, seeded with the oid of `projection_checkpoints` so that
-- projection tables in different schemas do not wait for each other. Any
-- client can take the same lock with this statement.
SELECT pg_advisory_xact_lock(hashtextextended($1, 'projection_checkpoints'::regclass::oid::bigint))
