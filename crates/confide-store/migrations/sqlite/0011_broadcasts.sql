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
    audience_ct        BLOB NOT NULL,
    -- running, paused, cancelled
    state              TEXT NOT NULL,
    recipients         INTEGER NOT NULL,
    refused_no_consent INTEGER NOT NULL,
    refused_other      INTEGER NOT NULL,
    created_by         TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, broadcast_id)
);
ALTER TABLE outbox ADD COLUMN broadcast_id TEXT;
CREATE INDEX outbox_broadcast ON outbox (tenant_id, broadcast_id) WHERE broadcast_id IS NOT NULL;
