-- Confide schema, SQLite. Every tenant table carries tenant_id in its primary key and in every
-- foreign key. Personal data and secrets are stored only as envelopes (*_ct) and keyed blind
-- indexes (*_bidx); see docs/data-inventory.md.

CREATE TABLE tenants (
    tenant_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  INTEGER NOT NULL
);

-- Keyring metadata: each tenant's keys, wrapped by a key-encryption key that is not in the
-- database. version 0 is the blind-index key, versions >= 1 are data keys.
CREATE TABLE tenant_keys (
    tenant_id   TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    kek_id      TEXT NOT NULL,
    wrapped     BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

-- Global lookups that must work before the tenant is known (login email, session token, API
-- key). Only keyed hashes and ids: nothing here can be read back into personal data.
CREATE TABLE principals (
    lookup      BLOB PRIMARY KEY,
    kind        TEXT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    subject_id  TEXT NOT NULL
);

CREATE TABLE roles (
    tenant_id   TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    role_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    permissions TEXT NOT NULL,
    builtin     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, role_id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE users (
    tenant_id            TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    user_id              TEXT NOT NULL,
    email_ct             BLOB NOT NULL,
    email_bidx           BLOB NOT NULL UNIQUE,
    role_id              TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL DEFAULT 'active',
    totp_ct              BLOB,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles(tenant_id, role_id)
);

CREATE TABLE sessions (
    tenant_id     TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    token_hash    BLOB NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    user_agent_ct BLOB,
    ip_ct         BLOB,
    PRIMARY KEY (tenant_id, session_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE api_keys (
    tenant_id    TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    name         TEXT NOT NULL,
    role_id      TEXT NOT NULL,
    key_hash     BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    PRIMARY KEY (tenant_id, key_id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles(tenant_id, role_id)
);

CREATE TABLE channels (
    tenant_id            TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    channel_id           TEXT NOT NULL,
    phone_number_id      TEXT NOT NULL UNIQUE,
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
    PRIMARY KEY (tenant_id, channel_id)
);

-- Webhook routing: the channel id in the callback URL names its tenant (ids only).
CREATE TABLE channel_routes (
    channel_id TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE
);

CREATE TABLE contacts (
    tenant_id     TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    contact_id    TEXT NOT NULL,
    wa_user_bidx  BLOB,
    wa_user_ct    BLOB,
    phone_bidx    BLOB,
    phone_ct      BLOB,
    username_ct   BLOB,
    name_ct       BLOB,
    labels        TEXT NOT NULL DEFAULT '[]',
    attributes_ct BLOB,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, contact_id),
    UNIQUE (tenant_id, wa_user_bidx),
    UNIQUE (tenant_id, phone_bidx)
);

CREATE TABLE conversations (
    tenant_id        TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    contact_id       TEXT NOT NULL,
    channel_id       TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'open',
    assignee_user_id TEXT,
    last_inbound_at  INTEGER,
    last_message_at  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts(tenant_id, contact_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, channel_id) REFERENCES channels(tenant_id, channel_id) ON DELETE CASCADE
);
CREATE INDEX conversations_inbox ON conversations (tenant_id, status, last_message_at DESC);
CREATE INDEX conversations_contact ON conversations (tenant_id, contact_id, channel_id);

CREATE TABLE messages (
    tenant_id       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    direction       TEXT NOT NULL,
    wamid           TEXT,
    kind            TEXT NOT NULL,
    body_ct         BLOB,
    status          TEXT NOT NULL,
    status_rank     INTEGER NOT NULL DEFAULT 0,
    error_code      INTEGER,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, message_id),
    UNIQUE (tenant_id, wamid),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations(tenant_id, conversation_id) ON DELETE CASCADE
);
CREATE INDEX messages_page ON messages (tenant_id, conversation_id, created_at DESC);

CREATE TABLE message_statuses (
    tenant_id  TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    wamid      TEXT NOT NULL,
    status     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    details    TEXT,
    PRIMARY KEY (tenant_id, wamid, status)
) WITHOUT ROWID;

CREATE TABLE consent_events (
    tenant_id   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    status      TEXT NOT NULL,
    source      TEXT NOT NULL,
    evidence_ct BLOB,
    actor       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts(tenant_id, contact_id) ON DELETE CASCADE
);
CREATE INDEX consent_by_contact ON consent_events (tenant_id, contact_id, purpose, created_at);
-- The ledger is append-only; erasure of the contact is the only way rows leave it.
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;

CREATE TABLE templates (
    tenant_id   TEXT NOT NULL,
    template_id TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    language    TEXT NOT NULL,
    category    TEXT NOT NULL,
    status      TEXT NOT NULL,
    body_params INTEGER NOT NULL DEFAULT 0,
    components  TEXT NOT NULL DEFAULT '[]',
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, template_id),
    UNIQUE (tenant_id, channel_id, name, language),
    FOREIGN KEY (tenant_id, channel_id) REFERENCES channels(tenant_id, channel_id) ON DELETE CASCADE
);

-- The audit log: hash-chained and sealed (confide_core::audit). No foreign key to tenants: the
-- log outlives an erased tenant. The database refuses UPDATE and DELETE.
CREATE TABLE audit_entries (
    tenant_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    request_id TEXT,
    details    TEXT NOT NULL,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL,
    seal       BLOB NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY,
    seq       INTEGER NOT NULL,
    hash      BLOB NOT NULL
);
