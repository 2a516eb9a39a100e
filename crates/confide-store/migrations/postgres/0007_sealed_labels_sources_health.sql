-- Contact labels and consent sources may name or describe a person: they are sealed like every
-- other personal field. Labels are found by a per-tenant blind index (one row per label).
ALTER TABLE contacts ADD COLUMN labels_ct BYTEA;
CREATE TABLE contact_labels (
    tenant_id   TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    label_bidx  BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, contact_id, label_bidx),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts(tenant_id, contact_id) ON DELETE CASCADE
);
CREATE INDEX contact_labels_by_label ON contact_labels (tenant_id, label_bidx, contact_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON contact_labels TO confide_app;
ALTER TABLE contact_labels ENABLE ROW LEVEL SECURITY;
ALTER TABLE contact_labels FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON contact_labels
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE consent_events ADD COLUMN source_ct BYTEA;

-- The consent ledger is append-only for the application: it may read and append, never change
-- or remove (a trigger already refuses UPDATE for everyone). Rows leave only with their contact
-- (the cascade of an erasure, run by the referential action as the table owner).
REVOKE UPDATE, DELETE, TRUNCATE ON consent_events FROM confide_app;

-- A channel's health as Graph last reported it: ok, unverified, token_invalid, blocked,
-- rate_limited; the last Graph error in plain words; when it was checked.
ALTER TABLE channels ADD COLUMN health TEXT NOT NULL DEFAULT 'unverified';
ALTER TABLE channels ADD COLUMN health_detail TEXT;
ALTER TABLE channels ADD COLUMN health_checked_at BIGINT;

-- One-off maintenance done by the binary after the migrations (sealing rows written in clear by
-- older versions), recorded so it runs once.
CREATE TABLE maintenance_done (
    name    TEXT PRIMARY KEY,
    done_at BIGINT NOT NULL
);
GRANT SELECT, INSERT ON maintenance_done TO confide_app;

-- One person may be a member of several tenants: without a tenant named at sign-in, the oldest
-- membership is meant, so memberships remember when they began.
ALTER TABLE principals ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
