-- Full tenant exports (issue 14, GDPR Art. 15 and 20): one row per export job. Ids, states,
-- counts and times only: the zip itself is sealed with the tenant's key in the media store
-- under `storage_key` (`<tenant>/exports/<export id>`). The export worker reads this table across
-- tenants (like the outbox and the media fetch queue) to find queued jobs.
CREATE TABLE exports (
    tenant_id    TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    export_id    TEXT NOT NULL,
    -- tenant (everything) or contact (one person's data: a data-subject access request)
    scope        TEXT NOT NULL,
    contact_id   TEXT,
    -- Who asked (`user:<id>`, `api_key:<id>`).
    requested_by TEXT NOT NULL,
    -- queued, running, ready, failed
    status       TEXT NOT NULL,
    done         BIGINT NOT NULL DEFAULT 0,
    total        BIGINT NOT NULL DEFAULT 0,
    storage_key  TEXT,
    byte_size    BIGINT,
    -- Why it failed, in plain words (never personal data).
    error        TEXT,
    created_at   BIGINT NOT NULL,
    -- Last progress (a running job not heard of for a while is taken over).
    updated_at   BIGINT NOT NULL,
    -- When the zip and this row are deleted (set when it is ready or failed).
    expires_at   BIGINT,
    PRIMARY KEY (tenant_id, export_id)
);
CREATE INDEX exports_by_status ON exports (status, updated_at);
CREATE INDEX exports_by_expiry ON exports (expires_at) WHERE expires_at IS NOT NULL;
-- Like the outbox: ids and states only, read across tenants by the export worker; every API
-- read goes through the tenant's scope (tenant_id = the principal's).
GRANT SELECT, INSERT, UPDATE, DELETE ON exports TO confide_app;

-- Channel secrets an incident marked for rotation (`confide incident revoke` sets
-- secrets_rotation_requested_at, migration 14): which of them are still to be replaced, comma
-- separated (access_token, app_secret, verify_token). Each replacement takes its name off; the
-- last one clears both columns.
ALTER TABLE channels ADD COLUMN secrets_rotation_pending TEXT;
