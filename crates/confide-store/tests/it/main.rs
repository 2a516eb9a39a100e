//! The store's conformance suite: every case runs on SQLite, and on PostgreSQL when
//! `CONFIDE_TEST_POSTGRES_URL` names a server (each test in a database of its own, dropped after).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod at_rest;
mod audit;
mod erasure;
mod fixtures;
mod harness;
mod inbox_changes;
mod inbox_reads;
mod ingest;
mod leases;
mod lifecycle;
mod privacy;
mod sealed;
mod tenancy;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = crate::harness::TestDb::sqlite().await;
                    crate::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::harness::TestDb::postgres().await else { return };
                    crate::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}

conformance!(
    migrations_are_current_and_idempotent,
    tenant_creation_writes_keys_roles_owner_and_audit,
    secrets_and_personal_data_never_reach_the_disk_in_clear,
    ciphertext_swapped_between_rows_does_not_decrypt,
    contacts_are_found_by_blind_index_only_within_their_tenant,
    messages_dedupe_on_wamid,
    kek_rotation_under_live_writes_keeps_everything_readable,
    audit_chain_verifies_and_names_edited_entry,
    audit_chain_names_deleted_entry,
    audit_chain_names_reordered_entries,
    audit_chain_names_inserted_entry,
    database_refuses_update_and_delete_of_audit_rows,
    tenant_scope_never_returns_another_tenants_rows,
    bulk_contact_resolution_creates_each_identity_once,
    bulk_messages_and_statuses_are_stored_once_and_only_move_forward,
    bulk_senders_find_or_open_one_conversation_each,
    the_database_refuses_a_second_open_conversation,
    inbox_pages_walk_every_conversation_once_in_order,
    inbox_filters_select_by_status_and_assignee,
    inbox_filters_select_by_label_and_contacts,
    inbox_never_returns_another_tenants_conversations,
    message_pages_walk_newest_first_exactly_once,
    inbox_changes_assign_resolve_reopen_and_are_audited,
    inbox_reopen_refuses_a_second_open_conversation,
    inbox_start_finds_or_opens_the_one_open_conversation,
    labels_attributes_and_consent_sources_never_reach_the_disk_in_clear,
    the_consent_ledger_refuses_update_and_delete_for_the_app_role,
    clear_labels_and_sources_from_older_versions_are_sealed_at_start,
    names_are_found_by_keyed_tokens_and_older_contacts_are_indexed_at_start,
    erasing_a_contact_leaves_no_trace_and_keeps_its_opt_out,
    erasing_a_tenant_destroys_its_keys_and_rows_and_spares_the_others,
    the_data_inventory_names_every_column,
    a_dispatch_lease_has_one_holder_until_it_expires,
);

use at_rest::*;
use audit::*;
use erasure::*;
use inbox_changes::*;
use inbox_reads::*;
use ingest::*;
use leases::*;
use lifecycle::*;
use privacy::*;
use sealed::*;
use tenancy::*;

/// Row-level security is PostgreSQL's second wall; SQLite has no roles (its wall is the scope).
mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn several_instances_may_migrate_the_same_database_at_once() {
        let Some(db) = crate::harness::TestDb::postgres_unmigrated().await else {
            return;
        };
        crate::lifecycle::several_instances_may_migrate_the_same_database_at_once(&db).await;
        db.drop_database().await;
    }

    /// A test that panics before its clean-up must not leave its database behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scratch_database_is_removed_even_without_clean_up() {
        use sqlx::{ConnectOptions, Row};
        use std::str::FromStr;
        let Ok(admin) = std::env::var("CONFIDE_TEST_POSTGRES_URL") else {
            return;
        };
        let exists = |name: String| {
            let admin = admin.clone();
            async move {
                let mut conn = sqlx::any::AnyConnectOptions::from_str(&admin)
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM pg_database WHERE datname = '{name}'"
                )))
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get::<i64, _>(0)
                    == 1
            }
        };
        let db = confide_store::scratch::ScratchDatabase::create(&admin, "confide_test")
            .await
            .unwrap();
        let name = db.name().to_string();
        assert!(exists(name.clone()).await);
        drop(db);
        assert!(
            !exists(name).await,
            "dropped without remove(): the database is gone too"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn row_level_security_hides_other_tenants() {
        let Some(db) = crate::harness::TestDb::postgres().await else {
            return;
        };
        crate::tenancy::row_level_security_hides_other_tenants(&db).await;
        db.finish().await;
    }
}

