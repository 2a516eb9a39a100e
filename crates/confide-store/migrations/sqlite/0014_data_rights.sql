-- Data rights (issue 14): per-tenant settings for imports and retention, and the consent
-- tombstones a contact's erasure leaves behind.

-- The region a phone number written without its country code belongs to (ISO 3166 alpha-2,
-- e.g. BR), for imports; how many days messages and security records are kept (NULL: for ever).
ALTER TABLE tenants ADD COLUMN default_region TEXT;
ALTER TABLE tenants ADD COLUMN retention_messages_days INTEGER;
ALTER TABLE tenants ADD COLUMN retention_security_days INTEGER;

-- What an erased contact's consent ledger leaves: for each purpose it had opted out of, the
-- keyed blind index of each of its identities (phone, WhatsApp user id) and when it opted out.
-- Nothing here can be read back into the person's data; it only lets an opt-out outlive the
-- erasure, so a contact who comes back with the same number is still not sent to.
CREATE TABLE consent_tombstones (
    tenant_id     TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    identity_bidx BLOB NOT NULL,
    purpose       TEXT NOT NULL,
    opted_out_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, identity_bidx, purpose)
);

-- An incident (`confide incident revoke`) marks every channel's secrets (access token, app
-- secret, verify token) as to be replaced; cleared when they are.
ALTER TABLE channels ADD COLUMN secrets_rotation_requested_at INTEGER;
