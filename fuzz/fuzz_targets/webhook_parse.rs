//! Any bytes into the webhook parser: it may refuse them, never panic, and what it returns must be
//! walkable.
#![no_main]

use confide_whatsapp::webhook::{Change, parse_webhook};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = parse_webhook(data) else { return };
    let _ = batch.skipped_count();
    for (value, message) in batch.messages() {
        let _ = value.contact_for(message);
        let _ = message.content.media();
    }
    for (_, status) in batch.statuses() {
        assert!(status.status.rank() <= 5);
    }
    for (_, change) in batch.changes() {
        if let Change::Messages(v) = change {
            for s in &v.skipped {
                assert!(s.reason.len() <= 256, "reasons stay bounded");
            }
        }
    }
    for s in &batch.skipped {
        assert!(s.reason.len() <= 256, "reasons stay bounded");
    }
});
