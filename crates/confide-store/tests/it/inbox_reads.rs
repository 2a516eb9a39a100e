//! The inbox's reads: keyset pages of conversations and messages that walk every row once in
//! order, filters by status and assignee, and the tenant wall.

use crate::fixtures::channel;
use crate::harness::TestDb;
use confide_core::audit::Actor;
use confide_core::email::Email;
use confide_core::ids::{ConversationId, TenantId, UserId};
use confide_core::phone::Phone;
use confide_store::Store;
use confide_store::contacts::NewContact;
use confide_store::conversations::{Direction, NewMessage};
use confide_store::inbox::{
    AssigneeFilter, ConversationFilter, ConversationStatus, InboxConversation,
};
use sqlx::AnyConnection;

pub(crate) async fn tenant_and_owner(store: &Store, name: &str) -> (TenantId, UserId) {
    let email = Email::parse(&format!("owner@{}.test", name.to_lowercase())).unwrap();
    let t = store
        .create_tenant(name, &email, "$argon2id$not-a-real-hash", Actor::Cli)
        .await
        .unwrap();
    (t.tenant_id, t.owner_user_id)
}

/// `n` conversations of the tenant, each with its own contact, their `last_message_at` set so
/// that some tie (the id decides). Returns them as created.
pub(crate) async fn conversations(
    db: &TestDb,
    t: TenantId,
    phone_number_id: &str,
    n: usize,
) -> Vec<ConversationId> {
    let mut s = db.store.scope(t).await.unwrap();
    let ch = s
        .create_channel(channel(phone_number_id), Actor::Cli)
        .await
        .unwrap();
    let base = db.store.clock().now_micros() + 1_000_000;
    let mut ids = Vec::new();
    for i in 0..n {
        let c = s
            .contacts()
            .create(
                NewContact {
                    phone: (i % 2 == 0)
                        .then(|| Phone::parse(&format!("+1650555{:04}", 1000 + i)).unwrap()),
                    username: (i % 3 == 0).then(|| format!("user{i}")),
                    name: Some(format!("Customer {i}")),
                    ..NewContact::default()
                },
                Actor::Cli,
            )
            .await
            .unwrap();
        let conv = s.inbox().open(c.id, ch.id).await.unwrap();
        // Groups of three share a time: the id breaks the tie.
        let at = base + i64::try_from(i / 3).unwrap() * 1_000;
        s.inbox()
            .insert_message(
                conv,
                NewMessage {
                    direction: Direction::Inbound,
                    wamid: Some(format!("wamid.{phone_number_id}.{i}")),
                    kind: "text".into(),
                    body: serde_json::json!({"text": format!("hello {i}")}),
                    status: "received".into(),
                    at_micros: at,
                },
            )
            .await
            .unwrap();
        ids.push(conv);
    }
    s.commit().await.unwrap();
    ids
}

pub(crate) async fn exec(conn: &mut AnyConnection, sql: &str, a: String, b: String) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(a)
        .bind(b)
        .execute(conn)
        .await
        .unwrap();
}

/// Every conversation the filter selects, walking pages of `limit`.
async fn walk(
    db: &TestDb,
    t: TenantId,
    filter: ConversationFilter,
    limit: i64,
) -> (Vec<InboxConversation>, usize) {
    let mut s = db.store.read_scope(t).await.unwrap();
    let mut all = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = s
            .inbox()
            .conversations(filter.clone(), after, limit)
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= usize::try_from(limit).unwrap());
        all.extend(page.items);
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
        assert!(pages < 100, "pagination does not end");
    }
    s.commit().await.unwrap();
    (all, pages)
}

fn is_inbox_order(list: &[InboxConversation]) -> bool {
    list.windows(2).all(|w| {
        (w[0].last_message_at, w[0].id.to_string()) > (w[1].last_message_at, w[1].id.to_string())
    })
}

pub async fn inbox_pages_walk_every_conversation_once_in_order(db: &TestDb) {
    let (t, _) = tenant_and_owner(&db.store, "Acme").await;
    let created = conversations(db, t, "111", 11).await;
    for limit in [1, 2, 3, 4, 11, 50] {
        let (all, pages) = walk(db, t, ConversationFilter::default(), limit).await;
        assert_eq!(all.len(), created.len(), "limit {limit}");
        assert!(
            is_inbox_order(&all),
            "limit {limit}: most recent first, then id"
        );
        let mut ids: Vec<_> = all.iter().map(|c| c.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), created.len(), "limit {limit}: each exactly once");
        let full = usize::try_from(limit).unwrap();
        assert_eq!(pages, created.len().div_ceil(full).max(1), "limit {limit}");
    }
    // The contact's display fields are decrypted; the window follows the last inbound message.
    let (all, _) = walk(db, t, ConversationFilter::default(), 50).await;
    let first = created[0];
    let c = all.iter().find(|c| c.id == first).unwrap();
    assert_eq!(c.contact_name.as_deref(), Some("Customer 0"));
    assert_eq!(c.contact_username.as_deref(), Some("user0"));
    assert_eq!(c.contact_phone.as_deref(), Some("+16505551000"));
    assert_eq!(c.status, "open");
    assert_eq!(c.assignee, None);
    assert_eq!(c.last_inbound_at, Some(c.last_message_at));
    let second = all.iter().find(|c| c.id == created[1]).unwrap();
    assert_eq!(second.contact_phone, None);
    assert_eq!(second.contact_username, None);
    // One conversation by id: the same row.
    let mut s = db.store.read_scope(t).await.unwrap();
    assert_eq!(&s.inbox().conversation(first).await.unwrap(), c);
    // Out-of-range limits are clamped, never an error.
    assert_eq!(
        s.inbox()
            .conversations(ConversationFilter::default(), None, 0)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    s.commit().await.unwrap();
}

