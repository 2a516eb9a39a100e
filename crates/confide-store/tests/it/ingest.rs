//! Ingest (`confide_store::ingest`): a message stored once per wamid, and the bulk paths against
//! their one-by-one meaning: the same contacts, conversations, duplicates and final states,
//! whatever the batch holds.

use crate::fixtures::{channel, contact, tenant};
use crate::harness::TestDb;
use confide_core::audit::Actor;
use confide_core::phone::Phone;
use confide_store::conversations::{Direction, NewMessage, Stored};
use confide_store::ingest::StatusRow;
use confide_store::ingest::WaIdentity;

pub async fn messages_dedupe_on_wamid(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let mut s = db.store.scope(t).await.unwrap();
    let ch = s.create_channel(channel("111"), Actor::Cli).await.unwrap();
    let c = s
        .contacts()
        .create(contact(Some("+16505551234"), "Sheena"), Actor::Cli)
        .await
        .unwrap();
    let conv = s.inbox().open(c.id, ch.id).await.unwrap();
    assert_eq!(
        s.inbox().open(c.id, ch.id).await.unwrap(),
        conv,
        "one open conversation per pair"
    );
    let m = |text: &str| NewMessage {
        direction: Direction::Inbound,
        wamid: Some("wamid.HBgL1".into()),
        kind: "text".into(),
        body: serde_json::json!({"body": text}),
        status: "received".into(),
        at_micros: 5,
    };
    assert!(matches!(
        s.inbox().insert_message(conv, m("first")).await.unwrap(),
        Stored::Inserted(_)
    ));
    assert_eq!(
        s.inbox().insert_message(conv, m("retry")).await.unwrap(),
        Stored::Duplicate
    );
    let list = s.inbox().messages(conv, 10).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].body["body"], "first");
}

fn who(user: Option<&str>, phone: Option<&str>, name: Option<&str>) -> WaIdentity {
    WaIdentity {
        user_id: user.map(str::to_string),
        phone: phone.map(|p| Phone::parse(p).unwrap()),
        username: None,
        name: name.map(str::to_string),
    }
}

pub async fn bulk_contact_resolution_creates_each_identity_once(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let mut s = db.store.scope(t).await.unwrap();
    let batch = vec![
        who(Some("US.1"), Some("+16505550001"), Some("Ann")),
        who(Some("US.2"), None, Some("Bob")),
        who(Some("US.1"), Some("+16505550001"), Some("Annie")),
        who(Some("US.3"), Some("+16505550003"), None),
        // Shares US.3 with the identity above but not its shape: must land on the same contact.
        who(Some("US.3"), None, Some("Cy")),
        who(None, Some("+16505550004"), Some("Dee")),
    ];
    let ids = s.resolve_wa_contacts(&batch).await.unwrap();
    assert_eq!(ids.len(), batch.len());
    assert_eq!(ids[0], ids[2], "the same identity twice is one contact");
    assert_eq!(
        ids[3], ids[4],
        "a BSUID seen with and without a phone is one contact"
    );
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{ids:?}");
    assert_eq!(s.count_rows("contacts").await.unwrap(), 4);

    let ann = s.contacts().get(ids[0]).await.unwrap();
    assert_eq!(
        ann.name.as_deref(),
        Some("Annie"),
        "the latest profile name wins"
    );
    assert_eq!(ann.wa_user_id.as_deref(), Some("US.1"));
    assert_eq!(ann.phone.as_ref().map(|p| p.as_str()), Some("+16505550001"));
    let cy = s.contacts().get(ids[3]).await.unwrap();
    assert_eq!(cy.phone.as_ref().map(|p| p.as_str()), Some("+16505550003"));
    assert_eq!(cy.name.as_deref(), Some("Cy"));
    let dee = s.contacts().get(ids[5]).await.unwrap();
    assert_eq!(dee.wa_user_id, None);
    assert_eq!(dee.name.as_deref(), Some("Dee"));

    // Again, with one profile change and one new customer: same contacts, nothing duplicated.
    let again = vec![
        who(Some("US.2"), None, Some("Robert")),
        who(Some("US.1"), Some("+16505550001"), Some("Annie")),
        who(Some("US.5"), None, None),
    ];
    let ids2 = s.resolve_wa_contacts(&again).await.unwrap();
    assert_eq!(ids2[0], ids[1]);
    assert_eq!(ids2[1], ids[0]);
    assert!(!ids.contains(&ids2[2]));
    assert_eq!(s.count_rows("contacts").await.unwrap(), 5);
    assert_eq!(
        s.contacts().get(ids[1]).await.unwrap().name.as_deref(),
        Some("Robert")
    );

    // One open conversation per contact and channel, created together, found again.
    let ch = s.create_channel(channel("111"), Actor::Cli).await.unwrap();
    let convs = s.open_conversations(ch.id, &ids).await.unwrap();
    assert_eq!(convs.len(), 4);
    assert_eq!(s.count_rows("conversations").await.unwrap(), 4);
    assert_eq!(s.open_conversations(ch.id, &ids).await.unwrap(), convs);
    assert_eq!(s.inbox().open(ids[5], ch.id).await.unwrap(), convs[&ids[5]]);
    assert_eq!(s.count_rows("conversations").await.unwrap(), 4);
    s.commit().await.unwrap();
}

