//! Review finding 6 (labels and consent sources were stored in clear) and finding 5 (the
//! "append-only" consent ledger was deletable by the application role).

use crate::fixtures::{contact, contains, disk_bytes, exec, marker, tenant};
use crate::harness::{TestDb, open_store};
use confide_core::audit::Actor;
use confide_store::Backend;
use confide_store::consent::NewConsent;
use confide_store::contacts::{ContactChange, NewContact};
use sqlx::Row;

fn consent(source: &str, evidence: &str) -> NewConsent {
    NewConsent {
        purpose: "marketing".into(),
        status: "opted_in".into(),
        source: source.into(),
        evidence: Some(evidence.into()),
        actor: "user:x".into(),
        at_micros: 1,
        dedupe_key: None,
    }
}

/// Labels, attribute values, consent sources and evidence are sealed: none of them is on disk
/// in clear, yet each reads back, and a label still finds its contacts (by blind index).
pub async fn labels_attributes_and_consent_sources_never_reach_the_disk_in_clear(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let label = marker("vip-customer-label");
    let renamed = marker("renamed-label");
    let attr = marker("attribute-value");
    let source = marker("met-at-the-dentist");
    let evidence = marker("evidence-quote");
    let mut attributes = serde_json::Map::new();
    attributes.insert("note".into(), serde_json::json!(attr));
    let mut s = db.store.scope(t).await.unwrap();
    let c = s
        .contacts()
        .create(
            NewContact {
                labels: vec![label.clone(), "plain".into()],
                attributes,
                ..contact(None, "Someone")
            },
            Actor::Cli,
        )
        .await
        .unwrap();
    let other = s
        .contacts()
        .create(contact(None, "Other"), Actor::Cli)
        .await
        .unwrap();
    s.consent()
        .append(c.id, consent(&source, &evidence))
        .await
        .unwrap()
        .unwrap();
    let (_, fields) = s
        .contacts()
        .update(
            other.id,
            ContactChange {
                labels: Some(vec![renamed.clone()]),
                ..ContactChange::default()
            },
            Actor::Cli,
        )
        .await
        .unwrap();
    assert_eq!(fields, vec!["labels"]);
    s.commit().await.unwrap();

    let mut s = db.store.read_scope(t).await.unwrap();
    let back = s.contacts().get(c.id).await.unwrap();
    assert_eq!(back.labels, vec![label.clone(), "plain".to_string()]);
    assert_eq!(back.attributes["note"], serde_json::json!(attr));
    let by_label = s.contacts().list(Some(&label), None, 50).await.unwrap();
    assert_eq!(
        by_label.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![c.id]
    );
    let by_renamed = s.contacts().list(Some(&renamed), None, 50).await.unwrap();
    assert_eq!(
        by_renamed.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![other.id]
    );
    assert!(
        s.contacts()
            .list(Some("nobody-has-this"), None, 50)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let history = s.consent().history(c.id).await.unwrap();
    assert_eq!(history[0].source, source);
    assert_eq!(history[0].evidence.as_deref(), Some(evidence.as_str()));
    drop(s);

    let bytes = disk_bytes(db).await;
    for planted in [&label, &renamed, &attr, &source, &evidence] {
        assert!(
            !contains(&bytes, planted),
            "found {planted:?} in clear on disk"
        );
    }
}

/// The ledger is append-only: UPDATE is refused on both engines (a trigger), and on PostgreSQL
/// the application role holds neither UPDATE nor DELETE (nor TRUNCATE) at all.
pub async fn the_consent_ledger_refuses_update_and_delete_for_the_app_role(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let mut s = db.store.scope(t).await.unwrap();
    let c = s
        .contacts()
        .create(contact(None, "Someone"), Actor::Cli)
        .await
        .unwrap();
    s.consent()
        .append(c.id, consent("api", "signed form"))
        .await
        .unwrap()
        .unwrap();
    s.commit().await.unwrap();
    let tid = t.to_string();
    let update =
        format!("UPDATE consent_events SET status = 'opted_out' WHERE tenant_id = '{tid}'");
    let delete = format!("DELETE FROM consent_events WHERE tenant_id = '{tid}'");
    let mut raw = db.raw().await;
    assert!(
        exec(&mut raw, &update).await.is_err(),
        "UPDATE must be refused even for the owner"
    );
    if db.backend() == Backend::Postgres {
        exec(&mut raw, "SET ROLE confide_app").await.unwrap();
        exec(
            &mut raw,
            &format!("BEGIN; SELECT set_config('confide.tenant_id', '{tid}', true);"),
        )
        .await
        .unwrap();
        for sql in [&update, &delete, &"TRUNCATE consent_events".to_string()] {
            exec(&mut raw, "SAVEPOINT attempt").await.unwrap();
            let err = exec(&mut raw, sql).await.unwrap_err().to_string();
            assert!(err.contains("permission denied"), "{sql}: {err}");
            exec(&mut raw, "ROLLBACK TO SAVEPOINT attempt")
                .await
                .unwrap();
        }
        exec(&mut raw, "ROLLBACK").await.unwrap();
        exec(&mut raw, "RESET ROLE").await.unwrap();
    }
    let mut s = db.store.read_scope(t).await.unwrap();
    let history = s.consent().history(c.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, "opted_in");
}

/// Rows an older version wrote in clear (labels, consent sources) are sealed when the store
/// opens, once, and still read the same.
pub async fn clear_labels_and_sources_from_older_versions_are_sealed_at_start(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let label = marker("old-clear-label");
    let source = marker("old-clear-source");
    let mut s = db.store.scope(t).await.unwrap();
    let c = s
        .contacts()
        .create(contact(None, "Someone"), Actor::Cli)
        .await
        .unwrap();
    let event = s
        .consent()
        .append(c.id, consent("api", "form"))
        .await
        .unwrap()
        .unwrap();
    s.commit().await.unwrap();
    // Make the rows look as an older version left them: clear columns, no sealed ones.
    let mut raw = db.raw().await;
    let tid = t.to_string();
    let labels_json = serde_json::json!([label]).to_string();
    exec(&mut raw, "DELETE FROM maintenance_done")
        .await
        .unwrap();
    sqlx::query("UPDATE contacts SET labels = $1, labels_ct = NULL WHERE tenant_id = $2 AND contact_id = $3")
        .bind(labels_json)
        .bind(tid.clone())
        .bind(c.id.to_string())
        .execute(&mut raw)
        .await
        .unwrap();
    let (off, on) = match db.backend() {
        Backend::Postgres => (
            "ALTER TABLE consent_events DISABLE TRIGGER consent_events_no_update",
            "ALTER TABLE consent_events ENABLE TRIGGER consent_events_no_update",
        ),
        Backend::Sqlite => (
            "DROP TRIGGER consent_events_no_update",
            "CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events \
             BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END",
        ),
    };
    exec(&mut raw, off).await.unwrap();
    sqlx::query("UPDATE consent_events SET source = $1, source_ct = NULL WHERE tenant_id = $2 AND event_id = $3")
        .bind(source.clone())
        .bind(tid.clone())
        .bind(event.to_string())
        .execute(&mut raw)
        .await
        .unwrap();
    exec(&mut raw, on).await.unwrap();
    drop(raw);

    let again = open_store(&db.options, db.keyring.clone(), db.clock.clone()).await;
    let mut s = again.read_scope(t).await.unwrap();
    assert_eq!(
        s.contacts().get(c.id).await.unwrap().labels,
        vec![label.clone()]
    );
    assert_eq!(
        s.contacts()
            .list(Some(&label), None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(s.consent().history(c.id).await.unwrap()[0].source, source);
    drop(s);
    let mut raw = db.raw().await;
    let row =
        sqlx::query("SELECT labels, labels_ct IS NOT NULL FROM contacts WHERE contact_id = $1")
            .bind(c.id.to_string())
            .fetch_one(&mut raw)
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>(0), "[]");
    let row = sqlx::query("SELECT source FROM consent_events WHERE event_id = $1")
        .bind(event.to_string())
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), "");
    // The ledger is append-only again afterwards.
    let update = format!("UPDATE consent_events SET status = 'x' WHERE tenant_id = '{tid}'");
    assert!(exec(&mut raw, &update).await.is_err());
    again.close().await;
}

