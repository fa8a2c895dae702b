//! Redaction of secrets from free text before Rekey stores or emails it.
//!
//! Rekey keeps identifiers of leaked credentials, never the secrets. Analysts paste log lines,
//! chat messages and config snippets into summaries, status updates and notes, and those often
//! carry the secret itself, so every such text passes through `redact` first.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use rekey_types::{looks_like_secret_key, RedactionKind};

/// Text that replaces each secret.
pub const MARKER: &str = "[REDACTED]";

/// A text with its secrets replaced, and the kinds of secret that were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    /// Each kind found at least once, in the order of `RedactionKind::ALL`.
    pub kinds: Vec<RedactionKind>,
}

/// A PEM private key block of any algorithm. A block without its END line is redacted to the
/// end of the text, because the rest of the key may follow.
static PRIVATE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\z)")
        .expect("valid regex")
});

/// The token of an HTTP `Authorization: Bearer` header, wherever it appears.
static BEARER_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(bearer)(\s+)([A-Za-z0-9\-._~+/]+=*)").expect("valid regex"));

/// A value after a key whose name marks it as secret, in `key=value`, `key: value` or JSON
/// `"key": "value"` form. The key may have a prefix or suffix, as in `DB_PASSWORD`.
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)([A-Za-z0-9_.\-]*(?:password|passwd|pwd|passphrase|secret|token|api_?key)[A-Za-z0-9_.\-]*)("?[ \t]*[:=][ \t]*)("[^"\r\n]*"|'[^'\r\n]*'|[^\s"',;&]+)"#,
    )
    .expect("valid regex")
});

/// API tokens recognisable by their published prefixes: GitHub, GitLab, Slack, Stripe live
/// keys and Google API keys.
static API_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9\-_]{20,}|xox[abposr]-[A-Za-z0-9\-]{10,}|[sr]k_live_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z\-_]{35})\b",
    )
    .expect("valid regex")
});

/// Runs of the base64 alphabet that may be a cloud secret access key; `looks_like_secret_key`
/// keeps those of exactly 40 characters.
static SECRET_KEY_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9/+]{40,}").expect("valid regex"));

/// Replaces every secret in `text` with `[REDACTED]` and reports the kinds found.
pub fn redact(text: &str) -> Redacted {
    let mut found = Vec::new();

    let text = PRIVATE_KEY.replace_all(text, |_: &Captures| {
        found.push(RedactionKind::PrivateKey);
        "-----BEGIN PRIVATE KEY----- [REDACTED] -----END PRIVATE KEY-----".to_string()
    });

    let text = BEARER_TOKEN.replace_all(&text, |caps: &Captures| {
        if &caps[3] == "[REDACTED]" || caps[3].len() < 8 {
            return caps[0].to_string();
        }
        found.push(RedactionKind::BearerToken);
        format!("{}{}{MARKER}", &caps[1], &caps[2])
    });

    let text = KEY_VALUE.replace_all(&text, |caps: &Captures| {
        let value = caps[3].trim_matches(['"', '\'']);
        if value.is_empty() || value.starts_with(MARKER) || value.starts_with('[') {
            return caps[0].to_string();
        }
        let kind = if looks_like_secret_key(value) {
            RedactionKind::CloudSecretKey
        } else {
            RedactionKind::Password
        };
        found.push(kind);
        format!("{}{}{MARKER}", &caps[1], &caps[2])
    });

    let text = API_TOKEN.replace_all(&text, |_: &Captures| {
        found.push(RedactionKind::ApiToken);
        MARKER.to_string()
    });

    let text = SECRET_KEY_WORD.replace_all(&text, |caps: &Captures| {
        if !looks_like_secret_key(&caps[0]) {
            return caps[0].to_string();
        }
        found.push(RedactionKind::CloudSecretKey);
        MARKER.to_string()
    });

    let kinds = RedactionKind::ALL
        .iter()
        .copied()
        .filter(|kind| found.contains(kind))
        .collect();
    Redacted {
        text: text.into_owned(),
        kinds,
    }
}

/// Redacts `text` and adds the kinds found to `kinds`, keeping each kind once.
pub fn redact_into(text: &str, kinds: &mut Vec<RedactionKind>) -> String {
    let redacted = redact(text);
    for kind in redacted.kinds {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    redacted.text
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    /// Input, the kind it must report, and a fragment of the secret that must be gone.
    const CASES: &[(&str, RedactionKind, &str)] = &[
        ("secret key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY in chat", RedactionKind::CloudSecretKey, "wJalrXUtnFEMI"),
        ("aws_secret_access_key = abcdEFGHijklMNOPqrstUVWXyz0123456789+/AB", RedactionKind::CloudSecretKey, "abcdEFGH"),
        ("login with password=hunter2!", RedactionKind::Password, "hunter2"),
        ("DB_PASSWORD: 'c0rrect horse'", RedactionKind::Password, "c0rrect"),
        (r#"{"client_secret": "s3cr3t-value"}"#, RedactionKind::Password, "s3cr3t"),
        ("curl 'https://api.example.com/v1?api_key=zz9plural&x=1'", RedactionKind::Password, "zz9plural"),
        ("pwd=Summer2024", RedactionKind::Password, "Summer2024"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nature", RedactionKind::BearerToken, "eyJhbGci"),
        ("bearer abcdef0123456789", RedactionKind::BearerToken, "abcdef0123"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\nabc\n-----END RSA PRIVATE KEY-----",
            RedactionKind::PrivateKey,
            "MIIEpAIBAAKCAQEA7",
        ),
        (
            r#"{"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n"}"#,
            RedactionKind::PrivateKey,
            "MIIEvQIBADANBg",
        ),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk cut off", RedactionKind::PrivateKey, "b3BlbnNzaC1rZXk"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked", RedactionKind::ApiToken, "ghp_abc"),
        ("slack xoxb-1234567890-abcdefghij", RedactionKind::ApiToken, "xoxb-123"),
    ];

    #[test]
    fn redact_removes_each_kind() {
        for (input, kind, fragment) in CASES {
            let redacted = redact(input);
            assert!(!redacted.text.contains(fragment), "{input:?} became {:?}", redacted.text);
            assert!(redacted.text.contains(MARKER), "{input:?} became {:?}", redacted.text);
            assert!(redacted.kinds.contains(kind), "{input:?} reported {:?}", redacted.kinds);
        }
    }

    #[test]
    fn redact_keeps_identifiers() {
        let texts = [
            "access key AKIATFQR7NSC8Q4X20BJ of user deploy-bot",
            "arn:aws:iam::123456789012:user/deploy-bot",
            "The password was rotated at 12:20.",
            "Reset the token, then confirm.",
            "Case RK-12 moved to Containment",
        ];
        for text in texts {
            let redacted = redact(text);
            assert_eq!(redacted.text, text);
            assert!(redacted.kinds.is_empty(), "{text:?} reported {:?}", redacted.kinds);
        }
    }

    #[test]
    fn redact_is_idempotent() {
        let once = redact(&format!("password={AWS_SECRET} and Bearer abcdefghijkl"));
        let twice = redact(&once.text);
        assert_eq!(twice.text, once.text);
        assert!(twice.kinds.is_empty(), "{:?}", twice.kinds);
    }

    #[test]
    fn redact_reports_kinds_once() {
        let redacted = redact(&format!("{AWS_SECRET} {AWS_SECRET} password=a password=b"));
        assert_eq!(redacted.kinds, [RedactionKind::CloudSecretKey, RedactionKind::Password]);
    }
}
