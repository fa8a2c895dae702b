//! Runs the checks of the fuzz targets on hand-written inputs, so that `cargo test` covers the
//! same properties on every build. Inputs that made a fuzz target fail belong here too.

use rekey_trail::fuzzing::{check_cts_trace, check_trail_file};

const RECORD: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/Admin/s","accessKeyId":"ASIAX","sessionContext":{"sessionIssuer":{"userName":"Admin"}}},"eventTime":"2023-07-10T12:21:05Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","requestParameters":{"roleArn":"arn:aws:iam::1:role/R","roleSessionName":"s"},"responseElements":{"credentials":{"accessKeyId":"ASIANEW","sessionToken":"tok","expiration":"x"}},"eventID":"e1"}"#;

#[test]
fn trail_file_forms_pass_checks() {
    let lookup = serde_json::json!({"Events": [{"EventId": "e1", "CloudTrailEvent": RECORD}]});
    let inputs = [
        format!(r#"{{"Records":[{RECORD},{RECORD}]}}"#),
        format!("{RECORD}\n{RECORD}\n"),
        format!("[{RECORD}]"),
        lookup.to_string(),
        String::new(),
        "{".to_owned(),
        "[1, {\"eventID\": 2}]".to_owned(),
        "\u{feff}{\"Records\":[".to_owned(),
    ];
    for input in inputs {
        check_trail_file(input.as_bytes());
    }
}

#[test]
fn cts_traces_pass_checks() {
    let inputs = [
        r#""trace_id":"t-1","service_type":"IAM","time":1718778778419,"user":{"access_key_id":"HST","name":"bob"},"response":"{\"credential\":{\"secret\":\"S\",\"securitytoken\":\"T\"}}"}"#,
        r#""trace_id":"t-2","service_type":"ECS","time":"2016/12/08 11:07:28 GMT+08:00","user":"{\"name\":\"bob\"}","code":403}"#,
        r#""trace_id":"t-3","service_type":"OBS","time":-1}"#,
        r#""time":1e400}"#,
        "",
    ];
    for input in inputs {
        check_cts_trace(input.as_bytes());
    }
}
