-- The events table of the multi-tenant guide, in SQLite types.
--
-- Ids are lowercase hyphenated UUID text; `timestamp` is fixed-width
-- RFC 3339 UTC text with microseconds (YYYY-MM-DDTHH:MM:SS.ffffffZ), so text
-- order is time order. `payload` and `metadata` hold the JSON text exactly as
-- written (key order and number digits kept).
CREATE TABLE IF NOT EXISTS events (
    global_position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL UNIQUE,
    aggregate_id    TEXT    NOT NULL,
    aggregate_type  TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    tenant_id       TEXT,
    actor_id        TEXT,
    version         INTEGER NOT NULL CHECK (version >= 1),
    timestamp       TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    event_version   INTEGER NOT NULL DEFAULT 1,
    correlation_id  TEXT    NOT NULL,
    causation_id    TEXT,
    metadata        TEXT    NOT NULL DEFAULT '{}',
    CONSTRAINT uq_events_aggregate_version UNIQUE (aggregate_id, aggregate_type, version)
);

-- Tenant audit and tenant feed reads: entries are ordered by tenant, then
-- by rowid (the global position).
CREATE INDEX IF NOT EXISTS idx_events_tenant_id
    ON events (tenant_id) WHERE tenant_id IS NOT NULL;

-- Tenant queries by aggregate type and time range.
CREATE INDEX IF NOT EXISTS idx_events_type_tenant_timestamp
    ON events (aggregate_type, tenant_id, timestamp);
