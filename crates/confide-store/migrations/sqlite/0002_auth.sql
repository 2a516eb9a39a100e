-- Identity and access (issue 3): second factor, login throttling, platform operators, support
-- access. Global tables (no tenant_id) hold only keyed hashes and ids, like `principals`.

-- Second factor: a pending secret while enrolling, the last accepted TOTP step (a code works
-- once), and the tenant-wide requirement.
ALTER TABLE users ADD COLUMN totp_pending_ct BLOB;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
ALTER TABLE tenants ADD COLUMN require_2fa INTEGER NOT NULL DEFAULT 0;

-- Single-use recovery codes, stored as SHA-256 only.
CREATE TABLE recovery_codes (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    code_hash  BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, user_id) ON DELETE CASCADE
);

-- Login throttling, shared by every instance. A key is a keyed hash naming an account (its
-- login-email index, known or not), a client IP, or an (account, IP) pair.
CREATE TABLE login_throttle (
    throttle_key    BLOB PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL
);

-- IPs an account has signed in from (keyed hashes), for the victim-lockout bound.
CREATE TABLE login_known_ips (
    account_key     BLOB NOT NULL,
    ip_key          BLOB NOT NULL,
    last_success_at INTEGER NOT NULL,
    PRIMARY KEY (account_key, ip_key)
);

-- Platform operators: a separate identity that sees tenants' metadata only.
CREATE TABLE platform_admins (
    admin_id             TEXT PRIMARY KEY,
    email_lookup         BLOB NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 1,
    status               TEXT NOT NULL DEFAULT 'active',
    created_at           INTEGER NOT NULL
);

CREATE TABLE platform_sessions (
    session_id   TEXT PRIMARY KEY,
    admin_id     TEXT NOT NULL REFERENCES platform_admins(admin_id) ON DELETE CASCADE,
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);

-- Support access: granted by the tenant to one platform admin, for a role, until a time.
CREATE TABLE support_grants (
    tenant_id  TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    grant_id   TEXT NOT NULL,
    admin_id   TEXT NOT NULL,
    role_id    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (tenant_id, grant_id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles(tenant_id, role_id)
);

CREATE TABLE support_sessions (
    tenant_id    TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    grant_id     TEXT NOT NULL,
    admin_id     TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, session_id),
    FOREIGN KEY (tenant_id, grant_id) REFERENCES support_grants(tenant_id, grant_id) ON DELETE CASCADE
);
