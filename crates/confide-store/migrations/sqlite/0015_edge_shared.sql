-- The edge (issue 13): automatic bans and their failure counters (used on PostgreSQL, where
-- several instances share them; one SQLite process keeps its own in memory, but the tables are
-- the same on both engines), and each tenant's own CIDR lists for its UI and API.

CREATE TABLE address_failures (
    address      TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    failures     INTEGER NOT NULL
);
CREATE INDEX address_failures_window ON address_failures (window_start);

CREATE TABLE address_bans (
    address  TEXT PRIMARY KEY,
    reason   TEXT NOT NULL,
    failures INTEGER NOT NULL,
    since    INTEGER NOT NULL,
    until    INTEGER NOT NULL
);
CREATE INDEX address_bans_until ON address_bans (until);

-- A tenant's CIDR allow and deny lists for its UI and API (comma-separated, normalised; empty:
-- no list). Webhooks and media links are not subject to them.
ALTER TABLE tenants ADD COLUMN access_allow TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN access_deny TEXT NOT NULL DEFAULT '';
