//! Time-based one-time passwords (RFC 6238): HMAC-SHA1, 30-second steps, 6 digits, the
//! parameters every authenticator app supports.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

pub const STEP_SECONDS: u64 = 30;
pub const DIGITS: u32 = 6;
/// Steps accepted before and after the current one, for clocks that drift.
const SKEW_STEPS: u64 = 1;

/// New random secret of 20 bytes (the HMAC-SHA1 block the RFC recommends), in base32.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    BASE32_NOPAD.encode(&bytes)
}

/// `otpauth://` URI that authenticator apps read from a QR code or a link.
pub fn provisioning_uri(secret: &str, account: &str, issuer: &str) -> String {
    let account = url::form_urlencoded::byte_serialize(account.as_bytes()).collect::<String>();
    let issuer = url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect::<String>();
    format!("otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}")
}

/// Code for one time step (RFC 4226 dynamic truncation).
pub fn code_at(secret: &str, step: u64) -> Option<String> {
    let key = BASE32_NOPAD.decode(secret.as_bytes()).ok()?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).ok()?;
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    Some(format!("{:0width$}", binary % 10u32.pow(DIGITS), width = DIGITS as usize))
}

pub fn current_step(unix_seconds: u64) -> u64 {
    unix_seconds / STEP_SECONDS
}

/// Checks `code` against the steps around `now_step`, skipping steps at or before
/// `last_used_step` so that a code cannot be replayed. Returns the matching step.
pub fn verify(secret: &str, code: &str, now_step: u64, last_used_step: Option<u64>) -> Option<u64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let first = now_step.saturating_sub(SKEW_STEPS);
    (first..=now_step + SKEW_STEPS)
        .filter(|step| last_used_step.is_none_or(|last| *step > last))
        .find(|step| code_at(secret, *step).is_some_and(|expected| constant_time_eq(&expected, &code)))
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B test vectors for SHA1, whose key is the ASCII "12345678901234567890".
    /// The RFC lists 8 digits, and the last 6 of them are the 6-digit code.
    #[test]
    fn rfc6238_vectors() {
        let secret = BASE32_NOPAD.encode(b"12345678901234567890");
        let vectors = [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")];
        for (time, expected) in vectors {
            assert_eq!(code_at(&secret, current_step(time)).unwrap(), expected, "time {time}");
        }
    }

    #[test]
    fn replay_and_skew() {
        let secret = new_secret();
        let step = 1_000;
        let code = code_at(&secret, step).unwrap();
        assert_eq!(verify(&secret, &code, step, None), Some(step));
        assert_eq!(verify(&secret, &code, step + 1, None), Some(step), "one step of drift");
        assert_eq!(verify(&secret, &code, step + 2, None), None);
        assert_eq!(verify(&secret, &code, step, Some(step)), None, "already used");
        assert_eq!(verify(&secret, "12345", step, None), None);
    }
}
