//! Erasure (C13): a contact's rows are gone (ciphertext included) and its planted markers are
//! nowhere in the files, an opt-out outlives it as a tombstone, the audit chain still verifies;
//! a tenant's keys are destroyed and its rows deleted, other tenants untouched.

use crate::fixtures::{channel, contact, contains, disk_bytes, marker, tenant};
use crate::harness::TestDb;
use confide_core::audit::Actor;
use confide_core::entropy::{OsEntropy, random_array};
use confide_core::ids::{ContactId, TenantId};
use confide_store::audit::Verification;
use confide_store::consent::NewConsent;
use confide_store::contacts::NewContact;
use confide_store::conversations::{Direction, NewMessage, Stored};
use confide_store::media::NewMediaFetch;
use confide_store::{Backend, StoreError};
use sqlx::Row;

fn unique_phone() -> String {
    let digits: String = random_array::<6>(&OsEntropy)
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    format!("+1650{digits}1")
}

fn consent(purpose: &str, status: &str, at: i64) -> NewConsent {
    NewConsent {
        purpose: purpose.into(),
        status: status.into(),
        source: marker("consent-source"),
        evidence: Some(marker("consent-evidence")),
        actor: "cli".into(),
        at_micros: at,
        dedupe_key: None,
    }
}

/// Rows that refer to the contact, its conversation, its message or the message's wamid.
async fn rows_of(db: &TestDb, t: TenantId, ids: [&str; 4]) -> Vec<(&'static str, i64)> {
    let [contact, conversation, message, wamid] = ids;
    let mut raw = db.raw().await;
    let mut out = Vec::new();
    for (table, column, id) in [
        ("contacts", "contact_id", contact),
        ("contact_labels", "contact_id", contact),
        ("conversations", "contact_id", contact),
        ("consent_events", "contact_id", contact),
        ("outbox", "contact_id", contact),
        ("notes", "conversation_id", conversation),
        ("messages", "message_id", message),
        ("media_fetches", "message_id", message),
        ("message_statuses", "wamid", wamid),
    ] {
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE tenant_id = $1 AND {column} = $2"
        )))
        .bind(t.to_string())
        .bind(id.to_string())
        .fetch_one(&mut raw)
        .await
        .unwrap()
        .get(0);
        out.push((table, n));
    }
    out
}

/// The sealed bytes of the contact's and its message's personal fields, as stored.
async fn ciphertexts(db: &TestDb, t: TenantId, c: ContactId) -> Vec<Vec<u8>> {
    let mut raw = db.raw().await;
    let row = sqlx::query(
        // Not `phone_bidx`: the opt-out's tombstone keeps that keyed hash on purpose.
        "SELECT name_ct, phone_ct, attributes_ct, labels_ct FROM contacts WHERE tenant_id = $1 AND contact_id = $2",
    )
    .bind(t.to_string())
    .bind(c.to_string())
    .fetch_one(&mut raw)
    .await
    .unwrap();
    let mut out: Vec<Vec<u8>> = (0..4).map(|i| row.get::<Vec<u8>, _>(i)).collect();
    let bodies = sqlx::query(
        "SELECT body_ct FROM messages WHERE tenant_id = $1 AND conversation_id IN (SELECT conversation_id FROM conversations WHERE tenant_id = $1 AND contact_id = $2)",
    )
    .bind(t.to_string())
    .bind(c.to_string())
    .fetch_all(&mut raw)
    .await
    .unwrap();
    out.extend(bodies.iter().map(|r| r.get::<Vec<u8>, _>(0)));
    let notes = sqlx::query("SELECT text_ct FROM notes WHERE tenant_id = $1")
        .bind(t.to_string())
        .fetch_all(&mut raw)
        .await
        .unwrap();
    out.extend(notes.iter().map(|r| r.get::<Vec<u8>, _>(0)));
    out
}

fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

