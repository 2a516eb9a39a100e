-- A business number and a team member's email are unique within a tenant, not across tenants:
-- another tenant's number or member is neither revealed (no "already exists" oracle) nor
-- blocked. Webhooks are routed by the per-channel URL and verified with that channel's secret,
-- so two tenants naming one number cannot read each other's traffic.
ALTER TABLE principals DROP CONSTRAINT principals_pkey;
ALTER TABLE principals ADD PRIMARY KEY (lookup, tenant_id);
ALTER TABLE users DROP CONSTRAINT users_email_bidx_key;
ALTER TABLE users ADD CONSTRAINT users_tenant_email UNIQUE (tenant_id, email_bidx);
ALTER TABLE channels DROP CONSTRAINT channels_phone_number_id_key;
ALTER TABLE channels ADD CONSTRAINT channels_tenant_number UNIQUE (tenant_id, phone_number_id);
