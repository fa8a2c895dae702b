use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::*;

fn record(id: &str, name: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","accessKeyId":"AKIAEXAMPLE1","userName":"alice"}},"eventTime":"2023-07-10T12:21:05Z","eventSource":"iam.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","eventID":"{id}"}}"#
    )
}

fn records_file(records: &[String]) -> String {
    format!("{{\"Records\":[{}]}}", records.join(","))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn read_all(input: &[u8]) -> Result<(FileSummary, Vec<Event>), ReadError> {
    let mut events = Vec::new();
    let summary = read_events("test.json", input, |event| {
        events.push(event);
        Ok::<(), ()>(())
    });
    match summary {
        Ok(summary) => Ok((summary, events)),
        Err(ReadFailure::Read(error)) => Err(error),
        Err(ReadFailure::Callback(())) => unreachable!("the callback never fails"),
    }
}

fn read_error(input: &[u8]) -> ReadError {
    match read_all(input) {
        Err(error) => error,
        Ok((summary, _)) => panic!("expected an error, read {summary:?}"),
    }
}

fn event_ids(events: &[Event]) -> Vec<&str> {
    events.iter().map(|event| event.event_id.as_str()).collect()
}

#[test]
fn records_form_reads_in_order() {
    let records = [record("a", "CreateUser"), record("b", "CreateAccessKey")];
    let file = records_file(&records);
    let (summary, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(
        summary,
        FileSummary {
            events: 2,
            form: Form::Records,
            gzip: false
        }
    );
    assert_eq!(event_ids(&events), ["a", "b"]);
    assert_eq!(events[1].event_name, "CreateAccessKey");
    assert_eq!(events[0].raw, records[0]);
    assert_eq!(events[1].raw, records[1]);
}

#[test]
fn records_form_pretty_printed() {
    let file = format!(
        "\n  {{\n  \"Records\" : [\n    {},\n    {}\n  ],\n  \"other\": {{\"x\": [1]}}\n}}\n",
        record("a", "X"),
        record("b", "Y")
    );
    let (summary, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(summary.form, Form::Records);
    assert_eq!(event_ids(&events), ["a", "b"]);
}

#[test]
fn records_form_empty_array() {
    let (summary, events) = read_all(br#"{"Records":[]}"#).unwrap();
    assert_eq!(summary.form, Form::Records);
    assert_eq!(summary.events, 0);
    assert!(events.is_empty());
}

#[test]
fn records_form_concatenated_objects() {
    let file = format!(
        "{}{}\n{}",
        records_file(&[record("a", "X")]),
        records_file(&[record("b", "X"), record("c", "X")]),
        records_file(&[]),
    );
    let (summary, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(summary.form, Form::Records);
    assert_eq!(event_ids(&events), ["a", "b", "c"]);
}

#[test]
fn lines_form_reads_in_order() {
    let file = format!(
        "{}\r\n\n   \n  {}  \n{}",
        record("a", "X"),
        record("b", "Y"),
        record("c", "Z")
    );
    let (summary, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(
        summary,
        FileSummary {
            events: 3,
            form: Form::Lines,
            gzip: false
        }
    );
    assert_eq!(event_ids(&events), ["a", "b", "c"]);
    assert_eq!(events[1].raw, record("b", "Y"));
}

#[test]
fn lines_form_when_records_not_first_key() {
    let file = format!(
        r#"{{"eventID":"x","Records":[],"eventTime":"2023-07-10T12:00:00Z","eventName":"N","eventSource":"s"}}
{}"#,
        record("b", "Y")
    );
    let (summary, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(summary.form, Form::Lines);
    assert_eq!(event_ids(&events), ["x", "b"]);
}

#[test]
fn gzip_of_both_forms() {
    let records = [record("a", "X"), record("b", "Y")];
    let cases = [
        (records_file(&records), Form::Records),
        (records.join("\n"), Form::Lines),
    ];
    for (file, form) in cases {
        let (summary, events) = read_all(&gzip(file.as_bytes())).unwrap();
        assert_eq!(
            summary,
            FileSummary {
                events: 2,
                form,
                gzip: true
            },
            "{form:?}"
        );
        assert_eq!(event_ids(&events), ["a", "b"], "{form:?}");
    }
}

#[test]
fn gzip_concatenated_members() {
    let mut file = gzip(records_file(&[record("a", "X")]).as_bytes());
    file.extend(gzip(records_file(&[record("b", "X")]).as_bytes()));
    let (summary, events) = read_all(&file).unwrap();
    assert!(summary.gzip);
    assert_eq!(event_ids(&events), ["a", "b"]);
}

/// Reader that returns at most one byte per call, like a slow pipe.
struct OneByteReader<'a>(&'a [u8]);

impl Read for OneByteReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match (self.0.split_first(), buffer.first_mut()) {
            (Some((&byte, rest)), Some(slot)) => {
                *slot = byte;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn short_reads_detect_gzip_and_bom() {
    let mut plain = UTF8_BOM.to_vec();
    plain.extend(records_file(&[record("a", "X")]).as_bytes());
    let compressed = gzip(&plain);
    for (case, file) in [("plain", &plain), ("gzip", &compressed)] {
        let mut ids = Vec::new();
        let summary = read_events("test.json", OneByteReader(file), |event| {
            ids.push(event.event_id);
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(summary.form, Form::Records, "{case}");
        assert_eq!(ids, ["a"], "{case}");
    }
}

#[test]
fn empty_files_have_no_events() {
    let cases: [(&str, Vec<u8>); 5] = [
        ("empty", Vec::new()),
        ("blank lines", b"\n \r\n\t\n".to_vec()),
        ("byte order mark", UTF8_BOM.to_vec()),
        ("one byte of whitespace", b" ".to_vec()),
        ("empty gzip", gzip(b"")),
    ];
    for (case, file) in cases {
        let (summary, events) = read_all(&file).unwrap();
        assert_eq!(summary.events, 0, "{case}");
        assert_eq!(summary.form, Form::Lines, "{case}");
        assert!(events.is_empty(), "{case}");
    }
}

#[test]
fn non_json_rejected() {
    let cases: [(&str, &[u8], &str); 4] = [
        ("text", b"hello world\n", "found 'h'"),
        ("binary", b"\x00\x01\x02", "found byte 0x00"),
        ("zip", b"PK\x03\x04rest", "zip archive"),
        ("number", b"  42", "found '4'"),
    ];
    for (case, file, found) in cases {
        let error = read_error(file);
        assert!(
            error.message.starts_with("not a trail file"),
            "{case}: {error}"
        );
        assert!(error.message.contains(found), "{case}: {error}");
        assert_eq!(error.line, Some(1), "{case}");
    }
}

fn lookup_entry(record: &str) -> String {
    let name = serde_json::to_string(record).unwrap();
    format!(r#"{{"EventId":"x","EventName":"X","ReadOnly":"false","CloudTrailEvent":{name}}}"#)
}

fn cts_trace(id: &str, name: &str) -> String {
    format!(
        r#"{{"trace_id":"{id}","trace_name":"{name}","service_type":"IAM","time":1688991665000,"user":{{"access_key_id":"HSTAEXAMPLE1","name":"alice"}},"code":200}}"#
    )
}

/// Pretty-prints a one-line JSON object, as serde_json does, with an indent of two spaces.
fn pretty(text: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    serde_json::to_string_pretty(&value).unwrap()
}

#[test]
fn json_array_of_records() {
    let records = [record("a", "X"), record("b", "Y")];
    let file = format!("\n[{}]\n", records.join(",\n "));
    let (summary, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(summary.form, Form::Array);
    assert_eq!(event_ids(&events), ["a", "b"]);
    assert_eq!(events[1].raw, records[1]);
}

#[test]
fn json_array_empty_and_concatenated() {
    let file = format!("[] [{}]\n[{}]", record("a", "X"), record("b", "Y"));
    let (summary, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(summary.form, Form::Array);
    assert_eq!(event_ids(&events), ["a", "b"]);
}

#[test]
fn lookup_events_wrapper() {
    let records = [record("a", "CreateUser"), record("b", "CreateAccessKey")];
    let file = format!(
        "{{\n  \"Events\": [{}, {}],\n  \"NextToken\": \"abc\"\n}}\n",
        lookup_entry(&records[0]),
        lookup_entry(&records[1])
    );
    let (summary, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(summary.form, Form::Records);
    assert_eq!(event_ids(&events), ["a", "b"]);
    assert_eq!(events[1].raw, records[1]);
    assert_eq!(events[0].access_key_id.as_deref(), Some("AKIAEXAMPLE1"));
}

#[test]
fn lookup_events_lines() {
    let file = format!(
        "{}\n{}\n",
        lookup_entry(&record("a", "X")),
        lookup_entry(&record("b", "Y"))
    );
    let (summary, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(summary.form, Form::Lines);
    assert_eq!(event_ids(&events), ["a", "b"]);
}

#[test]
fn lookup_events_array() {
    let file = format!("[{}]", lookup_entry(&record("a", "X")));
    let (summary, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(summary.form, Form::Array);
    assert_eq!(event_ids(&events), ["a"]);
}

#[test]
fn cts_single_pretty_trace() {
    let file = pretty(&cts_trace("t-1", "createUser"));
    let (summary, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(summary.form, Form::Objects);
    assert_eq!(event_ids(&events), ["t-1"]);
    assert_eq!(events[0].event_name, "createUser");
    assert_eq!(events[0].access_key_id.as_deref(), Some("HSTAEXAMPLE1"));
    assert_eq!(events[0].raw, file);
}

#[test]
fn cts_concatenated_pretty_traces() {
    let file = format!(
        "{}\n{}\n",
        pretty(&cts_trace("t-1", "createUser")),
        pretty(&cts_trace("t-2", "deleteUser"))
    );
    let (summary, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(summary.form, Form::Objects);
    assert_eq!(event_ids(&events), ["t-1", "t-2"]);
}

#[test]
fn cts_lines_array_and_query_response() {
    let traces = [cts_trace("t-1", "createUser"), cts_trace("t-2", "login")];
    let cases = [
        (
            "lines",
            format!("{}\n{}\n", traces[0], traces[1]),
            Form::Lines,
        ),
        (
            "array",
            format!("[{},{}]", traces[0], traces[1]),
            Form::Array,
        ),
        (
            "query response",
            format!(
                r#"{{"meta_data":{{"count":2,"marker":"t-2"}},"traces":[{},{}]}}"#,
                traces[0], traces[1]
            ),
            Form::Records,
        ),
        (
            "pretty query response",
            pretty(&format!(
                r#"{{"meta_data":{{"count":2}},"traces":[{},{}]}}"#,
                traces[0], traces[1]
            )),
            Form::Records,
        ),
    ];
    for (case, file, form) in cases {
        let (summary, events) = read_all(file.as_bytes()).unwrap();
        assert_eq!(summary.form, form, "{case}");
        assert_eq!(event_ids(&events), ["t-1", "t-2"], "{case}");
    }
}

#[test]
fn cloudtrail_and_cts_mixed() {
    let file = format!("[{},{}]", record("a", "X"), cts_trace("t-1", "login"));
    let (_, events) = read_all(file.as_bytes()).unwrap();
    assert_eq!(event_ids(&events), ["a", "t-1"]);
}

#[test]
fn gzip_of_every_form() {
    let cases = [
        ("array", format!("[{}]", record("a", "X")), Form::Array),
        (
            "lookup-events",
            format!(r#"{{"Events":[{}]}}"#, lookup_entry(&record("a", "X"))),
            Form::Records,
        ),
        ("cts trace", pretty(&cts_trace("a", "login")), Form::Objects),
        (
            "cts lines",
            format!("{}\n", cts_trace("a", "login")),
            Form::Lines,
        ),
    ];
    for (case, file, form) in cases {
        let (summary, events) = read_all(&gzip(file.as_bytes())).unwrap();
        assert!(summary.gzip, "{case}");
        assert_eq!(summary.form, form, "{case}");
        assert_eq!(event_ids(&events), ["a"], "{case}");
    }
}

#[test]
fn array_and_objects_errors_table() {
    let cases = [
        (
            "array then object",
            format!("[{}]\n{{}}", record("a", "X")),
            (2, 1),
            "expected another JSON array of events or the end of the file, found '{'".to_owned(),
        ),
        (
            "array element not an object",
            format!("[{}, 5]", record("a", "X")),
            (1, record("a", "X").len() as u64 + 4),
            "event 2 is a number, expected a JSON object".to_owned(),
        ),
        (
            "object then text",
            format!("{}\nxyz", pretty(&cts_trace("t", "n"))),
            (pretty(&cts_trace("t", "n")).lines().count() as u64 + 1, 1),
            "expected another event object or the end of the file, found 'x'".to_owned(),
        ),
        (
            "second pretty trace lacks time",
            format!(
                "{}\n{{\n  \"trace_id\": \"t2\", \"trace_name\": \"n\", \"service_type\": \"S\"\n}}",
                pretty(&cts_trace("t", "n"))
            ),
            (pretty(&cts_trace("t", "n")).lines().count() as u64 + 1, 1),
            "event 2: missing required field `time`".to_owned(),
        ),
        (
            "cts line with zone-less time",
            r#"{"trace_id":"t","trace_name":"n","service_type":"S","time":"2016/12/08 11:07:28"}"#
                .to_owned(),
            (1, 1),
            "field `time` has no time zone: \"2016/12/08 11:07:28\", expected epoch milliseconds \
             or a zone such as 2016/12/08 11:07:28 GMT+08:00"
                .to_owned(),
        ),
        (
            "wrapper without events",
            r#"{"meta_data":{"count":0}}"#.to_owned(),
            (1, 1),
            "object has no Records, Events or traces array".to_owned(),
        ),
    ];
    for (case, file, (line, column), message) in cases {
        let error = read_error(file.as_bytes());
        assert_eq!(error.message, message, "{case}");
        assert_eq!(error.line, Some(line), "{case}");
        assert_eq!(error.column, Some(column), "{case}");
    }
}

#[test]
fn truncated_array_and_pretty_trace() {
    let cases = [
        (
            "array",
            format!("[{}, {}", record("a", "X"), record("b", "Y")),
        ),
        ("pretty trace", {
            let text = pretty(&cts_trace("t", "n"));
            text[..text.len() - 3].to_owned()
        }),
    ];
    for (case, file) in cases {
        let error = read_error(file.as_bytes());
        assert!(
            error.message.starts_with("file is truncated"),
            "{case}: {error}"
        );
        assert!(error.line.is_some(), "{case}");
    }
}

#[test]
fn broken_line_reports_line_number() {
    let file = format!(
        "{}\n\n{{\"eventID\": \"b\", oops}}\n{}",
        record("a", "X"),
        record("c", "X")
    );
    let mut ids = Vec::new();
    let result = read_events("trail.jsonl", file.as_bytes(), |event| {
        ids.push(event.event_id);
        Ok::<(), ()>(())
    });
    let Err(ReadFailure::Read(error)) = result else {
        panic!("expected a read error, got {result:?}");
    };
    assert_eq!(error.line, Some(3));
    assert_eq!(error.column, Some(18));
    assert!(
        error
            .message
            .starts_with("invalid JSON: key must be a string"),
        "{error}"
    );
    assert_eq!(ids, ["a"], "events before the broken line are delivered");
    assert_eq!(
        error.to_string(),
        format!("trail.jsonl line 3 column 18: {}", error.message)
    );
}

#[test]
fn truncated_last_line_reported() {
    let line = record("b", "X");
    let file = format!("{}\n{}", record("a", "X"), &line[..40]);
    let error = read_error(file.as_bytes());
    assert_eq!(error.line, Some(2));
    assert!(error.message.starts_with("incomplete JSON"), "{error}");
}

#[test]
fn line_errors_table() {
    let valid_tail = r#""eventTime":"2023-07-10T12:00:00Z","eventName":"N","eventSource":"s"}"#;
    let cases = [
        (
            format!("{}\n  {{{valid_tail}", record("a", "X")),
            2,
            3,
            "missing required field `eventID`",
        ),
        (
            format!(
                "{}\n{}\n{{\"eventID\":\"c\",\"eventTime\":\"2023-07-10 12:00:00\",\"eventName\":\"N\",\"eventSource\":\"s\"}}",
                record("a", "X"),
                record("b", "X")
            ),
            3,
            1,
            "field `eventTime` has no time zone",
        ),
        (
            format!("{}\n[1,2]", record("a", "X")),
            2,
            1,
            "expected one JSON event object per line, found an array",
        ),
        (
            format!("{}\n{{\"eventID\":\"\u{e9}\u{1}\"}}", record("a", "X")),
            2,
            15,
            "invalid UTF-8",
        ),
    ];
    for (file, line, column, message) in cases {
        // Turn the \u{1} placeholder into a byte that is not valid UTF-8.
        let file: Vec<u8> = file
            .bytes()
            .map(|b| if b == 1 { 0xff } else { b })
            .collect();
        let error = read_error(&file);
        assert_eq!(error.line, Some(line), "{error}");
        assert_eq!(error.column, Some(column), "{error}");
        assert!(error.message.starts_with(message), "{error}");
    }
}

#[test]
fn byte_order_mark_counts_in_first_line_column() {
    let mut file = UTF8_BOM.to_vec();
    file.extend(br#"{"eventID":"a"}"#);
    let error = read_error(&file);
    assert_eq!((error.line, error.column), (Some(1), Some(4)));
    assert_eq!(error.message, "missing required field `eventTime`");
}

#[test]
fn truncated_records_file_reported() {
    let file = records_file(&[record("a", "X"), record("b", "Y")]);
    let cut = file.len() - 30;
    let mut ids = Vec::new();
    let result = read_events("cut.json", &file.as_bytes()[..cut], |event| {
        ids.push(event.event_id);
        Ok::<(), ()>(())
    });
    let Err(ReadFailure::Read(error)) = result else {
        panic!("expected a read error, got {result:?}");
    };
    assert!(
        error
            .message
            .starts_with("file is truncated: EOF while parsing"),
        "{error}"
    );
    assert_eq!(error.line, Some(1));
    assert_eq!(error.column, Some(cut as u64));
    assert_eq!(ids, ["a"]);
}

#[test]
fn truncated_gzip_records_file_reported() {
    let file = records_file(&[record("a", "X"), record("b", "Y")]);
    let compressed = gzip(file.as_bytes());
    let error = read_error(&compressed[..compressed.len() - 20]);
    assert!(
        error.message.contains("gzip") || error.message.contains("truncated"),
        "{error}"
    );
}

#[test]
fn broken_records_element_reported() {
    let file = format!(
        "{{\"Records\":[\n{},\n{{\"eventID\": \"b\" \"eventTime\": 1}}]}}",
        record("a", "X")
    );
    let error = read_error(file.as_bytes());
    assert_eq!(error.line, Some(3));
    assert_eq!(error.column, Some(17));
    assert_eq!(error.message, "expected `,` or `}`");
}

#[test]
fn records_event_errors_point_at_event_start() {
    let first = record("a", "X");
    let missing_name = first.replace(r#""eventName":"X","#, "");
    let no_zone = first.replace("12:21:05Z", "12:21:05");

    let single_line = records_file(&[first.clone(), missing_name.clone()]);
    let error = read_error(single_line.as_bytes());
    let expected_column = "{\"Records\":[".len() + first.len() + ",".len() + 1;
    assert_eq!(
        (error.line, error.column),
        (Some(1), Some(expected_column as u64))
    );
    assert_eq!(error.message, "event 2: missing required field `eventName`");

    let pretty = format!("{{\"Records\": [\n  {first},\n\n    {no_zone}\n]}}");
    let error = read_error(pretty.as_bytes());
    assert_eq!((error.line, error.column), (Some(4), Some(5)));
    assert!(
        error
            .message
            .starts_with("event 2: field `eventTime` has no time zone"),
        "{error}"
    );

    let second_object = format!(
        "{}\n  {}",
        records_file(std::slice::from_ref(&first)),
        records_file(&[missing_name])
    );
    let error = read_error(second_object.as_bytes());
    assert_eq!((error.line, error.column), (Some(2), Some(15)));
    assert_eq!(error.message, "event 2: missing required field `eventName`");
}

#[test]
fn records_structure_errors_table() {
    let cases = [
        (
            r#"{"Records":[{"eventID":"a"}, 5]}"#.to_owned(),
            "event 1: missing required field `eventTime`",
        ),
        (
            format!(r#"{{"Records":[{}, 5]}}"#, record("a", "X")),
            "event 2 is a number, expected a JSON object",
        ),
        (
            r#"{"Records":null}"#.to_owned(),
            "invalid type: null, expected the Records array of CloudTrail events",
        ),
        (
            format!("{} x", records_file(&[])),
            "expected another {\"Records\":[...]} object or the end of the file, found 'x'",
        ),
        (
            format!("{} {{\"other\":[]}}", records_file(&[])),
            "object has no Records, Events or traces array",
        ),
    ];
    for (file, message) in cases {
        let error = read_error(file.as_bytes());
        assert_eq!(error.message, message, "{file}");
        assert!(error.line.is_some(), "{file}");
    }
}

#[test]
fn callback_error_stops_reading() {
    let records: Vec<String> = (0..5).map(|i| record(&i.to_string(), "X")).collect();
    let files = [records_file(&records), records.join("\n")];
    for file in files {
        let mut calls = 0;
        let result = read_events("test.json", file.as_bytes(), |event| {
            calls += 1;
            if event.event_id == "2" {
                Err("enough")
            } else {
                Ok(())
            }
        });
        assert!(
            matches!(result, Err(ReadFailure::Callback("enough"))),
            "{result:?}"
        );
        assert_eq!(calls, 3);
    }
}

/// Reader that fails after `remaining` bytes of `data`.
struct FailingReader<'a> {
    data: &'a [u8],
    remaining: usize,
}

impl Read for FailingReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let count = buffer.len().min(self.remaining).min(self.data.len());
        buffer[..count].copy_from_slice(&self.data[..count]);
        self.data = &self.data[count..];
        self.remaining -= count;
        Ok(count)
    }
}

#[test]
fn io_error_reported() {
    let file = records_file(&[record("a", "X"), record("b", "Y")]);
    let lines = [record("a", "X"), record("b", "Y")].join("\n");
    for data in [file.as_bytes(), lines.as_bytes()] {
        let input = FailingReader {
            data,
            remaining: 300,
        };
        let result = read_events("test.json", input, |_| Ok::<(), ()>(()));
        let Err(ReadFailure::Read(error)) = result else {
            panic!("expected a read error, got {result:?}");
        };
        assert!(
            error.message.starts_with("failed to read the file at byte"),
            "{error}"
        );
        assert!(error.message.ends_with("disk on fire"), "{error}");
        assert_eq!(error.line, None);
        assert_eq!(error.to_string(), format!("test.json: {}", error.message));
    }
}

#[test]
fn read_error_display_forms() {
    let mut error = ReadError {
        file: "f.json".to_owned(),
        line: Some(7),
        column: Some(3),
        message: "bad".to_owned(),
    };
    assert_eq!(error.to_string(), "f.json line 7 column 3: bad");
    error.column = None;
    assert_eq!(error.to_string(), "f.json line 7: bad");
    error.line = None;
    assert_eq!(error.to_string(), "f.json: bad");
}

/// Reader that generates a large file on the fly and counts the bytes it has handed out, so a
/// test can check that events arrive before the input is exhausted.
struct GeneratedFile {
    count: usize,
    next_index: usize,
    form: Form,
    pending: Vec<u8>,
    position: usize,
    produced: std::rc::Rc<Cell<u64>>,
}

impl GeneratedFile {
    fn new(form: Form, count: usize, produced: std::rc::Rc<Cell<u64>>) -> Self {
        let pending = match form {
            Form::Records => b"{\"Records\":[".to_vec(),
            Form::Array => b"[".to_vec(),
            Form::Lines => Vec::new(),
            Form::Objects => unimplemented!("generated files have one event per line"),
        };
        GeneratedFile {
            count,
            next_index: 0,
            form,
            pending,
            position: 0,
            produced,
        }
    }

    fn refill(&mut self) {
        self.pending.clear();
        self.position = 0;
        if self.next_index < self.count {
            let index = self.next_index;
            self.next_index += 1;
            if self.form != Form::Lines && index > 0 {
                self.pending.push(b',');
            }
            self.pending
                .extend(record(&index.to_string(), "RunInstances").as_bytes());
            if self.form == Form::Lines {
                self.pending.push(b'\n');
            }
        } else if self.next_index == self.count && self.form != Form::Lines {
            self.next_index += 1;
            match self.form {
                Form::Records => self.pending.extend(b"]}"),
                _ => self.pending.extend(b"]"),
            }
        }
    }
}

impl Read for GeneratedFile {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.position == self.pending.len() {
            self.refill();
        }
        let available = &self.pending[self.position..];
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        self.position += count;
        self.produced.set(self.produced.get() + count as u64);
        Ok(count)
    }
}

#[test]
fn streaming_large_generated_files() {
    let cases = [
        (Form::Lines, 300_000),
        (Form::Records, 100_000),
        (Form::Array, 100_000),
    ];
    for (form, count) in cases {
        let produced = std::rc::Rc::new(Cell::new(0));
        let input = GeneratedFile::new(form, count, produced.clone());
        let mut seen = 0;
        let mut produced_at_first_event = 0;
        let summary = read_events("generated", input, |event| {
            if seen == 0 {
                produced_at_first_event = produced.get();
            }
            assert_eq!(event.event_id, seen.to_string());
            seen += 1;
            Ok::<(), ()>(())
        })
        .unwrap();

        assert_eq!(summary.events, count as u64, "{form:?}");
        assert_eq!(summary.form, form);
        // The reader buffers at most a few buffers ahead of the first event.
        assert!(
            produced_at_first_event < 4 * BUFFER_SIZE as u64,
            "{form:?}: {produced_at_first_event} bytes read before the first event"
        );
        assert!(produced.get() > 100 * BUFFER_SIZE as u64, "{form:?}");
    }
}

fn read_gzip_with_limit(data: &[u8], limit: u64) -> Result<FileSummary, ReadError> {
    let options = ReadOptions {
        max_decompressed_bytes: limit,
        ..ReadOptions::default()
    };
    match read_events_with("big.json.gz", &gzip(data)[..], options, |_| {
        Ok::<(), ()>(())
    }) {
        Ok(summary) => Ok(summary),
        Err(ReadFailure::Read(error)) => Err(error),
        Err(ReadFailure::Callback(())) => unreachable!("the callback never fails"),
    }
}

#[test]
fn gzip_over_limit_rejected() {
    let lines = [record("a", "X"), record("b", "Y"), record("c", "Z")].join("\n");
    for form in [lines.clone(), records_file(&[record("a", "X"), record("b", "Y")])] {
        let limit = form.len() as u64 - 1;
        let error = read_gzip_with_limit(form.as_bytes(), limit).unwrap_err();
        assert_eq!(error.file, "big.json.gz");
        assert_eq!(
            error.message,
            format!(
                "the decompressed content is larger than the limit of {limit} bytes; if this \
                 is a real trail file, raise the max_decompressed_mb setting"
            )
        );
        assert_eq!(error.line, None);
    }
}

#[test]
fn gzip_at_limit_accepted() {
    let lines = [record("a", "X"), record("b", "Y")].join("\n");
    let summary = read_gzip_with_limit(lines.as_bytes(), lines.len() as u64).unwrap();
    assert_eq!(summary.events, 2);
}

#[test]
fn limit_named_in_megabytes() {
    assert_eq!(describe_limit(10 * 1024 * 1024 * 1024), "10240 MB");
    assert_eq!(describe_limit(1000), "1000 bytes");
}

#[test]
fn plain_file_has_no_limit() {
    let lines = [record("a", "X"), record("b", "Y")].join("\n");
    let options = ReadOptions {
        max_decompressed_bytes: 10,
        ..ReadOptions::default()
    };
    let summary = read_events_with("plain.json", lines.as_bytes(), options, |_| {
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(summary.events, 2);
}

/// Builds a record of `key` with id `id`, padded with a `requestParameters` string of `padding` bytes.
fn keyed_record(id: &str, key: &str, padding: usize) -> String {
    record(id, "DeleteUser")
        .replace("AKIAEXAMPLE1", key)
        .replace(
            r#""awsRegion""#,
            &format!(r#""requestParameters":{{"note":"{}"}},"awsRegion""#, "x".repeat(padding)),
        )
}

/// Reads `input` parsing only the events that contain `needles`; returns the summary, the ids
/// of the events parsed and what the shared counter saw.
fn read_only_containing(input: &[u8], needles: &[&str]) -> Result<(FileSummary, Vec<String>, u64), ReadError> {
    let counter = Arc::new(AtomicU64::new(0));
    let options = ReadOptions {
        only_containing: Some(Arc::new(Needles::new(needles).unwrap())),
        events_read: Some(counter.clone()),
        ..ReadOptions::default()
    };
    let mut ids = Vec::new();
    let read = read_events_with("test.json", input, options, |event| {
        ids.push(event.event_id);
        Ok::<(), ()>(())
    });
    match read {
        Ok(summary) => Ok((summary, ids, counter.load(Ordering::Relaxed))),
        Err(ReadFailure::Read(error)) => Err(error),
        Err(ReadFailure::Callback(())) => unreachable!("the callback never fails"),
    }
}

#[test]
fn lines_without_a_needle_are_counted_not_parsed() {
    // Lines long enough to cross the reader's buffer, so that some span two fills of it.
    let lines: Vec<String> = (0..40)
        .map(|n| {
            let key = if n % 7 == 3 { "AKIALEAKED" } else { "AKIAOTHER" };
            keyed_record(&format!("e{n}"), key, 5_000 + n * 997)
        })
        .collect();
    let file = lines.join("\n") + "\n\n";
    let (summary, ids, counted) = read_only_containing(file.as_bytes(), &["AKIALEAKED"]).unwrap();
    assert_eq!(summary.events, 40);
    assert_eq!(counted, 40);
    assert_eq!(ids, ["e3", "e10", "e17", "e24", "e31", "e38"]);

    // A broken field in a line without the key goes unnoticed; with the key it is reported.
    let other = keyed_record("bad", "AKIAOTHER", 0).replace(r#""eventTime":"2023-07-10T12:21:05Z""#, r#""eventTime":5"#);
    let (summary, ids, _) = read_only_containing(format!("{file}{other}\n").as_bytes(), &["AKIALEAKED"]).unwrap();
    assert_eq!((summary.events, ids.len()), (41, 6));
    let leaked = other.replace("AKIAOTHER", "AKIALEAKED");
    let error = read_only_containing(format!("{file}{leaked}\n").as_bytes(), &["AKIALEAKED"]).unwrap_err();
    assert_eq!(error.line, Some(42));
    assert!(error.message.contains("eventTime"), "{}", error.message);
}

#[test]
fn non_object_lines_reported_without_needle() {
    let good = keyed_record("a", "AKIAOTHER", 10);
    for (tail, line) in [("not json\n", 2), ("[1, 2]\n", 2), ("{\"eventID\": \"cut", 2)] {
        let file = format!("{good}\n{tail}");
        let error = read_only_containing(file.as_bytes(), &["AKIALEAKED"]).unwrap_err();
        assert_eq!(error.line, Some(line), "{tail}: {}", error.message);
    }
    let cut = format!("{good}\n{{\"eventID\": \"cut");
    let error = read_only_containing(cut.as_bytes(), &["AKIALEAKED"]).unwrap_err();
    assert!(error.message.contains("the line ends early"), "{}", error.message);
}

#[test]
fn every_form_reads_only_events_with_a_needle() {
    let records = [
        keyed_record("a", "AKIAOTHER", 10),
        keyed_record("b", "AKIALEAKED", 10),
        keyed_record("c", "AKIAOTHER", 10),
    ];
    let files = [
        records_file(&records),
        format!("[{}]", records.join(",")),
        records.iter().map(|record| pretty(record)).collect::<Vec<_>>().join("\n"),
        records.join("\n"),
    ];
    for file in files {
        for input in [file.as_bytes().to_vec(), gzip(file.as_bytes())] {
            let (summary, ids, counted) = read_only_containing(&input, &["AKIALEAKED"]).unwrap();
            assert_eq!((summary.events, counted), (3, 3), "{:?}", summary.form);
            assert_eq!(ids, ["b"], "{:?}", summary.form);
        }
    }
}

#[test]
fn passed_over_lines_must_look_like_objects() {
    assert!(looks_like_object(br#"{"eventID":"a"}"#));
    assert!(looks_like_object(b"{ \"a\": 1 }"));
    for line in [&b"{oops}"[..], b"{}", b"{ }", b"[{\"a\":1}]", b"\"text\"", b"{\"a\":1"] {
        assert!(!looks_like_object(line), "{}", String::from_utf8_lossy(line));
    }
}

#[test]
fn events_before_an_error_are_counted() {
    let lines = [
        keyed_record("a", "AKIAOTHER", 10),
        keyed_record("b", "AKIALEAKED", 10),
        "{oops}".to_owned(),
        keyed_record("c", "AKIALEAKED", 10),
    ];
    let counter = Arc::new(AtomicU64::new(0));
    let options = ReadOptions {
        only_containing: Some(Arc::new(Needles::new(["AKIALEAKED"]).unwrap())),
        events_read: Some(counter.clone()),
        ..ReadOptions::default()
    };
    let read = read_events_with("test.json", lines.join("\n").as_bytes(), options, |_| Ok::<(), ()>(()));
    assert!(matches!(read, Err(ReadFailure::Read(ReadError { line: Some(3), .. }))));
    assert_eq!(counter.load(Ordering::Relaxed), 2);
}

/// Reads `input` recording damaged events; returns the ids read and the lines of the skipped.
fn read_skipping(input: &[u8]) -> (Vec<String>, Vec<Option<u64>>) {
    let skipped = Arc::new(Mutex::new(Vec::new()));
    let options = ReadOptions {
        skipped_events: Some(skipped.clone()),
        ..ReadOptions::default()
    };
    let mut ids = Vec::new();
    read_events_with("test.json", input, options, |event| {
        ids.push(event.event_id);
        Ok::<(), ()>(())
    })
    .unwrap();
    let lines = skipped.lock().unwrap().iter().map(|error| error.line).collect();
    (ids, lines)
}

#[test]
fn damaged_events_skipped_when_asked() {
    let bad_time = record("b", "X").replace(r#""eventTime":"2023-07-10T12:21:05Z""#, r#""eventTime":5"#);
    let lines = [record("a", "X"), bad_time.clone(), "{oops}".to_owned(), record("c", "X")].join("\n");
    assert_eq!(read_skipping(lines.as_bytes()), (vec!["a".to_owned(), "c".to_owned()], vec![Some(2), Some(3)]));

    let records = records_file(&[record("a", "X"), bad_time, record("c", "X")]);
    let (ids, skipped) = read_skipping(records.as_bytes());
    assert_eq!(ids, ["a", "c"]);
    assert_eq!(skipped.len(), 1);
}
