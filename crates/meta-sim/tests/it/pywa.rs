//! meta-sim checked with an independent Cloud API client: pywa (PyPI), driven by
//! `tests/pywa/check_meta_sim.py` against the `meta-sim` binary. Sends (text, template), the
//! typed errors (131047, 190, 131056, 130429) must parse into pywa's error classes, a media
//! upload must parse, and the template listing (components with variables carry `example`, a
//! `summary`, paging) must parse as Meta's does.
//!
//! Needs Python with pywa: run when `CONFIDE_TEST_PYWA=1` (the interpreter from
//! `CONFIDE_TEST_PYTHON`, default `python3`); `.ci/run` installs the pinned pywa and requires
//! this test to have run.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const CONFIG: &str = r#"
seed = 7

[[numbers]]
phone_number_id = "111"
display_phone_number = "+1 555 000 1111"
waba_id = "222"
access_token = "EAApywa"
app_secret = "s3cret"
throughput = 1000

[[numbers]]
phone_number_id = "333"
display_phone_number = "+1 555 000 3333"
waba_id = "444"
access_token = "EAAslow"
app_secret = "s3cret"
throughput = 1

[[users]]
user_id = "US.1001"
name = "Ana"
phone = "15550001234"

[[users]]
user_id = "US.1002"
name = "Ben"
phone = "15550005678"

[[templates]]
waba_id = "222"
name = "order_update"
language = "en_US"
category = "UTILITY"
status = "APPROVED"
header = "Order {{1}}"
body = "Hi {{1}}, order {{2}} ships today."

[[templates]]
waba_id = "222"
name = "welcome_named"
language = "en_US"
category = "MARKETING"
status = "APPROVED"
body = "Hello {{first_name}}, welcome!"

[[templates]]
waba_id = "222"
name = "thanks"
language = "en_US"
category = "UTILITY"
status = "APPROVED"
body = "Thank you."

[[templates]]
waba_id = "444"
name = "thanks"
language = "en_US"
category = "UTILITY"
status = "APPROVED"
body = "Thank you."
"#;

#[test]
fn pywa_parses_meta_sims_sends_errors_media_and_template_listing() {
    if std::env::var("CONFIDE_TEST_PYWA").ok().as_deref() != Some("1") {
        println!(
            "pywa: skipped: set CONFIDE_TEST_PYWA=1 (with `pip install pywa==4.5.0`; the interpreter from CONFIDE_TEST_PYTHON) to check meta-sim with pywa"
        );
        return;
    }
    let python = std::env::var("CONFIDE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = std::env::temp_dir().join(format!("meta-sim-pywa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sim.toml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(CONFIG.as_bytes())
        .unwrap();
    let mut sim = Command::new(env!("CARGO_BIN_EXE_meta-sim"))
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(sim.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("meta-sim listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pywa/check_meta_sim.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(&base)
        .env("NO_PROXY", "127.0.0.1")
        .output();
    sim.kill().unwrap();
    let _ = sim.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.unwrap_or_else(|e| panic!("{python} could not run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "pywa did not accept meta-sim's answers:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pywa: all checks passed"), "{stdout}");
}
