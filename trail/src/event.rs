//! The CloudTrail event record and the parsing of its fields from JSON text.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::cts::parse_trace;
use crate::resource::find_resource;
use crate::secret::redact_secret_fields;

/// One CloudTrail event with the fields Rekey uses, plus its JSON text.
///
/// Optional fields are `None` when the key is missing, `null` or an empty string.
/// CloudTrail writes `"accessKeyId": ""` for some calls made by AWS services.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// `eventID`.
    pub event_id: String,
    /// `eventTime`, which must carry a time zone (CloudTrail writes UTC with `Z`).
    pub event_time: DateTime<Utc>,
    /// `eventName`, the API action, e.g. `CreateAccessKey`.
    pub event_name: String,
    /// `eventSource`, the service endpoint, e.g. `iam.amazonaws.com`.
    pub event_source: String,
    /// `awsRegion`.
    pub region: Option<String>,
    /// `sourceIPAddress`, which is a service name such as `ec2.amazonaws.com` for calls made by AWS.
    pub source_ip: Option<String>,
    /// `userAgent`.
    pub user_agent: Option<String>,
    /// `userIdentity.accessKeyId`.
    pub access_key_id: Option<String>,
    /// `userIdentity.userName`, else `userIdentity.sessionContext.sessionIssuer.userName`,
    /// else the part of `userIdentity.arn` after its last `/`.
    /// For an assumed role without an issuer name that last part is the role session name.
    pub principal_name: Option<String>,
    /// `userIdentity.arn`.
    pub principal_arn: Option<String>,
    /// `userIdentity.accountId`, else `recipientAccountId`.
    pub account_id: Option<String>,
    /// `errorCode`, e.g. `AccessDenied`. `None` for a call that succeeded.
    pub error_code: Option<String>,
    /// Best single resource the call acted on, `None` if nothing fits.
    /// It is the value of the first known key in `requestParameters`, such as `userName`,
    /// `roleName`, `policyArn`, `bucketName` or `instanceId`. The fallbacks in order are a
    /// `requestParameters` key ending in `Id`, `Arn`, `Identifier` or `Name`, the first
    /// `resources[].ARN`, and the instance or access key id that `responseElements` returns.
    pub resource: Option<String>,
    /// The event's JSON text as in the file. In a file with one event per line, this is the line
    /// without surrounding whitespace. An event with a secret field, such as the `sessionToken`
    /// of an `AssumeRole` response, is written again with the secret replaced by `[REDACTED]`.
    /// Its keys then come out sorted, as [`redact_secret_fields`] explains.
    pub raw: String,
}

impl Event {
    /// Parses one event from its JSON text, such as an [`Event::raw`] stored earlier: a CloudTrail
    /// record, a `lookup-events` entry or a CTS trace.
    ///
    /// # Errors
    /// A message naming the invalid or missing field, without a file position.
    pub fn from_json(raw: String) -> Result<Event, String> {
        parse_event(raw).map_err(|error| match error {
            EventError::Syntax(error) => format!("invalid JSON: {error}"),
            EventError::NotObject(found) => format!("the event is {found}, expected a JSON object"),
            EventError::Field(message) => message,
        })
    }
}

