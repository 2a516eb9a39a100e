//! Encryption at rest: secrets and personal data never on disk in clear, ciphertexts bound to
//! their row, blind indexes per tenant, and a KEK rotation under live writes.

use crate::fixtures::{contact, contains, disk_bytes, marker, tenant};
use crate::harness::{TestDb, open_store};
use confide_core::audit::Actor;
use confide_core::entropy::{OsEntropy, random_array};
use confide_core::phone::Phone;
use confide_store::StoreError;
use confide_store::channels::NewChannel;
use confide_store::conversations::{Direction, NewMessage};
use secrecy::SecretString;
use sqlx::Row;

pub async fn secrets_and_personal_data_never_reach_the_disk_in_clear(db: &TestDb) {
    let control = marker("tenant-name-in-clear");
    let t = tenant(&db.store, &control).await;
    let token = marker("EAAGaccesstoken");
    let secret = marker("appsecret");
    let verify = marker("verifytoken");
    let name = marker("Sheena Nelson");
    let body = marker("my card number is");
    let digits: String = random_array::<5>(&OsEntropy)
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    let phone = format!("+1555{digits}42");
    let mut s = db.store.scope(t).await.unwrap();
    let ch = s
        .create_channel(
            NewChannel {
                phone_number_id: "106540352242922".into(),
                waba_id: "102290129340398".into(),
                display_phone_number: "15550783881".into(),
                access_token: SecretString::from(token.clone()),
                app_secret: SecretString::from(secret.clone()),
                verify_token: SecretString::from(verify.clone()),
                graph_base_url: "http://127.0.0.1:1".into(),
            },
            Actor::Cli,
        )
        .await
        .unwrap();
    let c = s
        .contacts()
        .create(contact(Some(&phone), &name), Actor::Cli)
        .await
        .unwrap();
    let conv = s.inbox().open(c.id, ch.id).await.unwrap();
    let m = NewMessage {
        direction: Direction::Inbound,
        wamid: Some("wamid.scan".into()),
        kind: "text".into(),
        body: serde_json::json!({"body": body}),
        status: "received".into(),
        at_micros: 1,
    };
    s.inbox().insert_message(conv, m).await.unwrap();
    s.commit().await.unwrap();

    // The data is really there and readable through the store.
    let mut s = db.store.read_scope(t).await.unwrap();
    assert_eq!(
        s.contacts().get(c.id).await.unwrap().name.as_deref(),
        Some(name.as_str())
    );
    let secrets = s.channel_secrets(ch.id).await.unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&secrets.app_secret),
        secret
    );
    drop(s);

    let bytes = disk_bytes(db).await;
    assert!(
        contains(&bytes, &control),
        "the scan must see plaintext that is stored in clear"
    );
    for planted in [&token, &secret, &verify, &name, &body, &phone, &phone[1..]] {
        assert!(
            !contains(&bytes, planted),
            "found {planted:?} in clear on disk"
        );
    }
}

pub async fn ciphertext_swapped_between_rows_does_not_decrypt(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let mut s = db.store.scope(t).await.unwrap();
    let a = s
        .contacts()
        .create(contact(None, "Alice"), Actor::Cli)
        .await
        .unwrap();
    let b = s
        .contacts()
        .create(contact(None, "Bob"), Actor::Cli)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let mut raw = db.raw().await;
    let name_of = |row: sqlx::any::AnyRow| row.get::<Vec<u8>, _>(0);
    let ca = name_of(
        sqlx::query("SELECT name_ct FROM contacts WHERE contact_id = $1")
            .bind(a.id.to_string())
            .fetch_one(&mut raw)
            .await
            .unwrap(),
    );
    let cb = name_of(
        sqlx::query("SELECT name_ct FROM contacts WHERE contact_id = $1")
            .bind(b.id.to_string())
            .fetch_one(&mut raw)
            .await
            .unwrap(),
    );
    for (id, ct) in [(a.id, cb), (b.id, ca)] {
        sqlx::query("UPDATE contacts SET name_ct = $1 WHERE contact_id = $2")
            .bind(ct)
            .bind(id.to_string())
            .execute(&mut raw)
            .await
            .unwrap();
    }
    let mut s = db.store.read_scope(t).await.unwrap();
    assert!(matches!(
        s.contacts().get(a.id).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        s.contacts().get(b.id).await,
        Err(StoreError::Corrupt(_))
    ));
}

