-- Webhook ingest: idempotent consent events from WhatsApp, and the inbound media fetch queue.

-- A consent event that arrives again (Meta retries) carries the same dedupe key and is ignored.
ALTER TABLE consent_events ADD COLUMN dedupe_key BYTEA;
CREATE UNIQUE INDEX consent_events_dedupe ON consent_events (tenant_id, dedupe_key);

-- Inbound media still to fetch from Meta. Ids, hashes and states only (no personal data), read
-- across tenants by the fetch worker.
CREATE TABLE media_fetches (
    tenant_id       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    channel_id      TEXT NOT NULL,
    meta_media_id   TEXT NOT NULL,
    sha256          TEXT,
    mime_type       TEXT,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    object_key      TEXT,
    PRIMARY KEY (tenant_id, message_id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages(tenant_id, message_id) ON DELETE CASCADE
);
CREATE INDEX media_fetches_due ON media_fetches (status, next_attempt_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON media_fetches TO confide_app;
