-- At most one open conversation per contact and channel. Ingest appends inbound messages to it
-- and opens a new one only when none is open; this index makes that rule hold even for
-- concurrent writers (several PostgreSQL instances) and for a reopen racing an ingest.
-- Duplicates from before the rule, if any, keep only their newest open conversation.
UPDATE conversations SET status = 'resolved'
 WHERE status = 'open' AND EXISTS (
       SELECT 1 FROM conversations newer
        WHERE newer.tenant_id = conversations.tenant_id
          AND newer.contact_id = conversations.contact_id
          AND newer.channel_id = conversations.channel_id
          AND newer.status = 'open'
          AND (newer.created_at > conversations.created_at
               OR (newer.created_at = conversations.created_at
                   AND newer.conversation_id > conversations.conversation_id)));
CREATE UNIQUE INDEX conversations_one_open ON conversations (tenant_id, contact_id, channel_id)
 WHERE status = 'open';