/// Reason why a JSON text is not a usable CloudTrail event.
#[derive(Debug)]
pub(crate) enum EventError {
    /// The text is not valid JSON. The error's line and column are relative to the text.
    Syntax(serde_json::Error),
    /// The text is valid JSON but not an object. The payload names the JSON type, e.g. "an array".
    NotObject(&'static str),
    /// A required field is missing or a field has the wrong type or format.
    Field(String),
}

/// Top-level fields of a CloudTrail record. Each stays raw JSON so that a field with the wrong
/// type can be reported by name.
#[derive(Deserialize)]
struct RecordFields<'a> {
    #[serde(rename = "eventID", borrow)]
    event_id: Option<&'a RawValue>,
    #[serde(rename = "eventTime", borrow)]
    event_time: Option<&'a RawValue>,
    #[serde(rename = "eventName", borrow)]
    event_name: Option<&'a RawValue>,
    #[serde(rename = "eventSource", borrow)]
    event_source: Option<&'a RawValue>,
    #[serde(rename = "awsRegion", borrow)]
    region: Option<&'a RawValue>,
    #[serde(rename = "sourceIPAddress", borrow)]
    source_ip: Option<&'a RawValue>,
    #[serde(rename = "userAgent", borrow)]
    user_agent: Option<&'a RawValue>,
    #[serde(rename = "userIdentity", borrow)]
    user_identity: Option<&'a RawValue>,
    #[serde(rename = "recipientAccountId", borrow)]
    recipient_account_id: Option<&'a RawValue>,
    #[serde(rename = "errorCode", borrow)]
    error_code: Option<&'a RawValue>,
    #[serde(rename = "requestParameters", borrow)]
    request_parameters: Option<&'a RawValue>,
    #[serde(rename = "responseElements", borrow)]
    response_elements: Option<&'a RawValue>,
    #[serde(borrow)]
    resources: Option<&'a RawValue>,
    /// Present in the output of `aws cloudtrail lookup-events`, which wraps each record as a
    /// JSON string.
    #[serde(rename = "CloudTrailEvent", borrow)]
    lookup_events_record: Option<&'a RawValue>,
    /// Present in CTS traces, which [`parse_trace`] reads.
    #[serde(borrow)]
    trace_id: Option<&'a RawValue>,
    #[serde(borrow)]
    trace_name: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct UserIdentity<'a> {
    #[serde(rename = "accessKeyId", borrow)]
    access_key_id: Option<&'a RawValue>,
    #[serde(rename = "userName", borrow)]
    user_name: Option<&'a RawValue>,
    #[serde(borrow)]
    arn: Option<&'a RawValue>,
    #[serde(rename = "accountId", borrow)]
    account_id: Option<&'a RawValue>,
    #[serde(rename = "sessionContext", borrow)]
    session_context: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SessionContext<'a> {
    #[serde(rename = "sessionIssuer", borrow)]
    session_issuer: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SessionIssuer<'a> {
    #[serde(rename = "userName", borrow)]
    user_name: Option<&'a RawValue>,
}

/// Parses one event from its JSON text, detecting its kind from its keys.
///
/// An object with `eventID` is a CloudTrail record. Without it, a `CloudTrailEvent` string
/// marks an entry of `aws cloudtrail lookup-events` output, whose record is that string.
/// A `trace_id` or `trace_name` marks a CTS trace. Anything else is read as a CloudTrail record,
/// so that the error names the missing `eventID`.
///
/// The values of secret fields such as `sessionToken` are redacted in [`Event::raw`]; see
/// [`redact_secret_fields`].
pub(crate) fn parse_event(raw: String) -> Result<Event, EventError> {
    let mut event = parse_event_kind(raw)?;
    event.raw = redact_secret_fields(std::mem::take(&mut event.raw));
    Ok(event)
}

fn parse_event_kind(raw: String) -> Result<Event, EventError> {
    let fields = parse_record_fields(&raw)?;
    if fields.event_id.is_none() {
        if let Some(record) = fields.lookup_events_record {
            return parse_lookup_events_entry(record);
        }
        if fields.trace_id.is_some() || fields.trace_name.is_some() {
            return parse_trace(raw);
        }
    }
    let mut event = parse_cloudtrail_record(&fields)?;
    event.raw = raw;
    Ok(event)
}

