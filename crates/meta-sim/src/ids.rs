//! Ids that look like Meta's, drawn from the simulator's seeded generator.

use base64::Engine as _;

use crate::rng::SimRng;

/// `wamid.` + base64 of Meta's framing around the recipient and a 20-hex-digit message key.
pub fn wamid(rng: &mut SimRng, party: &str) -> String {
    let key = format!("{:016X}{:04X}", rng.next_u64(), rng.next_u64() & 0xFFFF);
    let party = if party.len() > 200 {
        &party[..200]
    } else {
        party
    };
    let mut raw = Vec::with_capacity(party.len() + 32);
    raw.extend_from_slice(&[0x1C, 0x18, u8::try_from(party.len()).unwrap_or(0)]);
    raw.extend_from_slice(party.as_bytes());
    raw.extend_from_slice(&[0x15, 0x02, 0x00, 0x12, 0x18, 0x14]);
    raw.extend_from_slice(key.as_bytes());
    raw.push(0x00);
    format!(
        "wamid.{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A 16-digit numeric id (media, templates).
pub fn numeric_id(rng: &mut SimRng) -> String {
    rng.digits(16)
}

/// `fbtrace_id`: 27 characters of `[A-Za-z0-9]`.
pub fn fbtrace(rng: &mut SimRng) -> String {
    rng.alnum(27)
}

/// A BSUID `CC.<digits>`.
pub fn bsuid(rng: &mut SimRng, country: &str) -> String {
    format!("{country}.{}", rng.digits(19))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wamid_decodes_to_the_framing() {
        let mut r = SimRng::new(3);
        let id = wamid(&mut r, "16505551234");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(id.trim_start_matches("wamid."))
            .unwrap();
        assert_eq!(&raw[..3], &[0x1C, 0x18, 11]);
        assert_eq!(&raw[3..14], b"16505551234");
        assert!(id.starts_with("wamid.HBgL"));
    }
}
