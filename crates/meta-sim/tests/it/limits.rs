//! Throughput (130429) and pair rate (131056), on the simulator's clock.

use crate::common::*;
use meta_sim::UserConfig;
use time::Duration;

async fn env_with_customers(n: usize) -> (Env, Vec<String>) {
    let env = env().await;
    let mut phones = Vec::new();
    for i in 0..n {
        let phone = format!("1555000{i:04}");
        env.sim.add_user(UserConfig::with_phone(
            format!("US.9000000000000000{i:03}"),
            format!("Customer {i}"),
            phone.clone(),
        ));
        env.sim.customer_sends(&phone, PNID, "hi").unwrap();
        phones.push(phone);
    }
    (env, phones)
}

#[tokio::test]
async fn more_than_80_per_second_gets_130429() {
    let (env, phones) = env_with_customers(4).await;
    for i in 0..80 {
        let (status, body) = env.send_text(&phones[i % phones.len()], "burst").await;
        assert_eq!(status, 200, "message {i}: {body}");
    }
    let (status, body) = env.send_text(&phones[0], "one too many").await;
    assert_eq!(status, 429);
    assert_eq!(error_code(&body), (130429, Some(2494055)));
    assert_eq!(body["error"]["message"], "(#130429) Rate limit hit");

    // 1/80 s later one more fits; a second later a full burst again.
    env.clock.advance(Duration::microseconds(12_500));
    assert_eq!(env.send_text(&phones[1], "paced").await.0, 200);
    assert_eq!(env.send_text(&phones[1], "too fast").await.0, 429);
    env.clock.advance(Duration::seconds(1));
    assert_eq!(env.send_text(&phones[2], "next second").await.0, 200);
    assert_eq!(
        env.sim
            .rejected_requests()
            .iter()
            .filter(|r| r.code == 130429)
            .count(),
        2
    );
}

#[tokio::test]
async fn upgraded_numbers_take_1000_per_second() {
    let (env, phones) = env_with_customers(5).await;
    env.sim
        .set_throughput(PNID, meta_sim::THROUGHPUT_UPGRADED)
        .unwrap();
    for i in 0..200 {
        let (status, _) = env.send_text(&phones[i % phones.len()], "fast").await;
        assert_eq!(status, 200, "message {i}");
    }
}

#[tokio::test]
async fn bursts_over_45_to_one_user_get_131056() {
    let env = env().await;
    env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    for i in 0..45 {
        let (status, body) = env.send_text(SHEENA_PHONE, "burst").await;
        assert_eq!(status, 200, "message {i}: {body}");
        // Keep under the number's throughput: this is about the pair rate.
        env.clock.advance(Duration::milliseconds(20));
    }
    let (status, body) = env.send_text(SHEENA_PHONE, "46th").await;
    assert_eq!(status, 429);
    assert_eq!(error_code(&body).0, 131056);
    // Another user is not affected.
    env.sim.customer_sends(PABLO, PNID, "hola").unwrap();
    let (status, _) = env
        .send(serde_json::json!({"messaging_product":"whatsapp","recipient":PABLO,"type":"text","text":{"body":"hola"}}))
        .await;
    assert_eq!(status, 200);
    // About one message per 6 seconds after the burst.
    env.clock.advance(Duration::seconds(6));
    assert_eq!(env.send_text(SHEENA_PHONE, "later").await.0, 200);
    assert_eq!(env.send_text(SHEENA_PHONE, "too soon").await.0, 429);
}
