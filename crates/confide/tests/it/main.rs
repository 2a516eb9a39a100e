//! The `confide` binary, driven as an operator would: in an empty directory, with only
//! environment variables and flags.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth_cli;
mod cli;
mod crash;
mod data_cli;
mod failover;
mod serve;

use std::path::Path;
use std::process::{Command, Output};

/// A `confide` command in `dir`, with cheap password hashing and no inherited CONFIDE_ settings.
pub fn confide(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_confide"));
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("CONFIDE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("CONFIDE_PASSWORD__M_COST_KIB", "64")
        .env("CONFIDE_PASSWORD__T_COST", "1")
        .env("CONFIDE_LOG__FORMAT", "json");
    cmd
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "command failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
