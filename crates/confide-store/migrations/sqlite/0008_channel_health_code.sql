-- The Graph error code behind a channel's health (190, 10, 200-299, 368, 131031), so a stopped
-- channel says which error stopped it.
ALTER TABLE channels ADD COLUMN health_code BIGINT;
