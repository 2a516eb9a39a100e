//! Migrations, one set per engine, embedded in the binary and applied with sqlx's migrator
//! (which takes an advisory lock on PostgreSQL, so several instances may start at once).

use crate::backend::{Backend, StoreOptions, connect_options};
use crate::error::StoreError;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, ConnectOptions, Row, SqlSafeStr};

struct Source {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    /// The SQLite script manages its own transaction (a table rebuild, which needs foreign keys
    /// off, and `PRAGMA foreign_keys` is ignored inside a transaction).
    sqlite_own_transaction: bool,
}

const MIGRATIONS: &[Source] = &[
    Source {
        version: 1,
        description: "init",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 2,
        description: "auth",
        sqlite: include_str!("../migrations/sqlite/0002_auth.sql"),
        postgres: include_str!("../migrations/postgres/0002_auth.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 3,
        description: "ingest",
        sqlite: include_str!("../migrations/sqlite/0003_ingest.sql"),
        postgres: include_str!("../migrations/postgres/0003_ingest.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 4,
        description: "one open conversation",
        sqlite: include_str!("../migrations/sqlite/0004_one_open_conversation.sql"),
        postgres: include_str!("../migrations/postgres/0004_one_open_conversation.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 5,
        description: "tenant scoped identities",
        sqlite: include_str!("../migrations/sqlite/0005_tenant_scoped_identities.sql"),
        postgres: include_str!("../migrations/postgres/0005_tenant_scoped_identities.sql"),
        sqlite_own_transaction: true,
    },
    Source {
        version: 7,
        description: "sealed labels and sources, channel health",
        sqlite: include_str!("../migrations/sqlite/0007_sealed_labels_sources_health.sql"),
        postgres: include_str!("../migrations/postgres/0007_sealed_labels_sources_health.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 8,
        description: "channel health code",
        sqlite: include_str!("../migrations/sqlite/0008_channel_health_code.sql"),
        postgres: include_str!("../migrations/postgres/0008_channel_health_code.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 9,
        description: "outbox",
        sqlite: include_str!("../migrations/sqlite/0009_outbox.sql"),
        postgres: include_str!("../migrations/postgres/0009_outbox.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 10,
        description: "notes and canned responses",
        sqlite: include_str!("../migrations/sqlite/0010_notes_canned.sql"),
        postgres: include_str!("../migrations/postgres/0010_notes_canned.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 11,
        description: "broadcasts",
        sqlite: include_str!("../migrations/sqlite/0011_broadcasts.sql"),
        postgres: include_str!("../migrations/postgres/0011_broadcasts.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 12,
        description: "charges",
        sqlite: include_str!("../migrations/sqlite/0012_charges.sql"),
        postgres: include_str!("../migrations/postgres/0012_charges.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 13,
        description: "media objects",
        sqlite: include_str!("../migrations/sqlite/0013_media_objects.sql"),
        postgres: include_str!("../migrations/postgres/0013_media_objects.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 14,
        description: "data rights",
        sqlite: include_str!("../migrations/sqlite/0014_data_rights.sql"),
        postgres: include_str!("../migrations/postgres/0014_data_rights.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 15,
        description: "edge shared",
        sqlite: include_str!("../migrations/sqlite/0015_edge_shared.sql"),
        postgres: include_str!("../migrations/postgres/0015_edge_shared.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 16,
        description: "sending limits unread names",
        sqlite: include_str!("../migrations/sqlite/0016_sending_limits_unread_names.sql"),
        postgres: include_str!("../migrations/postgres/0016_sending_limits_unread_names.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 17,
        description: "dispatch leases",
        sqlite: include_str!("../migrations/sqlite/0017_dispatch_leases.sql"),
        postgres: include_str!("../migrations/postgres/0017_dispatch_leases.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 18,
        description: "exports",
        sqlite: include_str!("../migrations/sqlite/0018_exports.sql"),
        postgres: include_str!("../migrations/postgres/0018_exports.sql"),
        sqlite_own_transaction: false,
    },
    Source {
        version: 19,
        description: "inbox indexes",
        sqlite: include_str!("../migrations/sqlite/0019_inbox_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0019_inbox_indexes.sql"),
        sqlite_own_transaction: false,
    },
];

fn migrator(backend: Backend) -> Migrator {
    let list = MIGRATIONS
        .iter()
        .map(|m| {
            let sql = match backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            Migration::new(
                m.version,
                m.description.into(),
                MigrationType::Simple,
                sql.into_sql_str(),
                backend == Backend::Sqlite && m.sqlite_own_transaction,
            )
        })
        .collect();
    Migrator::with_migrations(list)
}

/// Applies every pending migration, connecting as the login role (not the application role).
pub async fn run(options: &StoreOptions, backend: Backend) -> Result<(), StoreError> {
    if backend == Backend::Sqlite {
        ensure_sqlite_parent(&options.url)?;
    }
    let mut conn = connect_options(options, backend)?.connect().await?;
    if backend == Backend::Sqlite {
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&mut conn)
            .await?;
    }
    migrator(backend).run(&mut conn).await?;
    Ok(())
}

/// Every migration this binary knows is applied.
pub async fn check_current(pool: &AnyPool, _backend: Backend) -> Result<(), StoreError> {
    let rows = sqlx::query("SELECT version FROM _sqlx_migrations")
        .fetch_all(pool)
        .await?;
    let applied: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.try_get::<i64, _>(0).ok())
        .collect();
    for m in MIGRATIONS {
        if !applied.contains(&m.version) {
            return Err(StoreError::Config(format!(
                "migration {} is not applied",
                m.version
            )));
        }
    }
    Ok(())
}

/// Creates the directory of a SQLite file so `serve` works in an empty directory.
fn ensure_sqlite_parent(url: &str) -> Result<(), StoreError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
        && !parent.exists()
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(parent).map_err(|e| {
            StoreError::Config(format!(
                "cannot create the database directory {}: {e}",
                parent.display()
            ))
        })?;
    }
    Ok(())
}
