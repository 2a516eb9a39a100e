//! Identity commands: `api-key create`, `user reset-password`, `platform-admin create`.

use crate::{confide, run_ok, stderr};
use sqlx::{ConnectOptions, Row};
use std::str::FromStr;

fn setup(dir: &std::path::Path) -> serde_json::Value {
    run_ok(confide(dir).args(["keys", "init"]));
    let out = run_ok(confide(dir).args([
        "tenant",
        "create",
        "--name",
        "Acme",
        "--owner-email",
        "owner@acme.test",
        "--json",
    ]));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn key_hashes(dir: &std::path::Path) -> Vec<Vec<u8>> {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}/data/confide.db", dir.display());
    let mut conn = sqlx::any::AnyConnectOptions::from_str(&url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    sqlx::query("SELECT key_hash FROM api_keys")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_create_prints_the_key_once_and_stores_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let t = setup(dir.path());
    let tenant = t["tenant_id"].as_str().unwrap();
    let out = run_ok(confide(dir.path()).args([
        "api-key", "create", "--tenant", tenant, "--role", "agent", "--name", "CRM sync", "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = v["key"].as_str().unwrap();
    assert!(key.starts_with("cfd_key_"), "{key}");
    assert!(v["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    assert_eq!(
        key_hashes(dir.path()).await,
        vec![confide_crypto::token::hash_token(key).to_vec()]
    );
    let db = std::fs::read(dir.path().join("data/confide.db")).unwrap();
    assert!(
        !db.windows(key.len()).any(|w| w == key.as_bytes()),
        "never stored in clear"
    );
    let out = confide(dir.path())
        .args([
            "api-key", "create", "--tenant", tenant, "--role", "nope", "--name", "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no role"), "{}", stderr(&out));
}

#[test]
fn user_reset_password_gives_a_new_one_time_password() {
    let dir = tempfile::tempdir().unwrap();
    let t = setup(dir.path());
    let tenant = t["tenant_id"].as_str().unwrap();
    let out = run_ok(confide(dir.path()).args([
        "user",
        "reset-password",
        "--tenant",
        tenant,
        "--email",
        "owner@acme.test",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["user_id"], t["owner_user_id"]);
    let pw = v["password"].as_str().unwrap();
    assert!(pw.len() >= 15 && pw != t["owner_password"].as_str().unwrap());
    let out = confide(dir.path())
        .args([
            "user",
            "reset-password",
            "--tenant",
            tenant,
            "--email",
            "ghost@acme.test",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = run_ok(confide(dir.path()).args(["audit", "verify", "--json"]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tenants"][0]["ok"], true);
}

#[test]
fn platform_admin_create_prints_a_one_time_password() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(confide(dir.path()).args(["keys", "init"]));
    let out = run_ok(confide(dir.path()).args([
        "platform-admin",
        "create",
        "--email",
        "ops@host.test",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["password"].as_str().unwrap().len() >= 15);
    let out = confide(dir.path())
        .args(["platform-admin", "create", "--email", "OPS@host.test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"));
}
