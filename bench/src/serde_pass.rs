//! The speed floor: each line deserialized into a struct of borrowed fields, with the same
//! selection as the jq filter and nothing stored.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

use crate::LEAKED_KEY;

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "eventID", borrow)]
    event_id: Cow<'a, str>,
    #[serde(rename = "eventTime", borrow)]
    event_time: Cow<'a, str>,
    #[serde(rename = "eventName", borrow)]
    event_name: Cow<'a, str>,
    #[serde(rename = "eventSource", borrow)]
    event_source: Cow<'a, str>,
    #[serde(rename = "userIdentity", borrow)]
    user_identity: Option<Identity<'a>>,
}

#[derive(Deserialize)]
struct Identity<'a> {
    #[serde(rename = "accessKeyId", borrow)]
    access_key_id: Option<Cow<'a, str>>,
}

/// Returns the number of events in `file` and the number that the leaked key made at or after
/// `since`.
pub fn count_matches(file: &Path, since: &str) -> anyhow::Result<(u64, u64)> {
    let mut input = BufReader::with_capacity(256 * 1024, File::open(file)?);
    let mut line = Vec::new();
    let (mut events, mut matched) = (0, 0);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok((events, matched));
        }
        let record: Record = serde_json::from_slice(&line)?;
        events += 1;
        let key = record
            .user_identity
            .as_ref()
            .and_then(|identity| identity.access_key_id.as_deref());
        let required_present = !record.event_id.is_empty()
            && !record.event_name.is_empty()
            && !record.event_source.is_empty();
        if key == Some(LEAKED_KEY) && record.event_time.as_ref() >= since && required_present {
            matched += 1;
        }
    }
}
