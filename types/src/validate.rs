//! Checks on user input shared by the server, which enforces them, and the browser app, which
//! shows them before a request is sent. Each error is a sentence naming the fix.

use chrono::{DateTime, Utc};

/// Parses an RFC 3339 time that carries its zone (`Z` or an offset such as `+02:00`).
///
/// A time without a zone is rejected rather than guessed, because a compromise time read in
/// the wrong zone hides or invents hours of attacker activity.
pub fn parse_zoned_time(value: &str) -> Result<DateTime<Utc>, String> {
    let value = value.trim();
    match DateTime::parse_from_rfc3339(value) {
        Ok(time) => Ok(time.with_timezone(&Utc)),
        Err(_) if has_no_zone(value) => Err(format!(
            "'{value}' has no time zone; add Z for UTC or an offset such as +02:00"
        )),
        Err(_) => Err(format!(
            "'{value}' is not an RFC 3339 time; use the form 2023-07-10T12:20:00Z"
        )),
    }
}

fn has_no_zone(value: &str) -> bool {
    let with_utc = format!("{value}Z");
    DateTime::parse_from_rfc3339(&with_utc).is_ok()
        || DateTime::parse_from_rfc3339(&format!("{value}:00Z")).is_ok()
}

/// Checks the form of a cloud access key id: 16 to 128 upper-case letters and digits, as AWS
/// (`AKIA…`, `ASIA…`) and Huawei Cloud access keys are.
pub fn validate_access_key_id(value: &str) -> Result<(), String> {
    if looks_like_secret_key(value) {
        return Err(secret_rejected_message());
    }
    let valid_chars = value
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !(16..=128).contains(&value.len()) || !valid_chars {
        return Err(format!(
            "'{value}' is not an access key id; expected 16 to 128 upper-case letters and \
             digits, such as AKIAIOSFODNN7EXAMPLE"
        ));
    }
    Ok(())
}

/// Tells whether a value has the shape of a secret access key: 40 base64 characters with
/// both cases or a `/` or `+`, as AWS and Huawei Cloud secret keys have.
pub fn looks_like_secret_key(value: &str) -> bool {
    let value = value.trim();
    let base64_chars = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '+');
    let has_lower = value.chars().any(|c| c.is_ascii_lowercase());
    let has_upper = value.chars().any(|c| c.is_ascii_uppercase());
    let has_symbol = value.contains('/') || value.contains('+');
    value.len() == 40 && base64_chars && ((has_lower && has_upper) || has_symbol)
}

/// Tells whether any word of a text has the shape of a secret access key.
pub fn contains_secret_key(text: &str) -> bool {
    secret_key_words(text).next().is_some()
}

/// Words of a text that have the shape of a secret access key.
pub fn secret_key_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '/' || c == '+'))
        .filter(|word| looks_like_secret_key(word))
}

/// Message for a request that carries what looks like a secret.
pub fn secret_rejected_message() -> String {
    "this looks like a secret access key; Rekey never stores secrets, so record only the \
     access key id (such as AKIA…) and rotate the secret"
        .to_string()
}

/// Checks an email address: an ASCII local part of the characters RFC 5322 allows without
/// quoting, and a domain name of letters, digits and hyphens with at least one dot. Quoted
/// local parts, address literals and internationalised addresses are rejected, because not
/// every SMTP server accepts them.
pub fn validate_email(value: &str) -> Result<(), String> {
    let invalid = || format!("'{value}' is not an email address; use the form name@example.com");
    let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !local_ok || !domain_ok || value.len() > 254 {
        return Err(invalid());
    }
    Ok(())
}

/// Rejects control characters, and bidirectional overrides that make text display in another
/// order than it is stored. `multiline` allows line breaks and tabs, for summaries and notes.
pub fn check_plain_text(value: &str, multiline: bool) -> Result<(), String> {
    let bad = value.chars().find(|c| {
        let allowed_space = multiline && matches!(c, '\n' | '\r' | '\t');
        let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        (c.is_control() && !allowed_space) || bidi
    });
    match bad {
        Some(c) => Err(format!(
            "contains the invisible character U+{:04X}; remove it{}",
            u32::from(c),
            if multiline { "" } else { " (line breaks are not allowed here)" }
        )),
        None => Ok(()),
    }
}

