-- The edge (issue 13): automatic bans and their failure counters, shared by every instance on
-- one database, and each tenant's own CIDR lists for its UI and API.

-- Failures per client address in the current window (bad webhook signatures, failed sign-ins,
-- refused authorizations). Addresses only, no tenant's data: no row-level security.
CREATE TABLE address_failures (
    address      TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures     BIGINT NOT NULL
);
CREATE INDEX address_failures_window ON address_failures (window_start);

-- Addresses refused everything until `until` (Unix microseconds), and why.
CREATE TABLE address_bans (
    address  TEXT PRIMARY KEY,
    reason   TEXT NOT NULL,
    failures BIGINT NOT NULL,
    since    BIGINT NOT NULL,
    until    BIGINT NOT NULL
);
CREATE INDEX address_bans_until ON address_bans (until);

GRANT SELECT, INSERT, UPDATE, DELETE ON address_failures TO confide_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON address_bans TO confide_app;

-- A tenant's CIDR allow and deny lists for its UI and API (comma-separated, normalised; empty:
-- no list). Webhooks and media links are not subject to them.
ALTER TABLE tenants ADD COLUMN access_allow TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN access_deny TEXT NOT NULL DEFAULT '';
