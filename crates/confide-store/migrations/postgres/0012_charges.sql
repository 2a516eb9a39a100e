-- What Meta says each outbound message costs: the pricing of its status webhooks, once per
-- message (ids, categories and flags only).
CREATE TABLE charges (
    tenant_id       TEXT NOT NULL,
    wamid           TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    category        TEXT NOT NULL,
    pricing_model   TEXT,
    pricing_type    TEXT,
    billable        BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, wamid)
);
CREATE INDEX charges_by_time ON charges (tenant_id, at);
ALTER TABLE charges ENABLE ROW LEVEL SECURITY;
ALTER TABLE charges FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON charges
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON charges TO confide_app;
