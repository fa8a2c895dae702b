//! CloudTrail events and files written by the tests themselves.

use std::io::Write;

use serde_json::{json, Value};

pub const LEAKED_KEY: &str = "AKIAIOSFODNN7LEAKED1";
pub const OTHER_KEY: &str = "AKIAIOSFODNN7OTHER12";
pub const COMPROMISE_TIME: &str = "2024-03-01T10:00:00Z";

/// Builds one management event made with `key` at `time`.
pub fn event(id: &str, time: &str, name: &str, key: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:user/deploy-bot",
            "accountId": "111122223333",
            "accessKeyId": key,
            "userName": "deploy-bot"
        },
        "eventTime": time,
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"userName": "backdoor"},
        "responseElements": null,
        "eventID": id,
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333"
    })
}

/// Builds a `CreateAccessKey` call made with `key` that created `new_key`.
pub fn key_creation(id: &str, time: &str, key: &str, new_key: &str) -> Value {
    let mut call = event(id, time, "CreateAccessKey", key);
    call["responseElements"] = json!({
        "accessKey": {"accessKeyId": new_key, "status": "Active", "userName": "deploy-bot"}
    });
    call
}

/// Builds the standard mix: two calls of the leaked key after the compromise time (one sensitive,
/// one read-only), one before it, and one of another key.
pub fn standard_events() -> Vec<Value> {
    vec![
        event("e-before", "2024-03-01T09:59:59Z", "CreateUser", LEAKED_KEY),
        event("e-create-user", "2024-03-01T10:00:00Z", "CreateUser", LEAKED_KEY),
        event("e-describe", "2024-03-01T10:05:00Z", "DescribeInstances", LEAKED_KEY),
        event("e-other-key", "2024-03-01T10:06:00Z", "CreateAccessKey", OTHER_KEY),
    ]
}

/// Writes a file in the `{"Records": [...]}` form.
pub fn records_file(events: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Records": events })).unwrap()
}

/// Writes a file with one event per line.
pub fn lines_file(events: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        out.extend_from_slice(&serde_json::to_vec(event).unwrap());
        out.push(b'\n');
    }
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}
