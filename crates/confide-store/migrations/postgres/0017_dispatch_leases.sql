-- Dispatcher leases: each channel's queue is dispatched by one instance at a time. The holder
-- (a random id per process) renews its row while it dispatches; when the row expires another
-- instance takes it over. Ids and times only (no tenant data).
CREATE TABLE dispatch_leases (
    channel_id  TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL
);
-- Which dispatcher (lease holder) claimed an in-flight entry: when its lease is gone, the entry
-- is held for review (status needs_review) instead of being sent again.
ALTER TABLE outbox ADD COLUMN lease_holder TEXT;
GRANT SELECT, INSERT, UPDATE, DELETE ON dispatch_leases TO confide_app;
