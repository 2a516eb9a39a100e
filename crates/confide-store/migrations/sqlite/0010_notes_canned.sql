-- Internal notes in a conversation's thread (never sent; the text is sealed), and the team's
-- canned responses (saved replies by shortcut; the text is sealed as it may name customers).
CREATE TABLE notes (
    tenant_id       TEXT NOT NULL,
    note_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    author          TEXT NOT NULL,
    text_ct         BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, note_id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations(tenant_id, conversation_id) ON DELETE CASCADE
);
CREATE INDEX notes_thread ON notes (tenant_id, conversation_id, created_at);

CREATE TABLE canned_responses (
    tenant_id   TEXT NOT NULL,
    canned_id   TEXT NOT NULL,
    shortcut    TEXT NOT NULL,
    text_ct     BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, canned_id),
    UNIQUE (tenant_id, shortcut)
);
