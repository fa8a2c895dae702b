//! Huawei Cloud Trace Service (CTS) traces mapped onto [`Event`].
//!
//! A trace names its operation in `trace_name` and its service in `service_type`, and the access
//! key that signed the call sits at `user.access_key_id`. Current traces give `time` in epoch
//! milliseconds. Older ones give a string such as `2016/12/08 11:07:28 GMT+08:00`. The fields
//! `user`, `request` and `response` may be objects or JSON text inside a string, and `code`, the
//! HTTP status, may be a number or a string.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::event::{
    json_type, message_without_position, object_field, optional_string, required_string, Event,
    EventError,
};

/// Top-level fields of a trace that [`Event`] uses, kept raw so that type errors name the field.
#[derive(Deserialize)]
struct TraceFields<'a> {
    #[serde(borrow)]
    trace_id: Option<&'a RawValue>,
    #[serde(borrow)]
    trace_name: Option<&'a RawValue>,
    #[serde(borrow)]
    service_type: Option<&'a RawValue>,
    #[serde(borrow)]
    time: Option<&'a RawValue>,
    #[serde(borrow)]
    source_ip: Option<&'a RawValue>,
    #[serde(borrow)]
    user_agent: Option<&'a RawValue>,
    #[serde(borrow)]
    user: Option<&'a RawValue>,
    #[serde(borrow)]
    code: Option<&'a RawValue>,
    #[serde(borrow)]
    trace_rating: Option<&'a RawValue>,
    #[serde(borrow)]
    response: Option<&'a RawValue>,
    #[serde(borrow)]
    resource_name: Option<&'a RawValue>,
    #[serde(borrow)]
    resource_id: Option<&'a RawValue>,
    #[serde(borrow)]
    domain_id: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct UserFields<'a> {
    #[serde(borrow)]
    access_key_id: Option<&'a RawValue>,
    #[serde(borrow)]
    user_name: Option<&'a RawValue>,
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    principal_urn: Option<&'a RawValue>,
    #[serde(borrow)]
    account_id: Option<&'a RawValue>,
    #[serde(borrow)]
    domain: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct DomainFields<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
}

/// The `user` fields that [`Event`] keeps.
#[derive(Default)]
struct TraceUser {
    access_key_id: Option<String>,
    name: Option<String>,
    urn: Option<String>,
    account_id: Option<String>,
}

/// Parses one CTS trace from its JSON text, which becomes [`Event::raw`].
///
/// `trace_id` becomes the event id, `trace_name` the event name and `service_type` the event
/// source. A trace is a failed call, with [`Event::error_code`] set, when `code` is 400 or more
/// or `trace_rating` is not `normal`. The error code is then the `error_code` or `code` string in
/// the response, else the HTTP status, else the rating.
pub(crate) fn parse_trace(raw: String) -> Result<Event, EventError> {
    let fields: TraceFields = serde_json::from_str(&raw).map_err(|error| {
        if error.is_data() {
            EventError::Field(message_without_position(&error))
        } else {
            EventError::Syntax(error)
        }
    })?;

    let event_id = required_string(fields.trace_id, "trace_id")?;
    let event_name = required_string(fields.trace_name, "trace_name")?;
    let event_source = required_string(fields.service_type, "service_type")?;
    let event_time = parse_time(fields.time)?;
    let user = parse_user(fields.user)?;
    let status = parse_code(fields.code)?;
    let rating = optional_string(fields.trace_rating, "trace_rating")?;
    let error_code = error_code(status, rating.as_deref(), fields.response);
    let domain_id = optional_string(fields.domain_id, "domain_id")?;
    let resource = optional_string(fields.resource_name, "resource_name")?
        .or(optional_string(fields.resource_id, "resource_id")?);

    Ok(Event {
        event_id,
        event_time,
        event_name,
        event_source,
        region: None,
        source_ip: optional_string(fields.source_ip, "source_ip")?,
        user_agent: optional_string(fields.user_agent, "user_agent")?,
        access_key_id: user.access_key_id,
        principal_name: user.name,
        principal_arn: user.urn,
        account_id: user.account_id.or(domain_id),
        error_code,
        resource,
        raw,
    })
}

/// Parses `time`: epoch milliseconds as a number or a string of digits, RFC 3339, or the legacy
/// form `2016/12/08 11:07:28 GMT+08:00`. A time without a zone is rejected.
fn parse_time(raw: Option<&RawValue>) -> Result<DateTime<Utc>, EventError> {
    let Some(raw) = raw.filter(|raw| raw.get() != "null") else {
        return Err(EventError::Field(
            "missing required field `time`".to_owned(),
        ));
    };
    if raw.get().starts_with('"') {
        let text = required_string(Some(raw), "time")?;
        return parse_time_text(&text);
    }
    let millis: i64 = serde_json::from_str(raw.get()).map_err(|_| {
        EventError::Field(format!(
            "field `time` is {} {}, expected epoch milliseconds as an integer or a date-time \
             string with a zone",
            json_type(raw),
            raw.get()
        ))
    })?;
    from_epoch_millis(millis)
}