pub async fn bulk_senders_find_or_open_one_conversation_each(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let mut s = db.store.scope(t).await.unwrap();
    let ch = s.create_channel(channel("111"), Actor::Cli).await.unwrap();
    let other = s.create_channel(channel("222"), Actor::Cli).await.unwrap();
    // A customer already talking on the channel, one known only on another channel, one new.
    let known = s
        .resolve_wa_contacts(&[who(Some("US.1"), None, None)])
        .await
        .unwrap()[0];
    let open = s.inbox().open(known, ch.id).await.unwrap();
    let elsewhere = s
        .resolve_wa_contacts(&[who(Some("US.2"), None, None)])
        .await
        .unwrap()[0];
    let elsewhere_conv = s.inbox().open(elsewhere, other.id).await.unwrap();

    let batch = vec![
        who(Some("US.1"), None, None),
        who(Some("US.2"), None, None),
        who(Some("US.3"), None, Some("New")),
        who(Some("US.3"), None, Some("New")),
        // Known, with a profile name to fill in (the one-by-one path).
        who(Some("US.1"), None, Some("Named now")),
    ];
    let got = s.resolve_wa_senders(ch.id, &batch).await.unwrap();
    assert_eq!(got[0], (known, open), "the open conversation is reused");
    assert_eq!(got[4], (known, open));
    assert_eq!(got[1].0, elsewhere);
    assert_ne!(got[1].1, elsewhere_conv, "a conversation is per channel");
    assert_eq!(
        got[2], got[3],
        "one conversation for a new customer's two messages"
    );
    assert_eq!(s.count_rows("conversations").await.unwrap(), 4);
    assert_eq!(
        s.contacts().get(known).await.unwrap().name.as_deref(),
        Some("Named now")
    );
    // Asked again: nothing new.
    assert_eq!(s.resolve_wa_senders(ch.id, &batch).await.unwrap(), got);
    assert_eq!(s.count_rows("conversations").await.unwrap(), 4);
    assert_eq!(s.count_rows("contacts").await.unwrap(), 3);
    s.commit().await.unwrap();
}

fn message(wamid: &str, text: &str) -> NewMessage {
    NewMessage {
        direction: Direction::Inbound,
        wamid: Some(wamid.into()),
        kind: "text".into(),
        body: serde_json::json!({"text": text}),
        status: "received".into(),
        at_micros: 5,
    }
}

fn status(wamid: &str, status: &str, rank: i64) -> StatusRow {
    StatusRow {
        wamid: wamid.into(),
        status: status.into(),
        rank,
        at_micros: 7,
        details: None,
    }
}

