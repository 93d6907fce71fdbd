-- The latest snapshot of each stream.
CREATE TABLE IF NOT EXISTS snapshots (
    aggregate_id   TEXT    NOT NULL,
    aggregate_type TEXT    NOT NULL,
    tenant_id      TEXT,
    version        INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    state          TEXT    NOT NULL,
    taken_at       TEXT    NOT NULL,
    PRIMARY KEY (aggregate_id, aggregate_type)
);
