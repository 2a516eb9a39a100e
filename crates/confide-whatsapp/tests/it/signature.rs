//! C17: signature-verified webhooks.

use crate::fixture;
use confide_whatsapp::signature::{SIGNATURE_HEADER, SignatureError};
use confide_whatsapp::{sign, verify_signature};

const SECRET: &[u8] = b"app-secret-current";
const OLD: &[u8] = b"app-secret-previous";
const OTHER_TENANT: &[u8] = b"someone-elses-secret";

fn body() -> &'static [u8] {
    fixture!("batch-mixed.json")
}

#[test]
fn valid_signature_is_accepted() {
    let h = sign(body(), SECRET);
    assert!(h.starts_with("sha256="));
    assert_eq!(h.len(), 7 + 64);
    assert!(
        h[7..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(verify_signature(Some(&h), body(), &[SECRET]), Ok(()));
    assert_eq!(SIGNATURE_HEADER, "X-Hub-Signature-256");
}

#[test]
fn missing_header() {
    assert_eq!(
        verify_signature(None, body(), &[SECRET]),
        Err(SignatureError::Missing)
    );
}

#[test]
fn malformed_headers() {
    let good = sign(body(), SECRET);
    let hex = &good[7..];
    let cases = [
        String::new(),
        hex.to_owned(),                           // no prefix
        format!("sha1={hex}"),                    // wrong algorithm
        format!("SHA256={hex}"),                  // prefix case
        format!("sha256={}", hex.to_uppercase()), // uppercase hex: Meta sends lowercase
        format!("sha256={}", &hex[..63]),         // truncated
        format!("sha256={}", &hex[..32]),         // half
        format!("sha256={hex}0"),                 // too long
        format!("sha256={hex}00"),                // too long, even
        format!("sha256={}g", &hex[..63]),        // non-hex
        format!("sha256={}", "z".repeat(64)),     // non-hex
        format!(" {good}"),                       // leading space
        format!("{good} "),                       // trailing space
        format!("{good},sha256={hex}"),           // two values
        format!("sha256= {}", &hex[..63]),        // space inside
        format!("sha256={}é", &hex[..62]),        // multibyte char, 64 bytes
        "sha256=".to_owned(),
    ];
    for h in &cases {
        assert_eq!(
            verify_signature(Some(h), body(), &[SECRET]),
            Err(SignatureError::Malformed),
            "{h:?}"
        );
    }
}

#[test]
fn wrong_secret_is_a_mismatch() {
    let h = sign(body(), OTHER_TENANT);
    assert_eq!(
        verify_signature(Some(&h), body(), &[SECRET]),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_signature(Some(&h), body(), &[SECRET, OLD]),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_signature(Some(&h), body(), &[]),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn every_single_byte_change_of_the_body_is_a_mismatch() {
    let h = sign(body(), SECRET);
    let mut b = body().to_vec();
    for i in 0..b.len() {
        b[i] ^= 0x01;
        assert_eq!(
            verify_signature(Some(&h), &b, &[SECRET]),
            Err(SignatureError::Mismatch),
            "byte {i}"
        );
        b[i] ^= 0x01;
    }
    assert_eq!(verify_signature(Some(&h), &b, &[SECRET]), Ok(()));
    // Truncated or extended body.
    assert_eq!(
        verify_signature(Some(&h), &b[..b.len() - 1], &[SECRET]),
        Err(SignatureError::Mismatch)
    );
    let mut longer = b.clone();
    longer.push(b'\n');
    assert_eq!(
        verify_signature(Some(&h), &longer, &[SECRET]),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn every_single_digit_change_of_the_signature_is_a_mismatch() {
    let h = sign(body(), SECRET);
    for i in 7..h.len() {
        let mut s = h.clone().into_bytes();
        s[i] = if s[i] == b'0' { b'1' } else { b'0' };
        let s = String::from_utf8(s).unwrap();
        assert_eq!(
            verify_signature(Some(&s), body(), &[SECRET]),
            Err(SignatureError::Mismatch),
            "digit {i}"
        );
    }
}

#[test]
fn either_secret_is_accepted_during_rotation() {
    let new = sign(body(), SECRET);
    let old = sign(body(), OLD);
    assert_eq!(verify_signature(Some(&new), body(), &[SECRET, OLD]), Ok(()));
    assert_eq!(verify_signature(Some(&old), body(), &[SECRET, OLD]), Ok(()));
    assert_eq!(verify_signature(Some(&old), body(), &[OLD, SECRET]), Ok(()));
    assert_eq!(
        verify_signature(Some(&old), body(), &[SECRET]),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn raw_bytes_not_reserialised_json() {
    // The fixture has escaped non-ASCII; re-serialising the parsed JSON changes the bytes.
    let h = sign(body(), SECRET);
    let v: serde_json::Value = serde_json::from_slice(body()).unwrap();
    let reserialised = serde_json::to_vec(&v).unwrap();
    assert_ne!(reserialised, body());
    assert_eq!(
        verify_signature(Some(&h), &reserialised, &[SECRET]),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn all_fixtures_round_trip() {
    for entry in std::fs::read_dir(crate::FIXTURE_DIR).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let h = sign(&bytes, SECRET);
        assert_eq!(verify_signature(Some(&h), &bytes, &[OLD, SECRET]), Ok(()));
    }
}

#[test]
fn errors_are_distinct_but_say_nothing_secret() {
    for e in [
        SignatureError::Missing,
        SignatureError::Malformed,
        SignatureError::Mismatch,
    ] {
        let s = e.to_string();
        assert!(!s.contains("app-secret"));
        assert!(s.contains("signature"));
    }
}