/// Name search over sealed names: a contact is found by the words of its name (and their
/// prefixes) through keyed tokens, within its tenant only, renamed contacts by their new name
/// only; contacts stored before name search get their tokens once, when the store opens.
pub async fn names_are_found_by_keyed_tokens_and_older_contacts_are_indexed_at_start(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let other = tenant(&db.store, "Other").await;
    let mut s = db.store.scope(t).await.unwrap();
    let maria = s
        .contacts()
        .create(contact(None, "María Fernández"), Actor::Cli)
        .await
        .unwrap();
    let mario = s
        .contacts()
        .create(contact(None, "Mario Rossi"), Actor::Cli)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let mut o = db.store.scope(other).await.unwrap();
    o.contacts()
        .create(contact(None, "Maria Other"), Actor::Cli)
        .await
        .unwrap();
    o.commit().await.unwrap();
    let find = |store: confide_store::Store, q: &'static str| async move {
        let mut s = store.read_scope(t).await.unwrap();
        let mut ids: Vec<String> = s
            .contacts()
            .search(None, Some(q), None, 50)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|c| c.id.to_string())
            .collect();
        s.commit().await.unwrap();
        ids.sort();
        ids
    };
    let mut both = vec![maria.id.to_string(), mario.id.to_string()];
    both.sort();
    assert_eq!(
        find(db.store.clone(), "maria").await,
        [maria.id.to_string()]
    );
    assert_eq!(find(db.store.clone(), "MAR").await, both);
    assert!(find(db.store.clone(), "maria rossi").await.is_empty());
    // Renamed: found by the new name only.
    let mut s = db.store.scope(t).await.unwrap();
    s.contacts()
        .update(
            mario.id,
            ContactChange {
                name: Some(Some("Mario Bianchi".into())),
                ..ContactChange::default()
            },
            Actor::Cli,
        )
        .await
        .unwrap();
    s.commit().await.unwrap();
    assert!(find(db.store.clone(), "rossi").await.is_empty());
    assert_eq!(
        find(db.store.clone(), "bianchi").await,
        [mario.id.to_string()]
    );

    // As an older version left them: no tokens.
    let mut raw = db.raw().await;
    exec(&mut raw, "DELETE FROM contact_name_tokens")
        .await
        .unwrap();
    exec(
        &mut raw,
        "DELETE FROM maintenance_done WHERE name = 'index_contact_names'",
    )
    .await
    .unwrap();
    drop(raw);
    assert!(find(db.store.clone(), "maria").await.is_empty());
    let again = open_store(&db.options, db.keyring.clone(), db.clock.clone()).await;
    assert_eq!(find(again.clone(), "maria").await, [maria.id.to_string()]);
    assert_eq!(find(again.clone(), "bianchi").await, [mario.id.to_string()]);
    again.close().await;
}
