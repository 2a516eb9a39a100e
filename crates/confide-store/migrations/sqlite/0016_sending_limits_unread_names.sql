-- Issue 10, the rest of sending: messaging limits, unread counts, opt-out keyword settings and
-- name search.

-- A channel's messaging-limit tier ('250', '2000', '10000', '100000', 'unlimited'); NULL: the
-- operator's default (`outbound.messaging_limit`).
ALTER TABLE channels ADD COLUMN messaging_limit TEXT;

-- Who a channel reached outside a customer service window (business-initiated), with the latest
-- such send: the send gate counts the rows of the last 24 hours against the tier. Ids and times
-- only.
CREATE TABLE messaging_reach (
    tenant_id   TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    reached_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, contact_id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts(tenant_id, contact_id) ON DELETE CASCADE
);
CREATE INDEX messaging_reach_recent ON messaging_reach (tenant_id, channel_id, reached_at);

-- When the team last opened (read) a conversation; customer messages after it are unread.
ALTER TABLE conversations ADD COLUMN last_read_at INTEGER;
CREATE INDEX conversations_unread ON conversations (tenant_id)
    WHERE last_inbound_at > COALESCE(last_read_at, 0);

-- A tenant's opt-out keywords per language and confirmation texts (JSON; no personal data).
ALTER TABLE tenants ADD COLUMN opt_out_settings TEXT;

-- Name search on sealed names: one keyed blind index (HMAC with the tenant's index key) per
-- normalised word of a contact's name and per prefix of it (3 characters and longer).
CREATE TABLE contact_name_tokens (
    tenant_id   TEXT NOT NULL,
    token       BLOB NOT NULL,
    contact_id  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, token, contact_id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts(tenant_id, contact_id) ON DELETE CASCADE
);
CREATE INDEX contact_name_tokens_by_contact ON contact_name_tokens (tenant_id, contact_id);