/// Parses the record of a `lookup-events` entry, which is JSON text in a string.
/// Errors inside it are reported as errors of the `CloudTrailEvent` field.
fn parse_lookup_events_entry(record: &RawValue) -> Result<Event, EventError> {
    let Some(text) = optional_string(Some(record), "CloudTrailEvent")? else {
        return Err(EventError::Field(
            "field `CloudTrailEvent` is empty, expected a CloudTrail record as JSON text"
                .to_owned(),
        ));
    };
    let fields = match parse_record_fields(&text) {
        Ok(fields) => fields,
        Err(EventError::Syntax(error)) => {
            return Err(EventError::Field(format!(
                "field `CloudTrailEvent` is not valid JSON text: {error}"
            )))
        }
        Err(EventError::NotObject(found)) => {
            return Err(EventError::Field(format!(
                "field `CloudTrailEvent` contains {found}, expected a JSON object"
            )))
        }
        Err(EventError::Field(message)) => {
            return Err(EventError::Field(format!(
                "field `CloudTrailEvent`: {message}"
            )))
        }
    };
    let mut event = parse_cloudtrail_record(&fields).map_err(|error| match error {
        EventError::Field(message) => {
            EventError::Field(format!("field `CloudTrailEvent`: {message}"))
        }
        other => other,
    })?;
    event.raw = text;
    Ok(event)
}

/// Builds the event of a CloudTrail record from its fields, leaving [`Event::raw`] empty for the
/// caller to fill.
fn parse_cloudtrail_record(fields: &RecordFields<'_>) -> Result<Event, EventError> {
    let event_id = required_string(fields.event_id, "eventID")?;
    let event_time = parse_event_time(&required_string(fields.event_time, "eventTime")?)?;
    let event_name = required_string(fields.event_name, "eventName")?;
    let event_source = required_string(fields.event_source, "eventSource")?;
    let region = optional_string(fields.region, "awsRegion")?;
    let source_ip = optional_string(fields.source_ip, "sourceIPAddress")?;
    let user_agent = optional_string(fields.user_agent, "userAgent")?;
    let error_code = optional_string(fields.error_code, "errorCode")?;
    let recipient_account_id = optional_string(fields.recipient_account_id, "recipientAccountId")?;
    let identity = parse_identity(fields.user_identity)?;

    let resource = find_resource(
        fields.request_parameters,
        fields.resources,
        fields.response_elements,
    );

    Ok(Event {
        event_id,
        event_time,
        event_name,
        event_source,
        region,
        source_ip,
        user_agent,
        access_key_id: identity.access_key_id,
        principal_name: identity.principal_name,
        principal_arn: identity.arn,
        account_id: identity.account_id.or(recipient_account_id),
        error_code,
        resource,
        raw: String::new(),
    })
}

fn parse_record_fields(raw: &str) -> Result<RecordFields<'_>, EventError> {
    let first_byte = raw.trim_start().bytes().next();
    if first_byte.is_some_and(|byte| byte != b'{') {
        // Parse the value first, so that invalid JSON is still reported as a syntax error.
        let value: &RawValue = serde_json::from_str(raw).map_err(EventError::Syntax)?;
        return Err(EventError::NotObject(json_type(value)));
    }
    serde_json::from_str(raw).map_err(|error| {
        if error.is_data() {
            // A data error here is a duplicate key, which serde reports by name.
            EventError::Field(message_without_position(&error))
        } else {
            EventError::Syntax(error)
        }
    })
}

/// The `userIdentity` fields that [`Event`] keeps.
#[derive(Default)]
struct Identity {
    access_key_id: Option<String>,
    principal_name: Option<String>,
    arn: Option<String>,
    account_id: Option<String>,
}

