-- Switches on the policy `events_tenant_isolation` (see the migrations):
-- from now on, roles that neither own `events` nor bypass row-level security
-- see and insert only rows of the tenant their transaction carries.
ALTER TABLE events ENABLE ROW LEVEL SECURITY
