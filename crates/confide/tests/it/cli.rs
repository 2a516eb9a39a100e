use crate::{confide, run_ok, stderr};
use std::os::unix::fs::PermissionsExt;

fn tenant_create(dir: &std::path::Path, email: &str) -> serde_json::Value {
    let out = run_ok(confide(dir).args([
        "tenant",
        "create",
        "--name",
        "Acme",
        "--owner-email",
        email,
        "--json",
    ]));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn tenant_create_prints_ids_and_a_one_time_password() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(confide(dir.path()).args(["keys", "init"]));
    let v = tenant_create(dir.path(), "owner@acme.test");
    assert!(
        v["tenant_id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .is_ok()
    );
    assert!(
        v["owner_user_id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .is_ok()
    );
    let pw = v["owner_password"].as_str().unwrap();
    assert!(pw.len() >= 15, "one-time password meets the length rule");
    // The password is not stored in clear anywhere.
    let db = std::fs::read(dir.path().join("data/confide.db")).unwrap();
    assert!(!db.windows(pw.len()).any(|w| w == pw.as_bytes()));
    // A second tenant for the same owner email is a second membership of that person (emails
    // are unique within a tenant only, so no tenant learns another's members).
    let out = confide(dir.path())
        .args([
            "tenant",
            "create",
            "--name",
            "B",
            "--owner-email",
            "OWNER@acme.test",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(second["tenant_id"], v["tenant_id"]);
}

#[test]
fn audit_verify_passes_then_names_the_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(confide(dir.path()).args(["keys", "init"]));
    let v = tenant_create(dir.path(), "owner@acme.test");
    let out = run_ok(confide(dir.path()).args(["audit", "verify", "--json"]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tenants"][0]["ok"], true);
    assert_eq!(report["tenants"][0]["entries"], 2);

    let tenant = v["tenant_id"].as_str().unwrap();
    edit_audit_entry_2(dir.path(), tenant);
    let out = confide(dir.path())
        .args(["audit", "verify", "--tenant", tenant])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("audit entry 2 was altered"), "{err}");
}

/// Edits audit entry 2 directly in the SQLite file, as someone with file access could.
fn edit_audit_entry_2(dir: &std::path::Path, tenant: &str) {
    let url = format!("sqlite://{}/data/confide.db", dir.display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::{ConnectOptions, Executor};
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::any::AnyConnectOptions as std::str::FromStr>::from_str(&url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        conn.execute("DROP TRIGGER audit_entries_no_update")
            .await
            .unwrap();
        sqlx::query(
            "UPDATE audit_entries SET action = 'user.deleted' WHERE tenant_id = $1 AND seq = 2",
        )
        .bind(tenant.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    });
}

#[test]
fn keys_rotate_then_retire_keeps_data_readable() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(confide(dir.path()).args(["keys", "init"]));
    tenant_create(dir.path(), "owner@acme.test");
    let status = |dir: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&run_ok(confide(dir).args(["keys", "status", "--json"])).stdout)
            .unwrap()
    };
    let before = status(dir.path());
    let old = before["keks"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(before["keks"][0]["wrapped_tenant_keys"], 2);
    run_ok(confide(dir.path()).args(["keys", "rotate"]));
    let after = status(dir.path());
    let keks = after["keks"].as_array().unwrap();
    assert_eq!(keks.len(), 2);
    let new = keks.iter().find(|k| k["primary"] == true).unwrap();
    assert_eq!(new["wrapped_tenant_keys"], 2);
    run_ok(confide(dir.path()).args(["keys", "retire", &old]));
    let retired = status(dir.path());
    assert_eq!(retired["keks"].as_array().unwrap().len(), 1);
    // Everything still opens with the new key alone: the audit seal and every tenant key.
    run_ok(confide(dir.path()).args(["audit", "verify"]));
    // The keyring file keeps its private mode across rewrites.
    let mode = std::fs::metadata(dir.path().join("keys/keyring.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn keys_init_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(confide(dir.path()).args(["keys", "init"]));
    let before = std::fs::read(dir.path().join("keys/keyring.json")).unwrap();
    let out = confide(dir.path()).args(["keys", "init"]).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("keys/keyring.json")).unwrap(),
        before
    );
}

#[test]
fn bad_settings_stop_startup_with_one_line_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("CONFIDE_DATABASE_URL", "mysql://nope")],
            "database_url",
        ),
        (vec![("CONFIDE_LISTEN", "not-an-address")], "listen"),
        (vec![("CONFIDE_KEYRING", "{not json")], "keyring"),
    ];
    for (env, setting) in cases {
        let out = confide(dir.path())
            .args(["serve", "--admin-listen", "127.0.0.1:0"])
            .envs(env.clone())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let err = stderr(&out);
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("confide: ") && last.contains(setting),
            "{env:?}: {err}"
        );
    }
    // A keyring file others can read is refused, naming the setting and the fix.
    run_ok(confide(dir.path()).args(["keys", "init"]));
    let path = dir.path().join("keys/keyring.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = confide(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("keyring_path") && err.contains("chmod 600"),
        "{err}"
    );
}