fn parse_time_text(text: &str) -> Result<DateTime<Utc>, EventError> {
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        let millis = text.parse().map_err(|_| out_of_range(text))?;
        return from_epoch_millis(millis);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    for format in ["%Y/%m/%d %H:%M:%S GMT%:z", "%Y-%m-%d %H:%M:%S GMT%:z"] {
        if let Ok(time) = DateTime::parse_from_str(text, format) {
            return Ok(time.with_timezone(&Utc));
        }
    }
    let without_zone = [
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ]
    .iter()
    .any(|format| NaiveDateTime::parse_from_str(text, format).is_ok());
    let message = if without_zone {
        format!(
            "field `time` has no time zone: \"{text}\", expected epoch milliseconds or a zone \
             such as 2016/12/08 11:07:28 GMT+08:00"
        )
    } else {
        format!(
            "field `time` is not a date-time: \"{text}\", expected epoch milliseconds or a \
             value such as 2016/12/08 11:07:28 GMT+08:00"
        )
    };
    Err(EventError::Field(message))
}

fn from_epoch_millis(millis: i64) -> Result<DateTime<Utc>, EventError> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .ok_or_else(|| out_of_range(&millis.to_string()))
}

fn out_of_range(text: &str) -> EventError {
    EventError::Field(format!(
        "field `time` is out of range: {text}, expected epoch milliseconds"
    ))
}

/// Parses `user`, which is an object or an object as JSON text.
fn parse_user(raw: Option<&RawValue>) -> Result<TraceUser, EventError> {
    let Some(raw) = raw else {
        return Ok(TraceUser::default());
    };
    if !raw.get().starts_with('"') {
        return parse_user_object(Some(raw));
    }
    let Some(text) = optional_string(Some(raw), "user")? else {
        return Ok(TraceUser::default());
    };
    let inner: &RawValue = serde_json::from_str(&text).map_err(|error| {
        EventError::Field(format!(
            "field `user` is a string but not JSON text: {}",
            message_without_position(&error)
        ))
    })?;
    parse_user_object(Some(inner))
}

fn parse_user_object(raw: Option<&RawValue>) -> Result<TraceUser, EventError> {
    let Some(user) = object_field::<UserFields>(raw, "user")? else {
        return Ok(TraceUser::default());
    };
    let domain_id = match object_field::<DomainFields>(user.domain, "user.domain")? {
        Some(domain) => optional_string(domain.id, "user.domain.id")?,
        None => None,
    };
    let user_name = optional_string(user.user_name, "user.user_name")?;
    let name = optional_string(user.name, "user.name")?;
    Ok(TraceUser {
        access_key_id: optional_string(user.access_key_id, "user.access_key_id")?,
        name: user_name.or(name),
        urn: optional_string(user.principal_urn, "user.principal_urn")?,
        account_id: optional_string(user.account_id, "user.account_id")?.or(domain_id),
    })
}

/// Parses `code`, the HTTP status, given as a number or a string.
/// Returns `None` when it is missing, empty or not a number, such as `"VPC.0514"`.
fn parse_code(raw: Option<&RawValue>) -> Result<Option<u16>, EventError> {
    let Some(raw) = raw.filter(|raw| raw.get() != "null") else {
        return Ok(None);
    };
    let text = match raw.get().as_bytes().first() {
        Some(b'"') => optional_string(Some(raw), "code")?.unwrap_or_default(),
        Some(b'0'..=b'9') => raw.get().to_owned(),
        _ => {
            return Err(EventError::Field(format!(
                "field `code` is {}, expected an HTTP status as a number or a string",
                json_type(raw)
            )))
        }
    };
    Ok(text.trim().parse().ok())
}

fn error_code(
    status: Option<u16>,
    rating: Option<&str>,
    response: Option<&RawValue>,
) -> Option<String> {
    let failed_status = status.filter(|&status| status >= 400);
    let failed_rating = rating.filter(|&rating| !rating.eq_ignore_ascii_case("normal"));
    if failed_status.is_none() && failed_rating.is_none() {
        return None;
    }
    response_error_code(response)
        .or(failed_status.map(|status| status.to_string()))
        .or(failed_rating.map(str::to_owned))
}

