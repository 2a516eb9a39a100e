-- The inbox at a million messages (issue 10; `confide-bench inbox` and `render` on a tenant of
-- 100,000 contacts and 1,000,000 messages). Each index serves a list that otherwise sorted or
-- scanned the whole tenant (EXPLAIN QUERY PLAN before → after):
--
-- every conversation, newest first (the inbox's "all" view; no status): a sort of all of the
-- tenant's conversations → a walk of this index;
CREATE INDEX conversations_recent ON conversations (tenant_id, last_message_at DESC, conversation_id DESC);
-- a team member's conversations ("mine"): a walk of every open conversation, skipping others'
-- → a walk of the member's own;
CREATE INDEX conversations_by_assignee ON conversations (tenant_id, assignee_user_id, last_message_at DESC, conversation_id DESC);
-- a contact's conversations (contact page): kept on an index of its own, or the planner walks
-- conversations_recent through the whole tenant to find one contact's;
CREATE INDEX conversations_by_contact ON conversations (tenant_id, contact_id, last_message_at DESC, conversation_id DESC);
-- the contact book newest first, with or without a label: a sort of every contact (of the
-- label) → a walk of this index;
CREATE INDEX contacts_newest ON contacts (tenant_id, created_at DESC, contact_id DESC);
-- a message page's "first media object of each message" (MIN(media_id)): SQLite's min
-- optimisation walked the primary key (tenant_id, media_id) through every media object of the
-- tenant for each message (6 s for a page of 50 with 200,000 objects) → one seek.
DROP INDEX media_objects_by_message;
CREATE INDEX media_objects_by_message ON media_objects (tenant_id, message_id, media_id);