fn parse_identity(raw: Option<&RawValue>) -> Result<Identity, EventError> {
    let Some(identity) = object_field::<UserIdentity>(raw, "userIdentity")? else {
        return Ok(Identity::default());
    };
    let session_context =
        object_field::<SessionContext>(identity.session_context, "userIdentity.sessionContext")?;
    let issuer = match session_context {
        Some(context) => object_field::<SessionIssuer>(
            context.session_issuer,
            "userIdentity.sessionContext.sessionIssuer",
        )?,
        None => None,
    };
    let issuer_user_name = match issuer {
        Some(issuer) => optional_string(
            issuer.user_name,
            "userIdentity.sessionContext.sessionIssuer.userName",
        )?,
        None => None,
    };

    let user_name = optional_string(identity.user_name, "userIdentity.userName")?;
    let arn = optional_string(identity.arn, "userIdentity.arn")?;
    let arn_last_part = arn
        .as_deref()
        .and_then(|arn| arn.rsplit_once('/'))
        .map(|(_, last)| last.to_owned())
        .filter(|last| !last.is_empty());

    Ok(Identity {
        access_key_id: optional_string(identity.access_key_id, "userIdentity.accessKeyId")?,
        principal_name: user_name.or(issuer_user_name).or(arn_last_part),
        arn,
        account_id: optional_string(identity.account_id, "userIdentity.accountId")?,
    })
}

fn parse_event_time(text: &str) -> Result<DateTime<Utc>, EventError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let without_zone = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .any(|format| NaiveDateTime::parse_from_str(text, format).is_ok());
    let message = if without_zone {
        format!(
            "field `eventTime` has no time zone: \"{text}\", expected RFC 3339 with a zone \
             such as 2023-07-10T11:47:39Z"
        )
    } else {
        format!(
            "field `eventTime` is not an RFC 3339 date-time: \"{text}\", expected a value \
             such as 2023-07-10T11:47:39Z"
        )
    };
    Err(EventError::Field(message))
}

pub(crate) fn required_string(raw: Option<&RawValue>, path: &str) -> Result<String, EventError> {
    match optional_string(raw, path)? {
        Some(value) => Ok(value),
        None if raw.is_some_and(|raw| raw.get() != "null") => Err(EventError::Field(format!(
            "required field `{path}` is an empty string"
        ))),
        None => Err(EventError::Field(format!(
            "missing required field `{path}`"
        ))),
    }
}

/// Parses a string field, mapping a missing key, `null` and `""` to `None`.
pub(crate) fn optional_string(
    raw: Option<&RawValue>,
    path: &str,
) -> Result<Option<String>, EventError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if !raw.get().starts_with('"') {
        return Err(EventError::Field(format!(
            "field `{path}` is {}, expected a string",
            json_type(raw)
        )));
    }
    let value: String = serde_json::from_str(raw.get()).map_err(|error| {
        EventError::Field(format!(
            "field `{path}` is an invalid string: {}",
            message_without_position(&error)
        ))
    })?;
    Ok(Some(value).filter(|value| !value.is_empty()))
}

/// Parses an object field into `T`, mapping a missing key and `null` to `None`.
pub(crate) fn object_field<'a, T: Deserialize<'a>>(
    raw: Option<&'a RawValue>,
    path: &str,
) -> Result<Option<T>, EventError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if !raw.get().starts_with('{') {
        return Err(EventError::Field(format!(
            "field `{path}` is {}, expected an object",
            json_type(raw)
        )));
    }
    serde_json::from_str(raw.get()).map(Some).map_err(|error| {
        EventError::Field(format!(
            "field `{path}`: {}",
            message_without_position(&error)
        ))
    })
}

/// Parses a JSON value of any shape, returning `None` if it does not fit `T`.
/// Used for fields that only feed best-effort guesses such as [`Event::resource`].
pub(crate) fn parse_lenient<T: DeserializeOwned>(raw: Option<&RawValue>) -> Option<T> {
    raw.and_then(|raw| serde_json::from_str(raw.get()).ok())
}

/// Names the JSON type of a value for error messages, e.g. "an array".
pub(crate) fn json_type(value: &RawValue) -> &'static str {
    match value.get().bytes().next() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Returns serde_json's message without the " at line L column C" suffix. Callers use it when