pub async fn contacts_are_found_by_blind_index_only_within_their_tenant(db: &TestDb) {
    let a = tenant(&db.store, "A").await;
    let b = tenant(&db.store, "B").await;
    let mut s = db.store.scope(a).await.unwrap();
    let ca = s
        .contacts()
        .create(contact(Some("+16505551234"), "Sheena"), Actor::Cli)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let mut s = db.store.scope(a).await.unwrap();
    let dup = s
        .contacts()
        .create(contact(Some("+1 650 555 1234"), "Again"), Actor::Cli)
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(_))),
        "same phone twice in one tenant"
    );
    drop(s);
    let mut s = db.store.scope(b).await.unwrap();
    // The same number may be a contact of another tenant; its index differs.
    s.contacts()
        .create(contact(Some("+16505551234"), "Other"), Actor::Cli)
        .await
        .unwrap();
    assert!(
        s.contacts()
            .find_by_phone(&Phone::parse("+16505559999").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    s.commit().await.unwrap();
    let mut s = db.store.read_scope(a).await.unwrap();
    let found = s
        .contacts()
        .find_by_phone(&Phone::parse("16505551234").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, ca.id);
    assert_eq!(found.name.as_deref(), Some("Sheena"));
    let mut raw = db.raw().await;
    let distinct: i64 = sqlx::query("SELECT COUNT(DISTINCT phone_bidx) FROM contacts")
        .fetch_one(&mut raw)
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        distinct, 2,
        "per-tenant blind indexes differ for the same number"
    );
}

pub async fn kek_rotation_under_live_writes_keeps_everything_readable(db: &TestDb) {
    let tenants = vec![tenant(&db.store, "A").await, tenant(&db.store, "B").await];
    let old_kek = db.keyring.primary_kek_id().to_string();
    let writer = {
        let store = db.store.clone();
        let tenants = tenants.clone();
        tokio::spawn(async move {
            let mut written = Vec::new();
            for i in 0..60 {
                let t = tenants[i % 2];
                let mut s = store.scope(t).await.unwrap();
                let c = s
                    .contacts()
                    .create(contact(None, &format!("live-{i}")), Actor::Cli)
                    .await
                    .unwrap();
                s.commit().await.unwrap();
                written.push((t, c.id, format!("live-{i}")));
                tokio::task::yield_now().await;
            }
            written
        })
    };
    let mut ring = db.store.keyring_snapshot().unwrap();
    let new_kek = ring.rotate(db.clock.as_ref(), &OsEntropy);
    db.store.set_keyring(ring.clone()).unwrap();
    let rewrapped = db.store.rewrap_all_keys().await.unwrap();
    assert_eq!(rewrapped, 4, "two keys per tenant");
    let written = writer.await.unwrap();
    let usage = db.store.kek_usage().await.unwrap();
    assert!(usage.iter().all(|u| u.kek_id == new_kek), "{usage:?}");

    // Remove the old KEK and read everything through a fresh store (no cached keys).
    ring.remove(&old_kek).unwrap();
    let fresh = open_store(&db.options, ring, db.clock.clone()).await;
    for (t, id, name) in written {
        let mut s = fresh.read_scope(t).await.unwrap();
        assert_eq!(
            s.contacts().get(id).await.unwrap().name.as_deref(),
            Some(name.as_str())
        );
    }
    fresh.close().await;
}
