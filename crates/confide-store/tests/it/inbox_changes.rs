//! The inbox's changes: assigning, resolving and reopening conversations (each audited, at most
//! one open per contact and channel) and starting one.

use crate::harness::TestDb;
use crate::inbox_reads::{conversations, exec, tenant_and_owner};
use confide_core::audit::Actor;
use confide_core::email::Email;
use confide_core::ids::{ConversationId, TenantId, UserId};
use confide_store::StoreError;
use confide_store::inbox::{ConversationChange, ConversationStatus, InboxConversation, InboxError};

/// A second member of the tenant (role `agent`), active.
async fn member(db: &TestDb, t: TenantId, email: &str) -> UserId {
    let mut s = db.store.scope(t).await.unwrap();
    let role = s
        .roles()
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "agent")
        .unwrap()
        .id;
    let id = s
        .users()
        .create(
            confide_store::users::NewUser {
                email: Email::parse(email).unwrap(),
                role_id: role,
                password_hash: "$argon2id$not-a-real-hash".into(),
                must_change_password: false,
            },
            Actor::Cli,
        )
        .await
        .unwrap();
    s.commit().await.unwrap();
    id
}

async fn change(
    db: &TestDb,
    t: TenantId,
    id: ConversationId,
    change: ConversationChange,
) -> Result<InboxConversation, InboxError> {
    let mut s = db.store.scope(t).await.unwrap();
    let r = s
        .inbox()
        .update(id, change, Actor::User("actor".into()))
        .await;
    if r.is_ok() {
        s.commit().await.unwrap();
    }
    r
}

/// The tenant's audit entries after `seq`, oldest first.
async fn audit_after(db: &TestDb, t: TenantId, seq: i64) -> Vec<confide_core::audit::AuditEntry> {
    let mut page = db.store.audit_page(t, None, 500).await.unwrap();
    page.retain(|e| e.seq > seq);
    page.reverse();
    page
}

async fn audit_head(db: &TestDb, t: TenantId) -> i64 {
    db.store.audit_page(t, None, 1).await.unwrap()[0].seq
}

