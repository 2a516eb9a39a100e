-- What Meta says each outbound message costs: the pricing of its status webhooks, once per
-- message (ids, categories and flags only).
CREATE TABLE charges (
    tenant_id       TEXT NOT NULL,
    wamid           TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    category        TEXT NOT NULL,
    pricing_model   TEXT,
    pricing_type    TEXT,
    billable        INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, wamid)
);
CREATE INDEX charges_by_time ON charges (tenant_id, at);