/// Checks a cloud account or project id: 1 to 64 letters, digits, `-` or `_`.
pub fn validate_account_id(value: &str) -> Result<(), String> {
    let valid_chars = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if value.is_empty() || value.len() > 64 || !valid_chars {
        return Err(format!(
            "'{value}' is not an account id; expected up to 64 letters, digits, - or _, \
             such as 123456789012"
        ));
    }
    Ok(())
}

/// Display form of a case number.
pub fn case_reference(number: i64) -> String {
    format!("RK-{number}")
}

/// Parses a case number given as `7` or `RK-7`.
pub fn parse_case_reference(value: &str) -> Option<i64> {
    let value = value.trim();
    let digits = value
        .strip_prefix("RK-")
        .or_else(|| value.strip_prefix("rk-"))
        .unwrap_or(value);
    digits.parse().ok().filter(|n: &i64| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoned_time_accepts_utc_and_offsets() {
        let cases = [
            ("2023-07-10T12:20:00Z", "2023-07-10T12:20:00+00:00"),
            ("2023-07-10T14:20:00+02:00", "2023-07-10T12:20:00+00:00"),
            ("2023-07-10T12:20:00.5Z", "2023-07-10T12:20:00.500+00:00"),
        ];
        for (input, expected) in cases {
            let parsed = parse_zoned_time(input).unwrap();
            assert_eq!(parsed.to_rfc3339(), expected, "input {input}");
        }
    }

    #[test]
    fn zoned_time_rejects_missing_zone() {
        for input in ["2023-07-10T12:20:00", "2023-07-10T12:20"] {
            let error = parse_zoned_time(input).unwrap_err();
            assert!(error.contains("no time zone"), "{input}: {error}");
        }
    }

    #[test]
    fn zoned_time_rejects_garbage() {
        let error = parse_zoned_time("yesterday").unwrap_err();
        assert!(error.contains("not an RFC 3339 time"), "{error}");
    }

    #[test]
    fn access_key_id_forms() {
        assert!(validate_access_key_id("AKIATFQR7NSC8Q4X20BJ").is_ok());
        assert!(validate_access_key_id("ASIAXXXXXXXXXXXXXXXX").is_ok());
        assert!(validate_access_key_id("akia1234").is_err());
        assert!(validate_access_key_id("AKIA 1234567890123456").is_err());
    }

    #[test]
    fn secret_key_detected() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert!(looks_like_secret_key(secret));
        let error = validate_access_key_id(secret).unwrap_err();
        assert!(error.contains("never stores secrets"), "{error}");
        assert!(!looks_like_secret_key("AKIATFQR7NSC8Q4X20BJ"));
    }

    #[test]
    fn secret_key_found_inside_text() {
        let text = "found aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY in repo";
        assert!(contains_secret_key(text));
        assert!(!contains_secret_key("key AKIATFQR7NSC8Q4X20BJ leaked on GitHub"));
    }

    #[test]
    fn email_forms() {
        for good in ["counsel@example.com", "first.last+rekey@mail.example.co.uk", "o'brien@example.ie"] {
            assert!(validate_email(good).is_ok(), "{good}");
        }
        let bad = [
            "counsel",
            "@example.com",
            "a@",
            "a b@example.com",
            "a@b@c",
            "<legal@example.com>legal",
            ".a@b.com",
            "a@-b.com",
            "a@[127.0.0.1]",
            "ünï@exämple.com",
            "a@localhost",
            "a..b@example.com",
        ];
        for value in bad {
            assert!(validate_email(value).is_err(), "{value}");
        }
    }

    #[test]
    fn plain_text_rejects_controls() {
        assert!(check_plain_text("Key leaked", false).is_ok());
        assert!(check_plain_text("line one\nline two", true).is_ok());
        assert!(check_plain_text("line one\nline two", false).is_err());
        assert!(check_plain_text("evil\u{202E}live", true).is_err());
        assert!(check_plain_text("nul\u{0}", true).is_err());
    }

    #[test]
    fn case_reference_parses_both_forms() {
        assert_eq!(parse_case_reference("RK-12"), Some(12));
        assert_eq!(parse_case_reference("12"), Some(12));
        assert_eq!(parse_case_reference("RK-0"), None);
        assert_eq!(parse_case_reference("twelve"), None);
    }
}
