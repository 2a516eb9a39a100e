-- Broadcasts: one approved template to an audience (a label or a list of contacts) on a channel.
-- Every recipient passed the send gate on its own; those it refused are counted, never sent.
-- The audience is sealed (a label can describe people).
CREATE TABLE broadcasts (
    tenant_id          TEXT NOT NULL,
    broadcast_id       TEXT NOT NULL,
    channel_id         TEXT NOT NULL,
    template           TEXT NOT NULL,
    language           TEXT NOT NULL,
    params             TEXT NOT NULL,
    purpose            TEXT NOT NULL,
    audience_ct        BYTEA NOT NULL,
    -- running, paused, cancelled
    state              TEXT NOT NULL,
    recipients         BIGINT NOT NULL,
    refused_no_consent BIGINT NOT NULL,
    refused_other      BIGINT NOT NULL,
    created_by         TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, broadcast_id)
);
ALTER TABLE outbox ADD COLUMN broadcast_id TEXT;
CREATE INDEX outbox_broadcast ON outbox (tenant_id, broadcast_id) WHERE broadcast_id IS NOT NULL;
ALTER TABLE broadcasts ENABLE ROW LEVEL SECURITY;
ALTER TABLE broadcasts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON broadcasts
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON broadcasts TO confide_app;
