-- Identity and access (issue 3): second factor, login throttling, platform operators, support
-- access. Global tables (no tenant_id) hold only keyed hashes and ids, like `principals`.

-- Second factor: a pending secret while enrolling, the last accepted TOTP step (a code works
-- once), and the tenant-wide requirement.
ALTER TABLE users ADD COLUMN totp_pending_ct BYTEA;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
ALTER TABLE tenants ADD COLUMN require_2fa BIGINT NOT NULL DEFAULT 0;

-- Single-use recovery codes, stored as SHA-256 only.
CREATE TABLE recovery_codes (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    code_hash  BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, user_id) ON DELETE CASCADE
);

-- Login throttling, shared by every instance. A key is a keyed hash naming an account (its
-- login-email index, known or not), a client IP, or an (account, IP) pair.
CREATE TABLE login_throttle (
    throttle_key    BYTEA PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL
);

-- IPs an account has signed in from (keyed hashes), for the victim-lockout bound.
CREATE TABLE login_known_ips (
    account_key     BYTEA NOT NULL,
    ip_key          BYTEA NOT NULL,
    last_success_at BIGINT NOT NULL,
    PRIMARY KEY (account_key, ip_key)
);

-- Platform operators: a separate identity that sees tenants' metadata only.
CREATE TABLE platform_admins (
    admin_id             TEXT PRIMARY KEY,
    email_lookup         BYTEA NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    must_change_password BIGINT NOT NULL DEFAULT 1,
    status               TEXT NOT NULL DEFAULT 'active',
    created_at           BIGINT NOT NULL
);

CREATE TABLE platform_sessions (
    session_id   TEXT PRIMARY KEY,
    admin_id     TEXT NOT NULL REFERENCES platform_admins(admin_id) ON DELETE CASCADE,
    token_hash   BYTEA NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- Support access: granted by the tenant to one platform admin, for a role, until a time.
CREATE TABLE support_grants (
    tenant_id  TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    grant_id   TEXT NOT NULL,
    admin_id   TEXT NOT NULL,
    role_id    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    PRIMARY KEY (tenant_id, grant_id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles(tenant_id, role_id)
);

CREATE TABLE support_sessions (
    tenant_id    TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    grant_id     TEXT NOT NULL,
    admin_id     TEXT NOT NULL,
    token_hash   BYTEA NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, session_id),
    FOREIGN KEY (tenant_id, grant_id) REFERENCES support_grants(tenant_id, grant_id) ON DELETE CASCADE
);

GRANT SELECT, INSERT, UPDATE, DELETE ON recovery_codes TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON login_known_ips TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON platform_admins TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON platform_sessions TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON support_grants TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON support_sessions TO confide_app;

ALTER TABLE recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE recovery_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON recovery_codes
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE support_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE support_grants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON support_grants
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
ALTER TABLE support_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE support_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON support_sessions
    USING (tenant_id = current_setting('confide.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('confide.tenant_id', true));