pub async fn inbox_filters_select_by_status_and_assignee(db: &TestDb) {
    let (t, owner) = tenant_and_owner(&db.store, "Acme").await;
    let created = conversations(db, t, "111", 9).await;
    let mut raw = db.raw().await;
    // 0, 3, 6 resolved; 1, 2 assigned to the owner; 4 assigned to someone else.
    for i in [0, 3, 6] {
        exec(
            &mut raw,
            "UPDATE conversations SET status = $1 WHERE conversation_id = $2",
            "resolved".into(),
            created[i].to_string(),
        )
        .await;
    }
    for (i, user) in [
        (1, owner.to_string()),
        (2, owner.to_string()),
        (4, "0190a7a4-0000-7000-8000-000000000001".to_string()),
    ] {
        exec(
            &mut raw,
            "UPDATE conversations SET assignee_user_id = $1 WHERE conversation_id = $2",
            user,
            created[i].to_string(),
        )
        .await;
    }
    drop(raw);
    let ids = |list: Vec<InboxConversation>| {
        let mut v: Vec<usize> = list
            .iter()
            .map(|c| created.iter().position(|x| *x == c.id).unwrap())
            .collect();
        v.sort();
        v
    };
    let f = |status, assignee| ConversationFilter {
        status,
        assignee,
        ..ConversationFilter::default()
    };
    let cases: Vec<(ConversationFilter, Vec<usize>)> = vec![
        (f(None, None), (0..9).collect()),
        (f(Some(ConversationStatus::Resolved), None), vec![0, 3, 6]),
        (
            f(Some(ConversationStatus::Open), None),
            vec![1, 2, 4, 5, 7, 8],
        ),
        (f(None, Some(AssigneeFilter::User(owner))), vec![1, 2]),
        (
            f(None, Some(AssigneeFilter::Nobody)),
            vec![0, 3, 5, 6, 7, 8],
        ),
        (
            f(Some(ConversationStatus::Open), Some(AssigneeFilter::Nobody)),
            vec![5, 7, 8],
        ),
        (
            f(
                Some(ConversationStatus::Resolved),
                Some(AssigneeFilter::User(owner)),
            ),
            vec![],
        ),
    ];
    for (filter, want) in cases {
        for limit in [1, 2, 50] {
            let (list, _) = walk(db, t, filter.clone(), limit).await;
            assert!(is_inbox_order(&list), "{filter:?}");
            assert_eq!(ids(list), want, "{filter:?} limit {limit}");
        }
    }
    let (list, _) = walk(db, t, f(None, Some(AssigneeFilter::User(owner))), 50).await;
    assert!(list.iter().all(|c| c.assignee == Some(owner)));
}

pub async fn inbox_never_returns_another_tenants_conversations(db: &TestDb) {
    let (a, _) = tenant_and_owner(&db.store, "Alpha").await;
    let (b, _) = tenant_and_owner(&db.store, "Bravo").await;
    let of_a = conversations(db, a, "111", 3).await;
    let of_b = conversations(db, b, "222", 4).await;
    let (list, _) = walk(db, a, ConversationFilter::default(), 2).await;
    let mut got: Vec<_> = list.iter().map(|c| c.id).collect();
    got.sort();
    let mut want = of_a.clone();
    want.sort();
    assert_eq!(got, want, "A sees exactly its own");
    let mut s = db.store.read_scope(a).await.unwrap();
    for id in &of_b {
        assert!(matches!(
            s.inbox().conversation(*id).await,
            Err(confide_store::StoreError::NotFound)
        ));
        let page = s.inbox().messages_page(*id, None, 50).await.unwrap();
        assert!(page.items.is_empty(), "B's messages are not A's");
    }
    s.commit().await.unwrap();
    let (list, _) = walk(db, b, ConversationFilter::default(), 50).await;
    assert_eq!(list.len(), of_b.len());
}

