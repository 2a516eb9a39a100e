//! The `meta-sim` binary: reads a config file, prints its address, serves the Graph API.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

#[tokio::test]
async fn the_binary_serves_a_toml_config() {
    let dir = std::env::temp_dir().join(format!("meta-sim-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sim.toml");
    let mut f = std::fs::File::create(&path).unwrap();
    write!(
        f,
        r#"
seed = 3

[[numbers]]
phone_number_id = "111"
display_phone_number = "+1 555 000 1111"
waba_id = "222"
access_token = "EAAbin"
app_secret = "s3cret"
throughput = 1000

[[users]]
user_id = "US.1234567890"
name = "Test User"
phone = "15550001234"

[[templates]]
waba_id = "222"
name = "hello"
language = "en_US"
category = "UTILITY"
status = "APPROVED"
body = "Hello {{{{1}}}}"
"#
    )
    .unwrap();
    drop(f);

    let mut child = Command::new(env!("CARGO_BIN_EXE_meta-sim"))
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("meta-sim listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let resp = http
        .get(format!("{base}/v24.0/111"))
        .bearer_auth("EAAbin")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap();
    let templates: serde_json::Value = http
        .get(format!("{base}/v24.0/222/message_templates"))
        .bearer_auth("EAAbin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let send = http
        .post(format!("{base}/v24.0/111/messages"))
        .bearer_auth("EAAbin")
        .json(
            &serde_json::json!({"messaging_product":"whatsapp","to":"15550001234","type":"template",
            "template":{"name":"hello","language":{"code":"en_US"},
            "components":[{"type":"body","parameters":[{"type":"text","text":"you"}]}]}}),
        )
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let inbound: serde_json::Value = http
        .post(format!("{base}/_sim/customer_sends"))
        .json(&serde_json::json!({"user":"15550001234","phone_number_id":"111","text":"hi from the control API"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events: serde_json::Value = http
        .get(format!("{base}/_sim/events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let unknown_user = http
        .post(format!("{base}/_sim/customer_sends"))
        .json(&serde_json::json!({"user":"nobody","phone_number_id":"111","text":"x"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    child.kill().unwrap();
    let _ = child.wait();
    drop(stdout);
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["display_phone_number"], "15550001111");
    assert_eq!(body["throughput"]["level"], "HIGH");
    assert_eq!(templates["data"][0]["name"], "hello");
    assert_eq!(send, 200);
    let wamid = inbound["id"].as_str().unwrap();
    let last = events.as_array().unwrap().last().unwrap();
    assert_eq!(last["change"]["value"]["messages"][0]["id"], wamid);
    assert_eq!(
        last["change"]["value"]["messages"][0]["text"]["body"],
        "hi from the control API"
    );
    assert_eq!(unknown_user, 404);
}

#[test]
fn json_configs_load_too() {
    let cfg = meta_sim::SimConfig::from_json(
        r#"{"numbers":[{"phone_number_id":"1","display_phone_number":"2","waba_id":"3",
            "access_token":"t","app_secret":"s","window_mode":"failed_webhook",
            "token_expires_at":1767225600}],
            "webhooks":{"max_batch":50,"duplicate_probability":0.05}}"#,
    )
    .unwrap();
    assert_eq!(
        cfg.numbers[0].window_mode,
        meta_sim::WindowMode::FailedWebhook
    );
    assert_eq!(cfg.numbers[0].throughput, 80);
    assert_eq!(
        cfg.numbers[0].token_expires_at.unwrap().unix_timestamp(),
        1_767_225_600
    );
    assert_eq!(cfg.webhooks.max_batch, 50);
    assert_eq!(cfg.webhooks.retry_base_delay_ms, 1_000);
    assert!(meta_sim::SimConfig::from_json("{\"numbers\": 3}").is_err());
}