pub async fn bulk_messages_and_statuses_are_stored_once_and_only_move_forward(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let mut s = db.store.scope(t).await.unwrap();
    let ch = s.create_channel(channel("111"), Actor::Cli).await.unwrap();
    let contact = s
        .resolve_wa_contacts(&[who(Some("US.1"), None, None)])
        .await
        .unwrap()[0];
    let conv = s.inbox().open(contact, ch.id).await.unwrap();

    let first = s
        .insert_messages(vec![
            (conv, message("wamid.A", "a")),
            (conv, message("wamid.B", "b")),
            (conv, message("wamid.A", "a again")),
        ])
        .await
        .unwrap();
    assert!(matches!(first[0], Stored::Inserted(_)));
    assert!(matches!(first[1], Stored::Inserted(_)));
    assert_eq!(first[2], Stored::Duplicate, "a repeat within the batch");
    let second = s
        .insert_messages(vec![
            (conv, message("wamid.B", "b again")),
            (conv, message("wamid.C", "c")),
        ])
        .await
        .unwrap();
    assert_eq!(second[0], Stored::Duplicate, "a repeat of an earlier batch");
    assert!(matches!(second[1], Stored::Inserted(_)));
    let list = s.inbox().messages(conv, 10).await.unwrap();
    assert_eq!(list.len(), 3);
    let a = list
        .iter()
        .find(|m| m.wamid.as_deref() == Some("wamid.A"))
        .unwrap();
    assert_eq!(a.body["text"], "a", "the first copy is kept");

    let recorded = s
        .record_statuses(&[
            status("wamid.A", "sent", 1),
            status("wamid.A", "read", 3),
            status("wamid.A", "sent", 1),
            status("wamid.B", "delivered", 2),
        ])
        .await
        .unwrap();
    assert_eq!(recorded, vec![true, true, false, true]);
    // Late and repeated statuses: recorded once, never moving a message back.
    let recorded = s
        .record_statuses(&[
            status("wamid.A", "delivered", 2),
            status("wamid.B", "delivered", 2),
        ])
        .await
        .unwrap();
    assert_eq!(recorded, vec![true, false]);
    assert_eq!(s.count_rows("message_statuses").await.unwrap(), 4);
    let list = s.inbox().messages(conv, 10).await.unwrap();
    let state = |w: &str| {
        list.iter()
            .find(|m| m.wamid.as_deref() == Some(w))
            .unwrap()
            .status
            .clone()
    };
    assert_eq!(state("wamid.A"), "read");
    assert_eq!(state("wamid.B"), "delivered");
    assert_eq!(state("wamid.C"), "received");
    s.commit().await.unwrap();
}

/// The database itself keeps one open conversation per contact and channel: a second open one
/// is refused whoever writes it, a resolved one leaves room for a new one.
pub async fn the_database_refuses_a_second_open_conversation(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let mut s = db.store.scope(t).await.unwrap();
    let ch = s.create_channel(channel("111"), Actor::Cli).await.unwrap();
    let contact = s
        .resolve_wa_contacts(&[who(Some("US.1"), None, None)])
        .await
        .unwrap()[0];
    let open = s.inbox().open(contact, ch.id).await.unwrap();
    s.commit().await.unwrap();

    let mut raw = db.raw().await;
    let insert = |id: &str, status: &str| {
        format!(
            "INSERT INTO conversations (tenant_id, conversation_id, contact_id, channel_id, status, last_message_at, created_at) \
             VALUES ('{t}', '{id}', '{contact}', '{}', '{status}', 1, 1)",
            ch.id
        )
    };
    let second = sqlx::Executor::execute(
        &mut raw,
        sqlx::AssertSqlSafe(insert("01a20000-0000-7000-8000-000000000001", "open")),
    )
    .await;
    assert!(second.is_err(), "a second open conversation was stored");
    sqlx::Executor::execute(
        &mut raw,
        sqlx::AssertSqlSafe(insert("01a20000-0000-7000-8000-000000000002", "resolved")),
    )
    .await
    .unwrap();
    // Opening again finds the one that is open.
    let mut s = db.store.scope(t).await.unwrap();
    assert_eq!(s.inbox().open(contact, ch.id).await.unwrap(), open);
    s.commit().await.unwrap();
}
