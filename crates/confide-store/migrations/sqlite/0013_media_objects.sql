-- Media objects in the media store (local directory or S3): one row per object, the bytes sealed
-- in chunks with the tenant's key under a random storage key. The file name is sealed; the rest
-- is ids, types and sizes.
CREATE TABLE media_objects (
    tenant_id    TEXT NOT NULL,
    media_id     TEXT NOT NULL,
    -- image, audio, video, document or sticker (decided by the content, never by the name).
    kind         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    byte_size    INTEGER NOT NULL,
    -- Sealed (media_objects.file_name of this row).
    file_name    BLOB,
    storage_key  TEXT NOT NULL,
    -- upload (a team member's file) or inbound (fetched from Meta for a message).
    origin       TEXT NOT NULL,
    -- The inbound message the object came with.
    message_id   TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, media_id)
);
CREATE INDEX media_objects_by_message ON media_objects (tenant_id, message_id);

-- Single-use links that were fetched: the first successful fetch inserts the link id, so a
-- second one (here or on another instance) finds it and gets nothing.
CREATE TABLE media_link_uses (
    tenant_id TEXT NOT NULL,
    link_id   TEXT NOT NULL,
    media_id  TEXT NOT NULL,
    used_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, link_id)
);

-- An outbound media message records how Meta gets its bytes: link (a single-use signed link) or
-- upload (sent to Graph's media endpoint first).
ALTER TABLE outbox ADD COLUMN media_delivery TEXT;
-- Per channel: how outbound media reaches Meta (link or upload).
ALTER TABLE channels ADD COLUMN media_delivery TEXT NOT NULL DEFAULT 'link';
