-- Confide schema, PostgreSQL. Every tenant table carries tenant_id in its primary key and in every
-- foreign key. Personal data and secrets are stored only as envelopes (*_ct) and keyed blind
-- indexes (*_bidx); see docs/data-inventory.md.

CREATE FUNCTION confide_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TABLE tenants (
    tenant_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  BIGINT NOT NULL
);

-- Keyring metadata: each tenant's keys, wrapped by a key-encryption key that is not in the
-- database. version 0 is the blind-index key, versions >= 1 are data keys.
CREATE TABLE tenant_keys (
    tenant_id   TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    kek_id      TEXT NOT NULL,
    wrapped     BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

-- Global lookups that must work before the tenant is known (login email, session token, API
-- key). Only keyed hashes and ids: nothing here can be read back into personal data.
CREATE TABLE principals (
    lookup      BYTEA PRIMARY KEY,
    kind        TEXT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    subject_id  TEXT NOT NULL
);

CREATE TABLE roles (
    tenant_id   TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    role_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    permissions TEXT NOT NULL,
    builtin     BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, role_id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE users (
    tenant_id            TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    user_id              TEXT NOT NULL,
    email_ct             BYTEA NOT NULL,
    email_bidx           BYTEA NOT NULL UNIQUE,
    role_id              TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password BIGINT NOT NULL DEFAULT 0,
    status               TEXT NOT NULL DEFAULT 'active',
    totp_ct              BYTEA,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles(tenant_id, role_id)
);

CREATE TABLE sessions (
    tenant_id     TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    token_hash    BYTEA NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    user_agent_ct BYTEA,
    ip_ct         BYTEA,
    PRIMARY KEY (tenant_id, session_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE api_keys (
    tenant_id    TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    name         TEXT NOT NULL,
    role_id      TEXT NOT NULL,
    key_hash     BYTEA NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    PRIMARY KEY (tenant_id, key_id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles(tenant_id, role_id)
);

CREATE TABLE channels (
    tenant_id            TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    channel_id           TEXT NOT NULL,
    phone_number_id      TEXT NOT NULL UNIQUE,
    waba_id              TEXT NOT NULL,
    display_phone_number TEXT NOT NULL,
    access_token_ct      BYTEA NOT NULL,
    app_secret_ct        BYTEA NOT NULL,
    app_secret_next_ct   BYTEA,
    verify_token_ct      BYTEA NOT NULL,
    graph_base_url       TEXT NOT NULL,
    status               TEXT NOT NULL DEFAULT 'active',
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
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
    wa_user_bidx  BYTEA,
    wa_user_ct    BYTEA,
    phone_bidx    BYTEA,
    phone_ct      BYTEA,
    username_ct   BYTEA,
    name_ct       BYTEA,
    labels        TEXT NOT NULL DEFAULT '[]',
    attributes_ct BYTEA,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
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
    last_inbound_at  BIGINT,
    last_message_at  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
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
    body_ct         BYTEA,
    status          TEXT NOT NULL,
    status_rank     BIGINT NOT NULL DEFAULT 0,
    error_code      BIGINT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, message_id),
    UNIQUE (tenant_id, wamid),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations(tenant_id, conversation_id) ON DELETE CASCADE
);
CREATE INDEX messages_page ON messages (tenant_id, conversation_id, created_at DESC);

CREATE TABLE message_statuses (
    tenant_id  TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    wamid      TEXT NOT NULL,
    status     TEXT NOT NULL,
    at         BIGINT NOT NULL,
    details    TEXT,
    PRIMARY KEY (tenant_id, wamid, status)
);

CREATE TABLE consent_events (
    tenant_id   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    status      TEXT NOT NULL,
    source      TEXT NOT NULL,
    evidence_ct BYTEA,
    actor       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts(tenant_id, contact_id) ON DELETE CASCADE
);
CREATE INDEX consent_by_contact ON consent_events (tenant_id, contact_id, purpose, created_at);
-- The ledger is append-only; erasure of the contact is the only way rows leave it.
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION confide_refuse_change();

CREATE TABLE templates (
    tenant_id   TEXT NOT NULL,
    template_id TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    language    TEXT NOT NULL,
    category    TEXT NOT NULL,
    status      TEXT NOT NULL,
    body_params BIGINT NOT NULL DEFAULT 0,
    components  TEXT NOT NULL DEFAULT '[]',
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, template_id),
    UNIQUE (tenant_id, channel_id, name, language),
    FOREIGN KEY (tenant_id, channel_id) REFERENCES channels(tenant_id, channel_id) ON DELETE CASCADE
);

-- The audit log: hash-chained and sealed (confide_core::audit). No foreign key to tenants: the
-- log outlives an erased tenant. The database refuses UPDATE and DELETE.
CREATE TABLE audit_entries (
    tenant_id  TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    request_id TEXT,
    details    TEXT NOT NULL,
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL,
    seal       BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION confide_refuse_change();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION confide_refuse_change();

CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY,
    seq       BIGINT NOT NULL,
    hash      BYTEA NOT NULL
);

-- The application role: it owns nothing, cannot bypass row-level security, and may only
-- append to the audit log. The server connects and then SET ROLEs to it (see store docs).
DO $$
BEGIN
    CREATE ROLE confide_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    EXECUTE format('GRANT confide_app TO %I', current_user);
EXCEPTION WHEN OTHERS THEN NULL;
END $$;
GRANT USAGE ON SCHEMA public TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON principals TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON channel_routes TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_keys TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON roles TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON users TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON sessions TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON api_keys TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON channels TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON contacts TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON conversations TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON messages TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON message_statuses TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON consent_events TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON templates TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON audit_heads TO confide_app;
GRANT SELECT, INSERT ON audit_entries TO confide_app;

-- Row-level security: a tenant table shows and accepts only the rows of the tenant set for the
-- transaction (SELECT set_config('confide.tenant_id', ..., true)); with nothing set, nothing.
ALTER TABLE tenant_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_keys
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE roles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON roles
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sessions
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE channels ENABLE ROW LEVEL SECURITY;
ALTER TABLE channels FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON channels
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON contacts
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON conversations
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON messages
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE message_statuses ENABLE ROW LEVEL SECURITY;
ALTER TABLE message_statuses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON message_statuses
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE consent_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE consent_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON consent_events
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE templates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON templates
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE audit_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_entries
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_heads
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
GRANT SELECT ON _sqlx_migrations TO confide_app;
