-- The outbox: every outbound message waits here, after the send gate let it in, until the
-- dispatcher hands it to Graph. Ids, states and times only: the message itself (sealed) is the
-- `messages` row with the same id.
CREATE TABLE outbox (
    tenant_id        TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    channel_id       TEXT NOT NULL,
    contact_id       TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    -- The send path (agent_reply, api, template, broadcast, ...): what the gate decides again.
    path             TEXT NOT NULL,
    -- 0: conversation replies; 1: broadcast traffic (replies go first).
    priority         BIGINT NOT NULL,
    -- pending, in_flight (handed to Graph, answer not yet recorded), done, review (the process
    -- stopped between the hand-over and the record: never sent again automatically).
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    -- A keyed hash of the sender's Idempotency-Key (never the key itself).
    idempotency_hash BYTEA,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, message_id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages(tenant_id, message_id) ON DELETE CASCADE
);
CREATE INDEX outbox_due ON outbox (state, priority, next_attempt_at);
CREATE UNIQUE INDEX outbox_idempotency ON outbox (tenant_id, idempotency_hash) WHERE idempotency_hash IS NOT NULL;

-- Why an outbound message failed, in plain words (Meta's code stays in error_code).
ALTER TABLE messages ADD COLUMN error_reason TEXT;
-- Like the media fetch queue, the dispatcher reads the outbox across tenants (ids and states
-- only); everything it sends is read and written inside the tenant's own scope.
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO confide_app;
