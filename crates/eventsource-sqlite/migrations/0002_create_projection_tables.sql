-- Read models of projections, their checkpoints and their dead letters,
-- in the same database as the events so that a batch's effects and its
-- checkpoint commit in one transaction.
--
-- `tenant` is the tenant's UUID text, or '' for documents without a tenant
-- (a NULL would make every such row distinct in the primary key).
CREATE TABLE IF NOT EXISTS projection_documents (
    projection TEXT NOT NULL,
    tenant     TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (projection, tenant, key)
);

CREATE TABLE IF NOT EXISTS projection_checkpoints (
    projection       TEXT    PRIMARY KEY,
    position         INTEGER NOT NULL,
    events_processed INTEGER NOT NULL,
    updated_at       TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS projection_dead_letters (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    projection      TEXT    NOT NULL,
    position        INTEGER NOT NULL,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    tenant_id       TEXT,
    error           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    first_failed_at TEXT    NOT NULL,
    last_failed_at  TEXT    NOT NULL,
    UNIQUE (projection, event_id)
);

CREATE INDEX IF NOT EXISTS idx_projection_dead_letters_position
    ON projection_dead_letters (projection, position);
