-- A business number and a team member's email are unique within a tenant, not across tenants:
-- another tenant's number or member is neither revealed (no "already exists" oracle) nor
-- blocked. Webhooks are routed by the per-channel URL and verified with that channel's secret,
-- so two tenants naming one number cannot read each other's traffic.
--
-- SQLite cannot drop a column's UNIQUE constraint, so the three tables are rebuilt (SQLite's
-- documented procedure: foreign keys off, new table, copy, drop, rename, check). This migration
-- runs outside sqlx's transaction (PRAGMA foreign_keys is ignored inside one) and opens its
-- own; every statement is safe to run again if the process stops before sqlx records it.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE principals_new (
    lookup      BLOB NOT NULL,
    kind        TEXT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    subject_id  TEXT NOT NULL,
    PRIMARY KEY (lookup, tenant_id)
);
INSERT INTO principals_new (lookup, kind, tenant_id, subject_id)
    SELECT lookup, kind, tenant_id, subject_id FROM principals;
DROP TABLE principals;
ALTER TABLE principals_new RENAME TO principals;

CREATE TABLE users_new (
    tenant_id            TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    user_id              TEXT NOT NULL,
    email_ct             BLOB NOT NULL,
    email_bidx           BLOB NOT NULL,
    role_id              TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL DEFAULT 'active',
    totp_ct              BLOB,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    totp_pending_ct      BLOB,
    totp_last_step       INTEGER,
    PRIMARY KEY (tenant_id, user_id),
    UNIQUE (tenant_id, email_bidx),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles(tenant_id, role_id)
);
INSERT INTO users_new (tenant_id, user_id, email_ct, email_bidx, role_id, password_hash,
                       must_change_password, status, totp_ct, created_at, updated_at,
                       totp_pending_ct, totp_last_step)
    SELECT tenant_id, user_id, email_ct, email_bidx, role_id, password_hash,
           must_change_password, status, totp_ct, created_at, updated_at,
           totp_pending_ct, totp_last_step FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

CREATE TABLE channels_new (
    tenant_id            TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    channel_id           TEXT NOT NULL,
    phone_number_id      TEXT NOT NULL,
    waba_id              TEXT NOT NULL,
    display_phone_number TEXT NOT NULL,
    access_token_ct      BLOB NOT NULL,
    app_secret_ct        BLOB NOT NULL,
    app_secret_next_ct   BLOB,
    verify_token_ct      BLOB NOT NULL,
    graph_base_url       TEXT NOT NULL,
    status               TEXT NOT NULL DEFAULT 'active',
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel_id),
    UNIQUE (tenant_id, phone_number_id)
);
INSERT INTO channels_new (tenant_id, channel_id, phone_number_id, waba_id, display_phone_number,
                          access_token_ct, app_secret_ct, app_secret_next_ct, verify_token_ct,
                          graph_base_url, status, created_at, updated_at)
    SELECT tenant_id, channel_id, phone_number_id, waba_id, display_phone_number,
           access_token_ct, app_secret_ct, app_secret_next_ct, verify_token_ct,
           graph_base_url, status, created_at, updated_at FROM channels;
DROP TABLE channels;
ALTER TABLE channels_new RENAME TO channels;

COMMIT;
PRAGMA foreign_keys = ON;