pub async fn inbox_changes_assign_resolve_reopen_and_are_audited(db: &TestDb) {
    let (t, owner) = tenant_and_owner(&db.store, "Acme").await;
    let (other_tenant, stranger) = tenant_and_owner(&db.store, "Bravo").await;
    let agent = member(db, t, "agent@acme.test").await;
    let gone = member(db, t, "gone@acme.test").await;
    let mut raw = db.raw().await;
    exec(
        &mut raw,
        "UPDATE users SET status = $1 WHERE user_id = $2",
        "disabled".into(),
        gone.to_string(),
    )
    .await;
    drop(raw);
    let id = conversations(db, t, "111", 1).await[0];
    let before = db
        .store
        .read_scope(t)
        .await
        .unwrap()
        .inbox()
        .conversation(id)
        .await
        .unwrap();
    let start = audit_head(db, t).await;

    // Assign, then assign to someone else, then unassign.
    let c = change(
        db,
        t,
        id,
        ConversationChange {
            assignee: Some(Some(owner)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((c.assignee, c.status.as_str()), (Some(owner), "open"));
    let c = change(
        db,
        t,
        id,
        ConversationChange {
            assignee: Some(Some(agent)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(c.assignee, Some(agent));
    // Nothing given: nothing changes, nothing is audited.
    let same = change(db, t, id, ConversationChange::default())
        .await
        .unwrap();
    assert_eq!(same, c);
    let c = change(
        db,
        t,
        id,
        ConversationChange {
            assignee: Some(None),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(c.assignee, None);
    // Resolve and reopen; other fields stay.
    let c = change(
        db,
        t,
        id,
        ConversationChange {
            status: Some(ConversationStatus::Resolved),
            assignee: Some(Some(agent)),
        },
    )
    .await
    .unwrap();
    assert_eq!((c.status.as_str(), c.assignee), ("resolved", Some(agent)));
    let c = change(
        db,
        t,
        id,
        ConversationChange {
            status: Some(ConversationStatus::Open),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((c.status.as_str(), c.assignee), ("open", Some(agent)));
    assert_eq!(
        (c.contact_id, c.channel_id, c.created_at, c.last_message_at),
        (
            before.contact_id,
            before.channel_id,
            before.created_at,
            before.last_message_at
        )
    );

    // Refused: a disabled member, another tenant's user, a user that does not exist.
    for who in [
        gone,
        stranger,
        "0190a7a4-0000-7000-8000-000000000009".parse().unwrap(),
    ] {
        let r = change(
            db,
            t,
            id,
            ConversationChange {
                assignee: Some(Some(who)),
                status: Some(ConversationStatus::Resolved),
            },
        )
        .await;
        assert!(matches!(r, Err(InboxError::InvalidAssignee)), "{r:?}");
    }
    let mut s = db.store.read_scope(t).await.unwrap();
    let now = s.inbox().conversation(id).await.unwrap();
    s.commit().await.unwrap();
    assert_eq!(
        (now.status.as_str(), now.assignee),
        ("open", Some(agent)),
        "refusals change nothing"
    );
    // Another tenant's conversation is not found, and stays as it was.
    let r = change(
        db,
        other_tenant,
        id,
        ConversationChange {
            status: Some(ConversationStatus::Resolved),
            ..Default::default()
        },
    )
    .await;
    assert!(
        matches!(r, Err(InboxError::Store(StoreError::NotFound))),
        "{r:?}"
    );

    let entries = audit_after(db, t, start).await;
    let got: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("conversation.assigned", "user:actor"),
            ("conversation.assigned", "user:actor"),
            ("conversation.assigned", "user:actor"),
            ("conversation.assigned", "user:actor"),
            ("conversation.resolved", "user:actor"),
            ("conversation.reopened", "user:actor"),
        ]
    );
    for e in &entries {
        assert_eq!(e.target, format!("conversation:{id}"));
        assert!(!e.details.contains("Customer"), "ids only: {}", e.details);
    }
    let d: serde_json::Value = serde_json::from_str(&entries[1].details).unwrap();
    assert_eq!(
        d,
        serde_json::json!({"assignee": agent.to_string(), "previous_assignee": owner.to_string()})
    );
    let d: serde_json::Value = serde_json::from_str(&entries[2].details).unwrap();
    assert_eq!(d["assignee"], serde_json::Value::Null);
    assert!(matches!(
        db.store.audit_verify(t).await.unwrap(),
        confide_store::audit::Verification::Intact { .. }
    ));
}

pub async fn inbox_reopen_refuses_a_second_open_conversation(db: &TestDb) {
    let (t, _) = tenant_and_owner(&db.store, "Acme").await;
    let first = conversations(db, t, "111", 1).await[0];
    let resolve = ConversationChange {
        status: Some(ConversationStatus::Resolved),
        ..Default::default()
    };
    let reopen = ConversationChange {
        status: Some(ConversationStatus::Open),
        ..Default::default()
    };
    let c = change(db, t, first, resolve).await.unwrap();
    // The contact writes again: ingest opens a new conversation.
    let mut s = db.store.scope(t).await.unwrap();
    let second = s.inbox().open(c.contact_id, c.channel_id).await.unwrap();
    s.commit().await.unwrap();
    assert_ne!(second, first);
    let start = audit_head(db, t).await;
    let r = change(db, t, first, reopen).await;
    assert!(
        matches!(r, Err(InboxError::Store(StoreError::Conflict(_)))),
        "{r:?}"
    );
    let mut s = db.store.read_scope(t).await.unwrap();
    assert_eq!(
        s.inbox().conversation(first).await.unwrap().status,
        "resolved"
    );
    assert_eq!(
        s.inbox()
            .find_open(c.contact_id, c.channel_id)
            .await
            .unwrap(),
        Some(second)
    );
    s.commit().await.unwrap();
    assert!(
        audit_after(db, t, start).await.is_empty(),
        "a refusal is not audited"
    );
    // Reopening an open conversation is no change (and no conflict); once the other is resolved,
    // the first may be reopened.
    change(db, t, second, reopen).await.unwrap();
    change(db, t, second, resolve).await.unwrap();
    let c = change(db, t, first, reopen).await.unwrap();
    assert_eq!(c.status, "open");
    let mut s = db.store.read_scope(t).await.unwrap();
    assert_eq!(
        s.inbox()
            .find_open(c.contact_id, c.channel_id)
            .await
            .unwrap(),
        Some(first)
    );
    s.commit().await.unwrap();
    let actions: Vec<String> = audit_after(db, t, start)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        vec!["conversation.resolved", "conversation.reopened"]
    );
}

pub async fn inbox_start_finds_or_opens_the_one_open_conversation(db: &TestDb) {
    let (a, _) = tenant_and_owner(&db.store, "Alpha").await;
    let (b, _) = tenant_and_owner(&db.store, "Bravo").await;
    let of_a = conversations(db, a, "111", 1).await[0];
    let of_b = conversations(db, b, "222", 1).await[0];
    let mut s = db.store.read_scope(b).await.unwrap();
    let bc = s.inbox().conversation(of_b).await.unwrap();
    s.commit().await.unwrap();
    let mut s = db.store.scope(a).await.unwrap();
    let ac = s.inbox().conversation(of_a).await.unwrap();
    // Already open: found, not created.
    let (c, created) = s
        .inbox()
        .start(ac.contact_id, ac.channel_id, Actor::Cli)
        .await
        .unwrap();
    assert_eq!((c.id, created), (of_a, false));
    // B's contact or channel are nothing to A.
    let r = s
        .inbox()
        .start(bc.contact_id, ac.channel_id, Actor::Cli)
        .await;
    assert!(matches!(r, Err(InboxError::InvalidContact)), "{r:?}");
    let r = s
        .inbox()
        .start(ac.contact_id, bc.channel_id, Actor::Cli)
        .await;
    assert!(matches!(r, Err(InboxError::InvalidChannel)), "{r:?}");
    s.commit().await.unwrap();
    // Resolved: a new one is opened (and audited), then found.
    change(
        db,
        a,
        of_a,
        ConversationChange {
            status: Some(ConversationStatus::Resolved),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let start = audit_head(db, a).await;
    let mut s = db.store.scope(a).await.unwrap();
    let (c, created) = s
        .inbox()
        .start(ac.contact_id, ac.channel_id, Actor::Cli)
        .await
        .unwrap();
    assert!(created);
    assert_ne!(c.id, of_a);
    assert_eq!(
        (c.status.as_str(), c.assignee, c.last_inbound_at),
        ("open", None, None)
    );
    assert_eq!(c.contact_name.as_deref(), Some("Customer 0"));
    let (again, created) = s
        .inbox()
        .start(ac.contact_id, ac.channel_id, Actor::Cli)
        .await
        .unwrap();
    assert_eq!((again, created), (c.clone(), false));
    s.commit().await.unwrap();
    let entries = audit_after(db, a, start).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].action, "conversation.opened");
    assert_eq!(entries[0].target, format!("conversation:{}", c.id));
    // B is untouched.
    let mut s = db.store.read_scope(b).await.unwrap();
    assert_eq!(s.inbox().conversation(of_b).await.unwrap(), bc);
    assert_eq!(s.count_rows("conversations").await.unwrap(), 1);
    s.commit().await.unwrap();
}
