-- Row-level tenant isolation, defined here and switched on by the operator
-- (`ALTER TABLE events ENABLE ROW LEVEL SECURITY`, see
-- `PostgresEventStore::enable_tenant_isolation`). Until then the policy has
-- no effect.
--
-- A session may see and insert only rows of the tenant its current
-- transaction carries in the setting `eventsource.tenant_id` (set with
-- `set_config('eventsource.tenant_id', $1, true)`, i.e. SET LOCAL). Without
-- the setting (NULL, or '' once a SET LOCAL has ended) it sees nothing and may
-- insert nothing. The table's owner, superusers and BYPASSRLS roles are not
-- restricted: they are for migrations and cross-tenant work.
CREATE POLICY events_tenant_isolation ON events
    USING (tenant_id = NULLIF(current_setting('eventsource.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('eventsource.tenant_id', true), '')::uuid);
