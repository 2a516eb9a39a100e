//! Incident response and tenant erasure from the command line (C13, C31).

use crate::{confide, run_ok, stderr};
use serde_json::Value;
use std::path::Path;

/// Runs raw SQL against the directory's SQLite database.
fn sql<T>(dir: &Path, f: impl AsyncFnOnce(&mut sqlx::AnyConnection) -> T) -> T {
    let url = format!("sqlite://{}/data/confide.db", dir.display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::ConnectOptions;
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::any::AnyConnectOptions as std::str::FromStr>::from_str(&url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        f(&mut conn).await
    })
}

fn json_out(dir: &Path, args: &[&str]) -> Value {
    let out = run_ok(confide(dir).args(args));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rfc3339(micros: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A tenant with an owner, two API keys and two signed-in sessions of the owner.
fn scripted_tenant(dir: &Path, name: &str) -> (String, String) {
    let t = json_out(
        dir,
        &[
            "tenant",
            "create",
            "--name",
            name,
            "--owner-email",
            &format!("owner@{name}.test"),
            "--json",
        ],
    );
    let tenant = t["tenant_id"].as_str().unwrap().to_string();
    let owner = t["owner_user_id"].as_str().unwrap().to_string();
    for key in ["crm", "backup"] {
        json_out(
            dir,
            &[
                "api-key", "create", "--tenant", &tenant, "--role", "agent", "--name", key,
                "--json",
            ],
        );
    }
    sign_in_twice(dir, &tenant, &owner);
    (tenant, owner)
}

/// Two browser sessions of the owner (as a sign-in leaves them).
fn sign_in_twice(dir: &Path, tenant: &str, owner: &str) {
    let (tid, uid) = (tenant.to_string(), owner.to_string());
    sql(dir, async move |c| {
        for i in 0..2u8 {
            let mut h = uid.as_bytes().to_vec();
            h.push(i);
            sqlx::query(
                "INSERT INTO sessions (tenant_id, session_id, user_id, token_hash, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, 1, 1, 9999999999999999)",
            )
            .bind(tid.clone())
            .bind(format!("0190a7a4-0000-7000-8000-00000000000{i}"))
            .bind(uid.clone())
            .bind(h)
            .execute(&mut *c)
            .await
            .unwrap();
        }
    });
}

async fn count(c: &mut sqlx::AnyConnection, sql: &str, tenant: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(tenant.to_string())
        .fetch_one(c)
        .await
        .unwrap()
        .get(0)
}

#[test]
fn incident_revoke_ends_every_session_and_key_and_the_report_lists_exactly_what_was_done() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(confide(dir.path()).args(["keys", "init"]));
    let (tenant, _) = scripted_tenant(dir.path(), "acme");
    let (other, _) = scripted_tenant(dir.path(), "other");
    run_ok(confide(dir.path()).args([
        "user",
        "reset-password",
        "--tenant",
        &tenant,
        "--email",
        "owner@acme.test",
        "--json",
    ]));
    // The reset ended the owner's sessions: they sign in twice again.
    let owner = sql(dir.path(), {
        let t = tenant.clone();
        async move |c: &mut sqlx::AnyConnection| {
            use sqlx::Row;
            sqlx::query("SELECT user_id FROM users WHERE tenant_id = $1")
                .bind(t)
                .fetch_one(c)
                .await
                .unwrap()
                .get::<String, _>(0)
        }
    });
    sign_in_twice(dir.path(), &tenant, &owner);

    let r = json_out(
        dir.path(),
        &["incident", "revoke", "--tenant", &tenant, "--json"],
    );
    assert_eq!(r["api_keys"], 2, "{r}");
    let (t3, o3) = (tenant.clone(), other.clone());
    let (sessions, live_keys, other_sessions, other_keys) = sql(dir.path(), async move |c| {
        (
            count(c, "SELECT COUNT(*) FROM sessions WHERE tenant_id = $1", &t3).await,
            count(
                c,
                "SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL",
                &t3,
            )
            .await,
            count(c, "SELECT COUNT(*) FROM sessions WHERE tenant_id = $1", &o3).await,
            count(
                c,
                "SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL",
                &o3,
            )
            .await,
        )
    });
    assert_eq!(
        (sessions, live_keys),
        (0, 0),
        "every session and key of the tenant ended"
    );
    assert_eq!(
        (other_sessions, other_keys),
        (2, 2),
        "another tenant is untouched"
    );

    // The report of the whole scenario: exactly the audited actions, by actor.
    let t4 = tenant.clone();
    let entries: Vec<(i64, String)> = sql(dir.path(), async move |c| {
        use sqlx::Row;
        sqlx::query("SELECT at, action FROM audit_entries WHERE tenant_id = $1 ORDER BY seq")
            .bind(t4)
            .fetch_all(c)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    });
    let first = entries.first().unwrap().0;
    let last = entries.last().unwrap().0;
    let report = json_out(
        dir.path(),
        &[
            "incident",
            "report",
            "--tenant",
            &tenant,
            "--since",
            &rfc3339(first),
            "--until",
            &rfc3339(last + 1),
            "--json",
        ],
    );
    let listed: Vec<&str> = report["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = entries.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(
        listed, expected,
        "every audited action, in order, nothing else"
    );
    for action in ["tenant.created", "api_key.created", "incident.revoked"] {
        assert!(listed.contains(&action), "{action} in {listed:?}");
    }
    assert_eq!(report["actions"]["api_key.created"], 2, "{report}");
    assert_eq!(report["actors"]["cli"]["incident.revoked"], 1, "{report}");
    // The range is honoured: until the revoke, the revoke is not listed.
    let report = json_out(
        dir.path(),
        &[
            "incident",
            "report",
            "--tenant",
            &tenant,
            "--since",
            &rfc3339(first),
            "--until",
            &rfc3339(last),
            "--json",
        ],
    );
    assert!(
        report["actions"].get("incident.revoked").is_none(),
        "{report}"
    );

    // Bad input is refused with a reason.
    let out = confide(dir.path())
        .args([
            "incident",
            "report",
            "--tenant",
            &tenant,
            "--since",
            "yesterday",
            "--until",
            "now",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("RFC 3339"), "{}", stderr(&out));
}

#[test]
fn tenant_erase_destroys_the_keys_then_the_rows_and_spares_other_tenants() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(confide(dir.path()).args(["keys", "init"]));
    let (tenant, _) = scripted_tenant(dir.path(), "doomed");
    let (other, _) = scripted_tenant(dir.path(), "spared");
    // Data settings: the import region and the retention periods, shown and changed.
    let v = json_out(
        dir.path(),
        &[
            "tenant",
            "settings",
            "--tenant",
            &tenant,
            "--default-region",
            "br",
            "--retention-messages-days",
            "30",
        ],
    );
    assert_eq!(v["default_region"], "BR");
    assert_eq!(v["retention_messages_days"], 30);
    assert_eq!(v["retention_security_days"], Value::Null);
    let v = json_out(dir.path(), &["tenant", "settings", "--tenant", &tenant]);
    assert_eq!(v["retention_messages_days"], 30, "kept");
    let out = confide(dir.path())
        .args([
            "tenant",
            "settings",
            "--tenant",
            &tenant,
            "--default-region",
            "XX",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Without --yes nothing happens.
    let out = confide(dir.path())
        .args(["tenant", "erase", "--tenant", &tenant])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run_ok(confide(dir.path()).args(["tenant", "erase", "--tenant", &tenant, "--yes"]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["keys_destroyed"], 2);
    let (t, o) = (tenant.clone(), other.clone());
    let (keys, users, audit, other_keys, other_users) = sql(dir.path(), async move |c| {
        (
            count(
                c,
                "SELECT COUNT(*) FROM tenant_keys WHERE tenant_id = $1",
                &t,
            )
            .await,
            count(c, "SELECT COUNT(*) FROM users WHERE tenant_id = $1", &t).await,
            count(
                c,
                "SELECT COUNT(*) FROM audit_entries WHERE tenant_id = $1",
                &t,
            )
            .await,
            count(
                c,
                "SELECT COUNT(*) FROM tenant_keys WHERE tenant_id = $1",
                &o,
            )
            .await,
            count(c, "SELECT COUNT(*) FROM users WHERE tenant_id = $1", &o).await,
        )
    });
    assert_eq!((keys, users), (0, 0));
    assert!(audit > 0, "the audit log stays");
    assert_eq!((other_keys, other_users), (2, 1));
    // Its chain still verifies; so does everyone else's; a second erase finds nothing.
    run_ok(confide(dir.path()).args(["audit", "verify", "--tenant", &tenant]));
    run_ok(confide(dir.path()).args(["audit", "verify"]));
    let out = confide(dir.path())
        .args(["tenant", "erase", "--tenant", &tenant, "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no such tenant"), "{}", stderr(&out));
    // The other tenant's API key still works as a credential the store can read.
    run_ok(confide(dir.path()).args([
        "api-key", "create", "--tenant", &other, "--role", "agent", "--name", "after", "--json",
    ]));
}
