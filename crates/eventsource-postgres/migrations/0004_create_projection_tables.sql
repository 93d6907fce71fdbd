-- Read models of projections, their checkpoints and their dead letters, in
-- the events' database, so that a batch's documents, parked events and new
-- checkpoint commit in one transaction.
--
-- Names and keys use the "C" collation: they compare and sort by code point,
-- as on every other backend, whatever the database's collation.

-- A document is keyed by (projection, tenant, key). `tenant_id` is NULL for
-- documents without a tenant; a NULL in a key would make every such row
-- distinct, so the key uses `tenant_key`, which the database derives from
-- `tenant_id` ('' for none). Queries match `tenant_key` to use the key's
-- index.
--
-- `value` is `json`, not `jsonb`, as for event payloads: it keeps the exact
-- text (key order, number digits, `\u0000` escapes). A `jsonb` expression
-- index can serve a query on a document's fields.
CREATE TABLE projection_documents (
    projection TEXT COLLATE "C" NOT NULL,
    tenant_id UUID NULL,
    key TEXT COLLATE "C" NOT NULL,
    value JSON NOT NULL,
    tenant_key TEXT COLLATE "C" GENERATED ALWAYS AS (COALESCE(tenant_id::text, '')) STORED,
    CONSTRAINT projection_documents_pkey PRIMARY KEY (projection, tenant_key, key)
);

-- Where each projection stands: the last position it dealt with and how many
-- events it handled or parked since its last reset.
CREATE TABLE projection_checkpoints (
    projection TEXT COLLATE "C" NOT NULL,
    position BIGINT NOT NULL,
    events_processed BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT projection_checkpoints_pkey PRIMARY KEY (projection)
);

-- Events a projection gave up on; parking one again updates its row.
CREATE TABLE projection_dead_letters (
    id BIGSERIAL PRIMARY KEY,
    projection TEXT COLLATE "C" NOT NULL,
    position BIGINT NOT NULL,
    event_id UUID NOT NULL,
    event_type TEXT NOT NULL,
    tenant_id UUID NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_failed_at TIMESTAMPTZ NOT NULL,
    last_failed_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT projection_dead_letters_projection_event_id_key UNIQUE (projection, event_id)
);

-- Dead letters are listed per projection in position order.
CREATE INDEX idx_projection_dead_letters_position ON projection_dead_letters (projection, position);