pub async fn message_pages_walk_newest_first_exactly_once(db: &TestDb) {
    let (t, _) = tenant_and_owner(&db.store, "Acme").await;
    let conv = conversations(db, t, "111", 1).await[0];
    let mut s = db.store.scope(t).await.unwrap();
    let base = db.store.clock().now_micros() + 10_000_000;
    for i in 0..9_i64 {
        s.inbox()
            .insert_message(
                conv,
                NewMessage {
                    direction: if i % 2 == 0 {
                        Direction::Inbound
                    } else {
                        Direction::Outbound
                    },
                    wamid: Some(format!("wamid.page.{i}")),
                    kind: "text".into(),
                    body: serde_json::json!({"text": format!("m{i}")}),
                    status: "received".into(),
                    // Pairs share a time: the id breaks the tie.
                    at_micros: base + (i / 2) * 1_000,
                },
            )
            .await
            .unwrap();
    }
    s.commit().await.unwrap();
    let mut s = db.store.read_scope(t).await.unwrap();
    let newest_first = s.inbox().messages(conv, 100).await.unwrap();
    assert_eq!(newest_first.len(), 10);
    for limit in [1, 3, 4, 10, 200] {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = s.inbox().messages_page(conv, after, limit).await.unwrap();
            all.extend(page.items.into_iter().map(|m| {
                assert_eq!(m.media, None);
                m.message
            }));
            match page.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(all, newest_first, "limit {limit}");
    }
    assert_eq!(newest_first[0].body["text"], "m8");
    s.commit().await.unwrap();
}

/// The inbox's label filter (through the labels' blind index) and its contacts filter (a
/// search's matches), alone and with the others, on every page size.
pub async fn inbox_filters_select_by_label_and_contacts(db: &TestDb) {
    let (t, owner) = tenant_and_owner(&db.store, "Acme").await;
    let mut s = db.store.scope(t).await.unwrap();
    let ch = s.create_channel(channel("111"), Actor::Cli).await.unwrap();
    let mut convs = Vec::new();
    let mut contacts = Vec::new();
    for (i, labels) in [
        vec!["vip"],
        vec![],
        vec!["vip", "wholesale"],
        vec!["wholesale"],
        vec!["vip"],
    ]
    .into_iter()
    .enumerate()
    {
        let c = s
            .contacts()
            .create(
                NewContact {
                    name: Some(format!("Customer {i}")),
                    labels: labels.into_iter().map(str::to_string).collect(),
                    ..NewContact::default()
                },
                Actor::Cli,
            )
            .await
            .unwrap();
        let conv = s.inbox().open(c.id, ch.id).await.unwrap();
        s.inbox()
            .insert_message(
                conv,
                NewMessage {
                    direction: Direction::Inbound,
                    wamid: Some(format!("wamid.label.{i}")),
                    kind: "text".into(),
                    body: serde_json::json!({"text": "hi"}),
                    status: "received".into(),
                    at_micros: db.store.clock().now_micros() + i64::try_from(i).unwrap() * 1_000,
                },
            )
            .await
            .unwrap();
        convs.push(conv);
        contacts.push(c.id);
    }
    s.commit().await.unwrap();
    let ids = |list: Vec<InboxConversation>| {
        let mut v: Vec<usize> = list
            .iter()
            .map(|c| convs.iter().position(|x| *x == c.id).unwrap())
            .collect();
        v.sort();
        v
    };
    let label = |l: &str| ConversationFilter {
        label: Some(l.to_string()),
        ..ConversationFilter::default()
    };
    let cases: Vec<(ConversationFilter, Vec<usize>)> = vec![
        (label("vip"), vec![0, 2, 4]),
        (label("wholesale"), vec![2, 3]),
        (label("VIP"), vec![]),
        (label("nobody"), vec![]),
        (
            ConversationFilter {
                contacts: Some(vec![contacts[1], contacts[2]]),
                ..ConversationFilter::default()
            },
            vec![1, 2],
        ),
        (
            ConversationFilter {
                contacts: Some(vec![]),
                ..ConversationFilter::default()
            },
            vec![],
        ),
        (
            ConversationFilter {
                label: Some("vip".into()),
                contacts: Some(vec![contacts[1], contacts[2], contacts[3]]),
                status: Some(ConversationStatus::Open),
                assignee: Some(AssigneeFilter::Nobody),
                ..ConversationFilter::default()
            },
            vec![2],
        ),
        (
            ConversationFilter {
                label: Some("vip".into()),
                assignee: Some(AssigneeFilter::User(owner)),
                ..ConversationFilter::default()
            },
            vec![],
        ),
    ];
    for (filter, want) in cases {
        for limit in [1, 2, 50] {
            let (list, _) = walk(db, t, filter.clone(), limit).await;
            assert!(is_inbox_order(&list), "{filter:?}");
            assert_eq!(ids(list), want, "{filter:?} limit {limit}");
        }
    }
}
