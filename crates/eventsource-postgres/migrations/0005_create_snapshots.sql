-- The latest snapshot of each stream: an aggregate's state at a version, with
-- the tenant owning the stream and the schema version of the state.
--
-- `state` is `json`, not `jsonb`, so it comes back exactly as written.
-- `version` and `schema_version` are BIGINT so that every value the library's
-- u32 schema versions and stream versions take is stored exactly.
CREATE TABLE snapshots (
    aggregate_id UUID NOT NULL,
    aggregate_type VARCHAR(255) NOT NULL,
    tenant_id UUID NULL,
    version BIGINT NOT NULL,
    schema_version BIGINT NOT NULL,
    state JSON NOT NULL,
    taken_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT snapshots_pkey PRIMARY KEY (aggregate_id, aggregate_type)
);
