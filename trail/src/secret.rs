//! Redaction of secret fields in an event's JSON text before it is stored.
//!
//! CloudTrail writes the session token of temporary credentials into the response of
//! `AssumeRole` and `GetSessionToken`, and other services or exports may carry secret keys or
//! passwords. Rekey never stores a secret, so such values become [`REDACTED`].

use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde_json::Value;

/// Text that replaces a secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Keys whose values are secrets, compared in lower case without `_` and `-`.
const SECRET_KEYS: [&str; 10] = [
    "sessiontoken",
    "securitytoken",
    "secretaccesskey",
    "secretkey",
    "secret",
    "clientsecret",
    "password",
    "privatekey",
    "accesskeysecret",
    "xamzsecuritytoken",
];

/// Parts of the usual spellings of the secret keys, in lower and upper case: `oken` ends
/// `sessionToken`, `security_token` and `SessionToken`, and `ecret` is in `secretAccessKey` and
/// `clientSecret`. Text without any of them is taken to contain no secret key, so most events
/// skip the full parse. Each part is a SIMD substring search, which is why a key in mixed case
/// such as `SeSsIoNtOkEn` is missed.
static SECRET_KEY_PARTS: LazyLock<Vec<Finder<'static>>> = LazyLock::new(|| {
    ["oken", "OKEN", "ecret", "ECRET", "assword", "ASSWORD", "rivate", "RIVATE"]
        .into_iter()
        .map(Finder::new)
        .collect()
});

/// Returns whether `text` contains a part of a secret key's name.
fn may_contain_secret_key(text: &str) -> bool {
    SECRET_KEY_PARTS
        .iter()
        .any(|part| part.find(text.as_bytes()).is_some())
}

fn is_secret_key(key: &str) -> bool {
    let normalized: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_KEYS.contains(&normalized.as_str())
}

/// Returns `raw` with the value of every secret field replaced by [`REDACTED`], at any depth
/// and inside JSON text held in a string (CTS writes `request` and `response` that way).
///
/// Text without a secret field is returned unchanged. Text with one is parsed and written
/// again, so its keys come out sorted and its whitespace removed. Empty and `null` values are
/// kept, because they reveal nothing. Text that is not valid JSON is returned unchanged.
pub fn redact_secret_fields(raw: String) -> String {
    if !may_contain_secret_key(&raw) {
        return raw;
    }
    let Ok(mut value) = serde_json::from_str::<Value>(&raw) else {
        return raw;
    };
    if redact_value(&mut value) {
        value.to_string()
    } else {
        raw
    }
}

/// Redacts secret fields in place; returns whether anything changed.
fn redact_value(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            let mut changed = false;
            for (key, field) in map.iter_mut() {
                if is_secret_key(key) && holds_secret(field) {
                    *field = Value::String(REDACTED.to_owned());
                    changed = true;
                } else {
                    changed |= redact_value(field);
                }
            }
            changed
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| redact_value(item) | changed),
        Value::String(text) => redact_embedded_json(text),
        _ => false,
    }
}

/// Returns whether a secret key's value reveals anything: it is not `null`, empty or redacted.
fn holds_secret(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty() && text != REDACTED,
        _ => true,
    }
}

/// Redacts a string that is itself a JSON object or array with secret fields.
fn redact_embedded_json(text: &mut String) -> bool {
    let starts_json = matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['));
    if !starts_json || !may_contain_secret_key(text) {
        return false;
    }
    let Ok(mut inner) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    if !redact_value(&mut inner) {
        return false;
    }
    *text = inner.to_string();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str) -> Value {
        serde_json::from_str(&redact_secret_fields(text.to_owned())).unwrap()
    }

    #[test]
    fn session_token_in_assume_role_response() {
        let text = r#"{"eventID":"e","responseElements":{"credentials":{"accessKeyId":"ASIAEXAMPLE","sessionToken":"IQoJb3JpZ2luX2VjEXAMPLE","expiration":"Mar 1, 2024"}}}"#;
        let value = redacted(text);
        let credentials = &value["responseElements"]["credentials"];
        assert_eq!(credentials["sessionToken"], REDACTED);
        assert_eq!(credentials["accessKeyId"], "ASIAEXAMPLE");
        assert_eq!(credentials["expiration"], "Mar 1, 2024");
    }

    #[test]
    fn secret_key_spellings() {
        let keys = [
            "secretAccessKey",
            "SecretAccessKey",
            "secret_access_key",
            "SessionToken",
            "security_token",
            "securitytoken",
            "password",
            "Password",
            "privateKey",
            "clientSecret",
            "X-Amz-Security-Token",
        ];
        for key in keys {
            let text = format!(r#"{{"request":{{"{key}":"s3cr3t-value","other":"kept"}}}}"#);
            let value = redacted(&text);
            assert_eq!(value["request"][key], REDACTED, "{key}");
            assert_eq!(value["request"]["other"], "kept", "{key}");
        }
    }

    #[test]
    fn embedded_json_text_redacted() {
        let inner = r#"{"credential":{"access":"AKEXAMPLE","secret":"abc123","securitytoken":"tok"}}"#;
        let text = serde_json::json!({"trace_id": "t", "response": inner}).to_string();
        let value = redacted(&text);
        let response: Value = serde_json::from_str(value["response"].as_str().unwrap()).unwrap();
        assert_eq!(response["credential"]["secret"], REDACTED);
        assert_eq!(response["credential"]["securitytoken"], REDACTED);
        assert_eq!(response["credential"]["access"], "AKEXAMPLE");
    }

    #[test]
    fn secrets_in_arrays_redacted() {
        let value = redacted(r#"{"items":[{"password":"p1"},{"password":"p2"}]}"#);
        assert_eq!(value["items"][0]["password"], REDACTED);
        assert_eq!(value["items"][1]["password"], REDACTED);
    }

    #[test]
    fn text_without_secrets_unchanged() {
        let cases = [
            r#"{"eventName":"GetSessionToken", "b":1,"a":2}"#,
            r#"{"passwordLastUsed":"2024-01-01","secretArn":"arn"}"#,
            r#"{"sessionToken":null,"password":""}"#,
            r#"{"password":"[REDACTED]"}"#,
            "not json but mentions a password",
        ];
        for text in cases {
            assert_eq!(redact_secret_fields(text.to_owned()), text);
        }
    }

    #[test]
    fn non_string_secret_redacted() {
        let value = redacted(r#"{"privateKey":{"n":"abc","d":"def"}}"#);
        assert_eq!(value["privateKey"], REDACTED);
    }
}
