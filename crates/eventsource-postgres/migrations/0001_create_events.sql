-- The event log: the guide's table and indexes, plus the envelope columns the
-- guide lacks (event_version, correlation_id, causation_id, metadata).
--
-- payload and metadata are `json`, not `jsonb`: `json` keeps the exact text
-- it was given (key order, number digits, `\u0000` escapes) while still
-- validating it, where `jsonb` reorders keys, normalises numbers and refuses
-- `\u0000`. Both stay queryable with the `->`/`->>` operators.
CREATE TABLE events (
    global_position BIGSERIAL PRIMARY KEY,
    event_id UUID NOT NULL,
    aggregate_id UUID NOT NULL,
    aggregate_type VARCHAR(255) NOT NULL,
    event_type VARCHAR(255) NOT NULL,
    tenant_id UUID NULL,
    actor_id VARCHAR(255) NULL,
    version INTEGER NOT NULL,
    "timestamp" TIMESTAMPTZ NOT NULL,
    payload JSON NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    event_version INTEGER NOT NULL DEFAULT 1,
    correlation_id UUID NOT NULL,
    causation_id UUID NULL,
    metadata JSON NOT NULL DEFAULT '{}',
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_aggregate_id_aggregate_type_version_key
        UNIQUE (aggregate_id, aggregate_type, version),
    CONSTRAINT events_version_check CHECK (version >= 1)
);

-- The guide's tenant indexes.
CREATE INDEX idx_events_tenant_id ON events (tenant_id) WHERE tenant_id IS NOT NULL;
CREATE INDEX idx_events_type_tenant_timestamp ON events (aggregate_type, tenant_id, "timestamp");

-- A tenant's feed (its audit trail, a tenant-filtered projection) reads in
-- position order after a checkpoint, a page at a time: this index serves each
-- page in order without sorting the tenant's whole history.
CREATE INDEX idx_events_tenant_position ON events (tenant_id, global_position)
    WHERE tenant_id IS NOT NULL;