pub async fn erasing_a_contact_leaves_no_trace_and_keeps_its_opt_out(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let other = tenant(&db.store, "Other").await;
    let name = marker("Erasable Person");
    let phone = unique_phone();
    let body = marker("erasable message text");
    let note = marker("erasable note");
    let label = marker("erasable-label");
    let attribute = marker("erasable attribute");
    let wamid = format!("wamid.{}", marker("erase"));
    let mut s = db.store.scope(t).await.unwrap();
    let ch = s
        .create_channel(channel("1065403522"), Actor::Cli)
        .await
        .unwrap();
    let mut new = contact(Some(&phone), &name);
    new.labels = vec![label.clone()];
    new.attributes
        .insert("note".into(), serde_json::Value::String(attribute.clone()));
    let c = s.contacts().create(new, Actor::Cli).await.unwrap();
    let keep = s
        .contacts()
        .create(contact(Some(&unique_phone()), "Kept Person"), Actor::Cli)
        .await
        .unwrap();
    let conv = s.inbox().open(c.id, ch.id).await.unwrap();
    let Stored::Inserted(m) = s
        .inbox()
        .insert_message(
            conv,
            NewMessage {
                direction: Direction::Inbound,
                wamid: Some(wamid.clone()),
                kind: "image".into(),
                body: serde_json::json!({"caption": body}),
                status: "received".into(),
                at_micros: 1,
            },
        )
        .await
        .unwrap()
    else {
        panic!("stored once")
    };
    s.record_status(&wamid, "read", 3, 2, None).await.unwrap();
    s.enqueue_media_fetches(&[NewMediaFetch {
        message: m,
        channel: ch.id,
        meta_media_id: "1234".into(),
        sha256: None,
        mime_type: Some("image/jpeg".into()),
    }])
    .await
    .unwrap();
    let media_key = format!("{t}/inbound-object");
    s.media_objects()
        .insert(&confide_store::media_objects::NewMediaObject {
            id: confide_core::ids::MediaId::new(
                &confide_core::clock::SystemClock,
                &confide_core::entropy::OsEntropy,
            ),
            kind: "image".into(),
            content_type: "image/jpeg".into(),
            byte_size: 3,
            file_name: None,
            storage_key: media_key.clone(),
            origin: "inbound",
            message: Some(m),
        })
        .await
        .unwrap();
    s.notes().add(conv, "user:x", &note).await.unwrap();
    s.consent()
        .append(c.id, consent("marketing", "opted_in", 10))
        .await
        .unwrap();
    s.consent()
        .append(c.id, consent("service", "opted_out", 20))
        .await
        .unwrap();
    s.commit().await.unwrap();
    let mut s = db.store.scope(other).await.unwrap();
    let theirs = s
        .contacts()
        .create(contact(Some(&phone), "Same Number Elsewhere"), Actor::Cli)
        .await
        .unwrap();
    s.consent()
        .append(theirs.id, consent("service", "opted_out", 5))
        .await
        .unwrap();
    s.commit().await.unwrap();

    let sealed = ciphertexts(db, t, c.id).await;
    assert!(sealed.len() >= 6, "contact fields, the message, the note");
    let ids = [
        c.id.to_string(),
        conv.to_string(),
        m.to_string(),
        wamid.clone(),
    ];
    let ids = [
        ids[0].as_str(),
        ids[1].as_str(),
        ids[2].as_str(),
        ids[3].as_str(),
    ];
    let before = rows_of(db, t, ids).await;
    assert!(
        before.iter().filter(|(_, n)| *n > 0).count() >= 6,
        "the contact's rows exist before: {before:?}"
    );

    let mut s = db.store.scope(t).await.unwrap();
    let erased = s
        .erase_contact(c.id, Actor::User("u1".into()), Some("req-1".into()))
        .await
        .unwrap();
    s.commit().await.unwrap();
    assert!(db.store.truncate_log().await.unwrap(), "the log is emptied");
    assert_eq!(
        (
            erased.conversations,
            erased.messages,
            erased.notes,
            erased.consent_events
        ),
        (1, 1, 1, 2)
    );
    assert_eq!(
        erased.media,
        vec![media_key],
        "its media object is to be deleted"
    );
    assert_eq!(erased.tombstoned_purposes, vec!["service".to_string()]);

    // Nothing refers to the person any more.
    for (table, n) in rows_of(db, t, ids).await {
        assert_eq!(n, 0, "{table} still holds rows of the erased contact");
    }
    let mut s = db.store.read_scope(t).await.unwrap();
    assert!(matches!(
        s.contacts().get(c.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        s.contacts().get(keep.id).await.unwrap().name.as_deref(),
        Some("Kept Person")
    );
    drop(s);
    // Another tenant's contact with the same number is untouched.
    let mut s = db.store.read_scope(other).await.unwrap();
    assert_eq!(
        s.contacts().get(theirs.id).await.unwrap().phone,
        theirs.phone
    );
    assert_eq!(s.consent().history(theirs.id).await.unwrap().len(), 1);
    drop(s);

    // No marker and no ciphertext of the person is left in the files (SQLite: database and
    // log, after the log was emptied; PostgreSQL: a dump).
    let bytes = disk_bytes(db).await;
    for planted in [&name, &phone, &phone[1..], &body, &note, &label, &attribute] {
        assert!(!contains(&bytes, planted), "{planted} found on disk");
    }
    for (i, ct) in sealed.iter().enumerate() {
        assert!(
            !contains_bytes(&bytes, ct),
            "ciphertext {i} of the erased contact is still on disk ({:?})",
            db.backend()
        );
    }
    if db.backend() == Backend::Sqlite {
        let wal = db.dir.as_ref().unwrap().path().join("confide.db-wal");
        assert_eq!(
            std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0),
            0,
            "the write-ahead log was emptied"
        );
    }

    // The opt-out outlives the erasure: a contact who comes back with the same number is opted
    // out of service; the marketing opt-in did not survive.
    let mut s = db.store.scope(t).await.unwrap();
    let back = s
        .contacts()
        .create(
            NewContact {
                phone: c.phone.clone(),
                ..NewContact::default()
            },
            Actor::Meta,
        )
        .await
        .unwrap();
    let rows = s.consent_rows(back.id).await.unwrap();
    assert_eq!(
        rows,
        vec![("service".to_string(), "opted_out".to_string(), 20)]
    );
    assert!(s.consent().history(back.id).await.unwrap().is_empty());
    // Opting in again wins over the tombstone, and a second erasure drops it.
    s.consent()
        .append(back.id, consent("service", "opted_in", 30))
        .await
        .unwrap();
    let again = s.erase_contact(back.id, Actor::Cli, None).await.unwrap();
    assert!(again.tombstoned_purposes.is_empty());
    let newest = s
        .contacts()
        .create(
            NewContact {
                phone: c.phone.clone(),
                ..NewContact::default()
            },
            Actor::Meta,
        )
        .await
        .unwrap();
    assert!(s.consent_rows(newest.id).await.unwrap().is_empty());
    s.commit().await.unwrap();

    // The audit chain verifies and names no personal data.
    assert!(matches!(
        db.store.audit_verify(t).await.unwrap(),
        Verification::Intact { .. }
    ));
    let entries = db.store.audit_page(t, None, 500).await.unwrap();
    let erased_entry = entries
        .iter()
        .find(|e| e.action == "contact.erased" && e.target == format!("contact:{}", c.id))
        .expect("contact.erased audited");
    assert_eq!(erased_entry.request_id.as_deref(), Some("req-1"));
    for e in &entries {
        for planted in [&name, &phone, &body, &note, &label, &attribute] {
            assert!(!e.details.contains(planted.as_str()) && !e.target.contains(planted.as_str()));
        }
    }
}

pub async fn erasing_a_tenant_destroys_its_keys_and_rows_and_spares_the_others(db: &TestDb) {
    let t = tenant(&db.store, "Doomed").await;
    let other = tenant(&db.store, "Spared").await;
    let name = marker("Doomed Person");
    for tid in [t, other] {
        let mut s = db.store.scope(tid).await.unwrap();
        let ch = s
            .create_channel(channel("1065403599"), Actor::Cli)
            .await
            .unwrap();
        let c = s
            .contacts()
            .create(contact(Some(&unique_phone()), &name), Actor::Cli)
            .await
            .unwrap();
        let conv = s.inbox().open(c.id, ch.id).await.unwrap();
        s.inbox()
            .insert_message(
                conv,
                NewMessage {
                    direction: Direction::Inbound,
                    wamid: Some(format!("wamid.{}", marker("t"))),
                    kind: "text".into(),
                    body: serde_json::json!({"body": "hello"}),
                    status: "received".into(),
                    at_micros: 1,
                },
            )
            .await
            .unwrap();
        s.consent()
            .append(c.id, consent("marketing", "opted_in", 1))
            .await
            .unwrap();
        s.commit().await.unwrap();
    }
    let mut raw = db.raw().await;
    let sealed: Vec<u8> = sqlx::query("SELECT name_ct FROM contacts WHERE tenant_id = $1")
        .bind(t.to_string())
        .fetch_one(&mut raw)
        .await
        .unwrap()
        .get(0);
    drop(raw);

    let erased = db.store.erase_tenant(t, Actor::Cli).await.unwrap();
    assert_eq!(erased.keys, 2, "the index key and the data key");
    assert!(
        erased
            .rows
            .iter()
            .any(|(table, n)| table == "contacts" && *n == 1)
    );
    assert!(db.store.truncate_log().await.unwrap());

    // Nothing of the tenant is left but its audit log, and nothing of it decrypts.
    let mut raw = db.raw().await;
    let tables: Vec<String> = match db.backend() {
        Backend::Sqlite => sqlx::query(
            "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'tenant_id')",
        )
        .fetch_all(&mut raw)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect(),
        Backend::Postgres => sqlx::query(
            "SELECT table_name::text FROM information_schema.columns WHERE column_name = 'tenant_id' AND table_schema = 'public'",
        )
        .fetch_all(&mut raw)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect(),
    };
    assert!(tables.len() > 20, "{tables:?}");
    for table in &tables {
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE tenant_id = $1"
        )))
        .bind(t.to_string())
        .fetch_one(&mut raw)
        .await
        .unwrap()
        .get(0);
        if table == "audit_entries" || table == "audit_heads" {
            assert!(n > 0, "the audit log outlives the tenant");
        } else {
            assert_eq!(n, 0, "{table} still holds rows of the erased tenant");
        }
    }
    drop(raw);
    assert!(matches!(
        db.store.read_scope(t).await,
        Err(StoreError::NotFound)
    ));
    let bytes = disk_bytes(db).await;
    assert!(
        !contains_bytes(&bytes, &sealed),
        "the tenant's ciphertext is gone"
    );
    assert!(matches!(
        db.store.audit_verify(t).await.unwrap(),
        Verification::Intact { .. }
    ));
    // The other tenant is untouched and still decrypts.
    let mut s = db.store.read_scope(other).await.unwrap();
    let page = s.contacts().list(None, None, 10).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].name.as_deref(), Some(name.as_str()));
    assert_eq!(s.count_rows("messages").await.unwrap(), 1);
    drop(s);
    assert!(matches!(
        db.store.audit_verify(other).await.unwrap(),
        Verification::Intact { .. }
    ));
}
