//! Any header and body into the signature check: it never panics, never accepts a header it did not
//! produce for that body, and always accepts the one it did.
#![no_main]

use confide_whatsapp::{sign, verify_signature};
use libfuzzer_sys::fuzz_target;

const SECRETS: [&[u8]; 2] = [b"fuzz-secret-current", b"fuzz-secret-previous"];

fuzz_target!(|data: &[u8]| {
    // First byte: header length; then the header; the rest is the body.
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n).min(rest.len());
    let (header, body) = rest.split_at(n);
    let header = String::from_utf8_lossy(header);

    let result = verify_signature(Some(&header), body, &SECRETS);
    let genuine = SECRETS.iter().any(|s| sign(body, s) == header);
    assert_eq!(result.is_ok(), genuine);

    assert!(verify_signature(Some(&sign(body, SECRETS[1])), body, &SECRETS).is_ok());
    assert!(verify_signature(Some(&sign(body, b"other")), body, &SECRETS).is_err());
});