/// Returns the `error_code` or `code` string of a response object or of a response given as
/// JSON text. A response that is neither yields `None`, because it only refines the error code.
fn response_error_code(response: Option<&RawValue>) -> Option<String> {
    #[derive(Deserialize)]
    struct ResponseCodes {
        error_code: Option<serde_json::Value>,
        code: Option<serde_json::Value>,
    }

    let response = response?.get();
    let text: String;
    let object = if response.starts_with('"') {
        text = serde_json::from_str(response).ok()?;
        text.as_str()
    } else {
        response
    };
    let codes: ResponseCodes = serde_json::from_str(object).ok()?;
    [codes.error_code, codes.code]
        .into_iter()
        .flatten()
        .find_map(|value| match value {
            serde_json::Value::String(code) if !code.is_empty() => Some(code),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Event, EventError> {
        parse_trace(text.to_owned())
    }

    fn field_error(text: &str) -> String {
        match parse(text) {
            Err(EventError::Field(message)) => message,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    const CURRENT_TRACE: &str = r#"{"trace_id":"cbdd4480-2e03-11ef-82de-cf140e2a70fb","trace_name":"createServer","resource_type":"ecs","trace_rating":"normal","source_ip":"198.51.100.7","domain_id":"d-1","trace_type":"ApiCall","service_type":"ECS","read_only":false,"time":1718777931170,"resource_name":"ecs-test","resource_id":"srv-1","user":{"access_key_id":"HSTAEXAMPLE00000001","account_id":"acct-1","user_name":"IAMUserA","domain":{"name":"D","id":"acct-1"},"name":"IAMUserA","principal_urn":"iam::acct-1:user:IAMUserA","type":"User"},"request":"{\"server\":{\"name\":\"ecs-test\"}}","response":"","code":200,"user_agent":"huaweicloud-cli"}"#;

    #[test]
    fn current_trace_fields() {
        let event = parse(CURRENT_TRACE).unwrap();
        assert_eq!(event.event_id, "cbdd4480-2e03-11ef-82de-cf140e2a70fb");
        assert_eq!(event.event_name, "createServer");
        assert_eq!(event.event_source, "ECS");
        assert_eq!(
            event.event_time.to_rfc3339(),
            "2024-06-19T06:18:51.170+00:00"
        );
        assert_eq!(event.source_ip.as_deref(), Some("198.51.100.7"));
        assert_eq!(event.user_agent.as_deref(), Some("huaweicloud-cli"));
        assert_eq!(event.access_key_id.as_deref(), Some("HSTAEXAMPLE00000001"));
        assert_eq!(event.principal_name.as_deref(), Some("IAMUserA"));
        assert_eq!(
            event.principal_arn.as_deref(),
            Some("iam::acct-1:user:IAMUserA")
        );
        assert_eq!(event.account_id.as_deref(), Some("acct-1"));
        assert_eq!(event.error_code, None);
        assert_eq!(event.resource.as_deref(), Some("ecs-test"));
        assert_eq!(event.region, None);
        assert_eq!(event.raw, CURRENT_TRACE);
    }

    #[test]
    fn legacy_trace_fields() {
        let text = r#"{"time":"2016/12/08 11:07:28 GMT+08:00","user":{"name":"aaa/op_service","id":"u-1","domain":{"name":"aaa","id":"dom-1"}},"request":{"server":{"name":"x"}},"response":{"status":"SUCCESS"},"service_type":"ECS","resource_id":"42d3","source_ip":"","trace_name":"createSingleServer","trace_rating":"normal","trace_type":"SystemAction","record_time":"2016/12/08 11:07:28 GMT+08:00","trace_id":"4abc"}"#;
        let event = parse(text).unwrap();
        assert_eq!(event.event_time.to_rfc3339(), "2016-12-08T03:07:28+00:00");
        assert_eq!(event.principal_name.as_deref(), Some("aaa/op_service"));
        assert_eq!(event.account_id.as_deref(), Some("dom-1"));
        assert_eq!(event.access_key_id, None);
        assert_eq!(event.source_ip, None);
        assert_eq!(event.resource.as_deref(), Some("42d3"));
    }

    #[test]
    fn time_forms() {
        let cases = [
            ("1718777931170", "2024-06-19T06:18:51.170+00:00"),
            ("\"1718777931170\"", "2024-06-19T06:18:51.170+00:00"),
            (
                "\"2016/12/08 11:07:28 GMT+08:00\"",
                "2016-12-08T03:07:28+00:00",
            ),
            (
                "\"2016-12-08 11:07:28 GMT-01:30\"",
                "2016-12-08T12:37:28+00:00",
            ),
            ("\"2016-12-08T11:07:28+08:00\"", "2016-12-08T03:07:28+00:00"),
            ("\"2016-12-08T11:07:28Z\"", "2016-12-08T11:07:28+00:00"),
        ];
        for (time, expected) in cases {
            let text =
                format!(r#"{{"trace_id":"t","trace_name":"n","service_type":"S","time":{time}}}"#);
            let event = parse(&text).unwrap();
            assert_eq!(event.event_time.to_rfc3339(), expected, "{time}");
        }
    }

    #[test]
    fn user_as_json_text() {
        let text = r#"{"trace_id":"t","trace_name":"n","service_type":"S","time":1,"user":"{\"access_key_id\":\"HSTAKEY\",\"name\":\"bob\"}"}"#;
        let event = parse(text).unwrap();
        assert_eq!(event.access_key_id.as_deref(), Some("HSTAKEY"));
        assert_eq!(event.principal_name.as_deref(), Some("bob"));
    }

    #[test]
    fn failed_calls_get_error_code() {
        let cases = [
            ("normal, 200", r#""trace_rating":"normal","code":200"#, None),
            ("no rating, no code", "", None),
            ("string 200", r#""code":"200""#, None),
            ("status 403", r#""code":403"#, Some("403")),
            ("status string 404", r#""code":"404""#, Some("404")),
            (
                "warning rating",
                r#""trace_rating":"warning""#,
                Some("warning"),
            ),
            (
                "incident rating",
                r#""trace_rating":"incident""#,
                Some("incident"),
            ),
            (
                "response object code",
                r#""trace_rating":"warning","code":200,"response":{"code":"VPC.0514"}"#,
                Some("VPC.0514"),
            ),
            (
                "response text error_code",
                r#""code":400,"response":"{\"error_code\":\"IAM.0001\"}""#,
                Some("IAM.0001"),
            ),
            (
                "response not json",
                r#""code":500,"response":"oops""#,
                Some("500"),
            ),
        ];
        for (case, extra, expected) in cases {
            let separator = if extra.is_empty() { "" } else { "," };
            let text = format!(
                r#"{{"trace_id":"t","trace_name":"n","service_type":"S","time":1{separator}{extra}}}"#
            );
            let event = parse(&text).unwrap();
            assert_eq!(event.error_code.as_deref(), expected, "{case}");
        }
    }

    #[test]
    fn field_errors_name_the_field() {
        let base = r#""trace_id":"t","trace_name":"n","service_type":"S""#;
        let cases = [
            (
                r#"{"trace_name":"n","service_type":"S","time":1}"#.to_owned(),
                "missing required field `trace_id`",
            ),
            (
                r#"{"trace_id":"t","service_type":"S","time":1}"#.to_owned(),
                "missing required field `trace_name`",
            ),
            (
                r#"{"trace_id":"t","trace_name":"n","time":1}"#.to_owned(),
                "missing required field `service_type`",
            ),
            (format!("{{{base}}}"), "missing required field `time`"),
            (
                format!(r#"{{{base},"time":1.5}}"#),
                "field `time` is a number 1.5, expected epoch milliseconds as an integer or a \
                 date-time string with a zone",
            ),
            (
                format!(r#"{{{base},"time":true}}"#),
                "field `time` is a boolean true, expected epoch milliseconds as an integer or a \
                 date-time string with a zone",
            ),
            (
                format!(r#"{{{base},"time":"99999999999999999999"}}"#),
                "field `time` is out of range: 99999999999999999999, expected epoch milliseconds",
            ),
            (
                format!(r#"{{{base},"time":1,"user":[1]}}"#),
                "field `user` is an array, expected an object",
            ),
            (
                format!(r#"{{{base},"time":1,"user":"not json"}}"#),
                "field `user` is a string but not JSON text: expected ident",
            ),
            (
                format!(r#"{{{base},"time":1,"user":{{"access_key_id":5}}}}"#),
                "field `user.access_key_id` is a number, expected a string",
            ),
            (
                format!(r#"{{{base},"time":1,"code":[200]}}"#),
                "field `code` is an array, expected an HTTP status as a number or a string",
            ),
            (
                format!(r#"{{{base},"time":1,"trace_rating":1}}"#),
                "field `trace_rating` is a number, expected a string",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(field_error(&text), expected, "{text}");
        }
    }

    #[test]
    fn time_without_zone_rejected() {
        let message = field_error(
            r#"{"trace_id":"t","trace_name":"n","service_type":"S","time":"2016/12/08 11:07:28"}"#,
        );
        assert!(
            message.starts_with("field `time` has no time zone"),
            "{message}"
        );
    }

    #[test]
    fn time_not_a_date_rejected() {
        let message = field_error(
            r#"{"trace_id":"t","trace_name":"n","service_type":"S","time":"yesterday"}"#,
        );
        assert!(
            message.starts_with("field `time` is not a date-time"),
            "{message}"
        );
    }
}