/// they report the position themselves, or when the position is relative to a single field.
pub(crate) fn message_without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&suffix) {
        Some(stripped) => stripped.to_owned(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Event, EventError> {
        parse_event(text.to_owned())
    }

    fn field_error(text: &str) -> String {
        match parse(text) {
            Err(EventError::Field(message)) => message,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    const IAM_USER_EVENT: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","accessKeyId":"AKIAEXAMPLE1","userName":"alice"},"eventTime":"2023-07-10T12:21:05Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2.0","requestParameters":{"userName":"backdoor"},"responseElements":{"accessKey":{"accessKeyId":"AKIANEWKEY","userName":"backdoor","status":"Active"}},"eventID":"e-1","recipientAccountId":"123456789012"}"#;

    #[test]
    fn event_fields_from_iam_user_call() {
        let event = parse(IAM_USER_EVENT).unwrap();
        assert_eq!(event.event_id, "e-1");
        assert_eq!(event.event_time.to_rfc3339(), "2023-07-10T12:21:05+00:00");
        assert_eq!(event.event_name, "CreateAccessKey");
        assert_eq!(event.event_source, "iam.amazonaws.com");
        assert_eq!(event.region.as_deref(), Some("us-east-1"));
        assert_eq!(event.source_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(event.user_agent.as_deref(), Some("aws-cli/2.0"));
        assert_eq!(event.access_key_id.as_deref(), Some("AKIAEXAMPLE1"));
        assert_eq!(event.principal_name.as_deref(), Some("alice"));
        assert_eq!(
            event.principal_arn.as_deref(),
            Some("arn:aws:iam::123456789012:user/alice")
        );
        assert_eq!(event.account_id.as_deref(), Some("123456789012"));
        assert_eq!(event.error_code, None);
        assert_eq!(event.resource.as_deref(), Some("backdoor"));
        assert_eq!(event.raw, IAM_USER_EVENT);
    }

    #[test]
    fn principal_name_fallbacks() {
        let cases = [
            (
                "issuer user name",
                r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/Admin/sess","sessionContext":{"sessionIssuer":{"type":"Role","userName":"Admin"}}}"#,
                Some("Admin"),
            ),
            (
                "empty issuer, last ARN part",
                r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/Admin/sess","sessionContext":{"sessionIssuer":{}}}"#,
                Some("sess"),
            ),
            (
                "user path in ARN",
                r#"{"type":"IAMUser","arn":"arn:aws:iam::1:user/ops/bob"}"#,
                Some("bob"),
            ),
            (
                "root ARN has no slash",
                r#"{"type":"Root","arn":"arn:aws:iam::1:root"}"#,
                None,
            ),
            (
                "no identity fields",
                r#"{"type":"AWSService","invokedBy":"ec2.amazonaws.com"}"#,
                None,
            ),
        ];
        for (case, identity, expected) in cases {
            let text = format!(
                r#"{{"eventID":"e","eventTime":"2023-07-10T12:00:00Z","eventName":"X","eventSource":"s","userIdentity":{identity}}}"#
            );
            let event = parse(&text).unwrap();
            assert_eq!(event.principal_name.as_deref(), expected, "{case}");
        }
    }

    #[test]
    fn account_id_falls_back_to_recipient() {
        let text = r#"{"eventID":"e","eventTime":"2023-07-10T12:00:00Z","eventName":"X","eventSource":"s","userIdentity":{"type":"AWSService"},"recipientAccountId":"999"}"#;
        assert_eq!(parse(text).unwrap().account_id.as_deref(), Some("999"));
    }

    #[test]
    fn empty_access_key_is_none() {
        let text = r#"{"eventID":"e","eventTime":"2023-07-10T12:00:00Z","eventName":"X","eventSource":"s","userIdentity":{"accessKeyId":""},"errorCode":null}"#;
        let event = parse(text).unwrap();
        assert_eq!(event.access_key_id, None);
        assert_eq!(event.error_code, None);
    }

    #[test]
    fn event_time_with_offset_converts_to_utc() {
        let text = r#"{"eventID":"e","eventTime":"2023-07-10T14:00:00.250+02:00","eventName":"X","eventSource":"s"}"#;
        let event = parse(text).unwrap();
        assert_eq!(
            event.event_time.to_rfc3339(),
            "2023-07-10T12:00:00.250+00:00"
        );
    }

    #[test]
    fn field_errors_name_the_field() {
        let cases = [
            (
                r#"{"eventTime":"2023-07-10T12:00:00Z","eventName":"X","eventSource":"s"}"#,
                "missing required field `eventID`",
            ),
            (
                r#"{"eventID":"e","eventName":"X","eventSource":"s"}"#,
                "missing required field `eventTime`",
            ),
            (
                r#"{"eventID":"e","eventTime":"2023-07-10T12:00:00Z","eventSource":"s"}"#,
                "missing required field `eventName`",
            ),
            (
                r#"{"eventID":"e","eventTime":"2023-07-10T12:00:00Z","eventName":"X"}"#,
                "missing required field `eventSource`",
            ),
            (
                r#"{"eventID":"","eventTime":"2023-07-10T12:00:00Z","eventName":"X","eventSource":"s"}"#,
                "required field `eventID` is an empty string",
            ),
            (
                r#"{"eventID":7,"eventTime":"2023-07-10T12:00:00Z","eventName":"X","eventSource":"s"}"#,
                "field `eventID` is a number, expected a string",
            ),
            (
                r#"{"eventID":"e","eventTime":"2023-07-10T12:00:00Z","eventName":"X","eventSource":"s","awsRegion":["us-east-1"]}"#,
                "field `awsRegion` is an array, expected a string",
            ),
            (
                r#"{"eventID":"e","eventTime":"2023-07-10T12:00:00Z","eventName":"X","eventSource":"s","userIdentity":"alice"}"#,
                "field `userIdentity` is a string, expected an object",
            ),
            (
                r#"{"eventID":"e","eventTime":"2023-07-10T12:00:00Z","eventName":"X","eventSource":"s","userIdentity":{"accessKeyId":true}}"#,
                "field `userIdentity.accessKeyId` is a boolean, expected a string",
            ),
            (
                r#"{"eventID":"e","eventTime":"2023-07-10T12:00:00Z","eventName":"X","eventSource":"s","userIdentity":{"sessionContext":{"sessionIssuer":{"userName":1}}}}"#,
                "field `userIdentity.sessionContext.sessionIssuer.userName` is a number, expected a string",
            ),
            (
                r#"{"eventID":"e","eventID":"f","eventTime":"2023-07-10T12:00:00Z","eventName":"X","eventSource":"s"}"#,
                "duplicate field `eventID`",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(field_error(text), expected, "{text}");
        }
    }

    #[test]
    fn event_time_without_zone_rejected() {
        let message = field_error(
            r#"{"eventID":"e","eventTime":"2023-07-10T12:00:00","eventName":"X","eventSource":"s"}"#,
        );
        assert!(
            message.starts_with("field `eventTime` has no time zone"),
            "{message}"
        );
    }

    #[test]
    fn event_time_not_a_date_rejected() {
        let message = field_error(
            r#"{"eventID":"e","eventTime":"yesterday","eventName":"X","eventSource":"s"}"#,
        );
        assert!(
            message.starts_with("field `eventTime` is not an RFC 3339"),
            "{message}"
        );
    }

    #[test]
    fn lookup_events_entry_reads_inner_record() {
        let inner = serde_json::to_string(IAM_USER_EVENT).unwrap();
        let text = format!(
            r#"{{"EventId":"e-1","EventName":"CreateAccessKey","CloudTrailEvent":{inner}}}"#
        );
        let event = parse(&text).unwrap();
        assert_eq!(event, parse(IAM_USER_EVENT).unwrap());
        assert_eq!(event.raw, IAM_USER_EVENT);
    }

    #[test]
    fn lookup_events_entry_errors() {
        let cases = [
            (
                r#"{"EventId":"e","CloudTrailEvent":7}"#,
                "field `CloudTrailEvent` is a number, expected a string",
            ),
            (
                r#"{"EventId":"e","CloudTrailEvent":""}"#,
                "field `CloudTrailEvent` is empty, expected a CloudTrail record as JSON text",
            ),
            (
                r#"{"EventId":"e","CloudTrailEvent":"[1]"}"#,
                "field `CloudTrailEvent` contains an array, expected a JSON object",
            ),
            (
                r#"{"EventId":"e","CloudTrailEvent":"{\"eventID\":"}"#,
                "field `CloudTrailEvent` is not valid JSON text: EOF while parsing a value at line 1 column 11",
            ),
            (
                r#"{"EventId":"e","CloudTrailEvent":"{\"eventID\":\"e\"}"}"#,
                "field `CloudTrailEvent`: missing required field `eventTime`",
            ),
            (
                r#"{"EventId":"e","CloudTrailEvent":"{\"eventID\":\"e\",\"eventTime\":\"2023-07-10T12:00:00\",\"eventName\":\"X\",\"eventSource\":\"s\"}"}"#,
                "field `CloudTrailEvent`: field `eventTime` has no time zone: \"2023-07-10T12:00:00\", \
                 expected RFC 3339 with a zone such as 2023-07-10T11:47:39Z",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(field_error(text), expected, "{text}");
        }
    }

    #[test]
    fn session_token_not_kept_in_raw() {
        let text = r#"{"eventID":"e","eventTime":"2023-07-10T12:00:00Z","eventName":"AssumeRole","eventSource":"sts.amazonaws.com","userIdentity":{"accessKeyId":"AKIAEXAMPLE1"},"responseElements":{"credentials":{"accessKeyId":"ASIANEW","sessionToken":"FQoGZXIvYXdzEXAMPLE"}}}"#;
        let entry = serde_json::json!({"EventId": "e", "CloudTrailEvent": text}).to_string();
        for input in [text.to_owned(), entry] {
            let event = parse(&input).unwrap();
            assert!(!event.raw.contains("FQoGZXIvYXdzEXAMPLE"), "{}", event.raw);
            let raw: serde_json::Value = serde_json::from_str(&event.raw).unwrap();
            let credentials = &raw["responseElements"]["credentials"];
            assert_eq!(credentials["sessionToken"], "[REDACTED]");
            assert_eq!(credentials["accessKeyId"], "ASIANEW");
            assert_eq!(event.access_key_id.as_deref(), Some("AKIAEXAMPLE1"));
        }
    }

    #[test]
    fn trace_keys_select_cts() {
        let event = parse(
            r#"{"trace_id":"t-1","trace_name":"deleteVolume","service_type":"EVS","time":1718778778419}"#,
        )
        .unwrap();
        assert_eq!(event.event_id, "t-1");
        assert_eq!(event.event_source, "EVS");
    }

    #[test]
    fn event_id_wins_over_trace_keys() {
        let event = parse(
            r#"{"eventID":"e","eventTime":"2023-07-10T12:00:00Z","eventName":"X","eventSource":"s","trace_id":"t"}"#,
        )
        .unwrap();
        assert_eq!(event.event_id, "e");
    }

    #[test]
    fn non_object_and_invalid_json() {
        assert!(matches!(
            parse("[1, 2]"),
            Err(EventError::NotObject("an array"))
        ));
        assert!(matches!(
            parse("\"text\""),
            Err(EventError::NotObject("a string"))
        ));
        assert!(matches!(
            parse("{\"eventID\": "),
            Err(EventError::Syntax(_))
        ));
        assert!(matches!(parse("[1, "), Err(EventError::Syntax(_))));
    }
}