/// SQLite's write-ahead log under the server's background checkpoints.
mod sqlite_only {
    use crate::fixtures::tenant;
    use crate::harness::TestDb;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Writes continuously for a while with background checkpoints every few milliseconds and
    /// the writer checkpointing itself every `writer_frames` (0: never); returns the largest
    /// log seen (frames).
    async fn largest_log_under_load(writer_frames: u32) -> i64 {
        let db = TestDb::sqlite_with(|o| {
            o.sqlite_background_checkpoint = true;
            o.sqlite_writer_checkpoint_frames = writer_frames;
        })
        .await;
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (store, stop, written) = (db.store.clone(), stop.clone(), written.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    tenant(&store, &format!("T{i}")).await;
                    i += 1;
                    written.store(i, Ordering::Relaxed);
                }
            })
        };
        // The same amount of writing in both runs, however fast the machine is at the time.
        let mut largest = 0;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while written.load(Ordering::Relaxed) < WRITES && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            largest = largest.max(db.store.checkpoint().await.unwrap());
        }
        stop.store(true, Ordering::Relaxed);
        writer.await.unwrap();
        db.finish().await;
        largest
    }

    /// Tenants created per run (each a handful of transactions).
    const WRITES: usize = 400;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn background_checkpoints_keep_the_write_ahead_log_bounded() {
        let bounded = largest_log_under_load(300).await;
        let unbounded = largest_log_under_load(0).await;
        eprintln!("largest log: {bounded} frames bounded, {unbounded} frames unbounded");
        assert!(
            unbounded > 3_000,
            "control: with background checkpoints alone the log keeps growing ({unbounded} frames)"
        );
        assert!(
            bounded < 1_500,
            "the writer's own checkpoints bound the log ({bounded} frames; {unbounded} without)"
        );
    }

    /// The ingest writer's commits leave the log flush to `sync_log` (NORMAL inside its scope),
    /// and every other write still waits for the disk (FULL): the writer connection is switched
    /// back before anyone else writes with it.
    #[tokio::test]
    async fn only_scopes_synced_later_skip_the_flush_and_every_other_write_keeps_it() {
        let db = TestDb::sqlite().await;
        let t = tenant(&db.store, "T").await;
        let mut s = db.store.scope(t).await.unwrap();
        assert_eq!(
            s.sqlite_synchronous().await.unwrap(),
            Some(2),
            "FULL by default"
        );
        s.commit().await.unwrap();
        for _ in 0..2 {
            let mut later = db.store.scope_synced_later(t).await.unwrap();
            assert_eq!(later.sqlite_synchronous().await.unwrap(), Some(1));
            later.commit().await.unwrap();
            db.store.sync_log().await.unwrap();
            let mut s = db.store.scope(t).await.unwrap();
            assert_eq!(
                s.sqlite_synchronous().await.unwrap(),
                Some(2),
                "a write after an ingest round waits for the disk again"
            );
            s.commit().await.unwrap();
        }
        // A scope dropped without committing leaves no lowered connection behind either.
        drop(db.store.scope_synced_later(t).await.unwrap());
        let mut s = db.store.scope(t).await.unwrap();
        assert_eq!(s.sqlite_synchronous().await.unwrap(), Some(2));
        drop(s);
        db.finish().await;
    }

    /// With `synchronous = normal` configured nothing is flushed per commit at all, and a scope
    /// synced later is an ordinary one.
    #[tokio::test]
    async fn with_synchronous_normal_a_scope_synced_later_is_an_ordinary_scope() {
        let db = TestDb::sqlite_with(|o| o.sqlite_synchronous = "normal".into()).await;
        let t = tenant(&db.store, "T").await;
        let mut later = db.store.scope_synced_later(t).await.unwrap();
        assert_eq!(later.sqlite_synchronous().await.unwrap(), Some(1));
        later.commit().await.unwrap();
        db.store.sync_log().await.unwrap();
        db.finish().await;
    }
}
