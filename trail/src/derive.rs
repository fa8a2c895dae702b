//! Credentials that a call created, read from the request and response the trail recorded.
//!
//! An attacker with a leaked key often makes themselves new ones: another access key, a console
//! password, a new user, or temporary credentials from STS. Each of these is itself a leaked
//! credential, so Rekey proposes it on the case.

use serde::Deserialize;
use serde_json::Value;

use crate::event::Event;

/// Kind of credential a call created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DerivedKind {
    /// A permanent access key, from `CreateAccessKey` or a CTS `credential` response.
    AccessKey,
    /// Temporary credentials: `AssumeRole*`, `GetSessionToken`, `GetFederationToken`, or a CTS
    /// temporary access key, which has an expiry.
    TemporaryCredentials,
    /// A console password, from `CreateLoginProfile`.
    UserPassword,
    /// A new user, from `CreateUser`, matched by its name.
    User,
}

/// Principal that owns a derived credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DerivedPrincipal {
    User,
    Role,
    Other,
}

/// A credential created by a call, with the identifiers its own calls will carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedCredential {
    pub kind: DerivedKind,
    /// Key id that the new credential's calls carry, such as `AKIA…` or `ASIA…`.
    pub access_key_id: Option<String>,
    pub principal_type: Option<DerivedPrincipal>,
    /// User name, role session name or federated user name.
    pub principal_name: Option<String>,
    /// ARN or provider id of the principal, when the response names it.
    pub principal_id: Option<String>,
}

/// Request and response fields of both providers: CloudTrail's `requestParameters` and
/// `responseElements`, CTS's `request` and `response` (objects or JSON text).
#[derive(Deserialize)]
struct CallBodies {
    #[serde(rename = "requestParameters")]
    request_parameters: Option<Value>,
    #[serde(rename = "responseElements")]
    response_elements: Option<Value>,
    request: Option<Value>,
    response: Option<Value>,
}

/// Returns the credentials that `event` created. A failed call created nothing, and a call that
/// does not create credentials, or whose response lacks the new identifiers, yields none.
///
/// NOTE: the CTS cases (`createCredential`, `createTemporaryCredential`, `createUser`) follow
/// the Huawei Cloud IAM API responses (`{"credential":{"access":…}}`, `{"user":{"name":…}}`).
/// They have not been checked against traces recorded by CTS.
pub fn derived_credentials(event: &Event) -> Vec<DerivedCredential> {
    if event.error_code.is_some() || !may_create_credentials(&event.event_name) {
        return Vec::new();
    }
    let Ok(bodies) = serde_json::from_str::<CallBodies>(&event.raw) else {
        return Vec::new();
    };
    let request = bodies
        .request_parameters
        .or_else(|| bodies.request.map(decode_json_text))
        .unwrap_or(Value::Null);
    let response = bodies
        .response_elements
        .or_else(|| bodies.response.map(decode_json_text))
        .unwrap_or(Value::Null);

    let derived = match event.event_name.as_str() {
        "CreateAccessKey" => access_key(&request, &response),
        "CreateLoginProfile" => login_profile(&request, &response),
        "CreateUser" => new_user(&request, &response),
        "AssumeRole" | "AssumeRoleWithSAML" | "AssumeRoleWithWebIdentity" => {
            role_session(&request, &response)
        }
        "GetSessionToken" => session_token(event, &response),
        "GetFederationToken" => federation_token(&request, &response),
        "createUser" => cts_user(&request, &response),
        _ => cts_credential(event, &response),
    };
    derived.into_iter().collect()
}

fn may_create_credentials(event_name: &str) -> bool {
    matches!(
        event_name,
        "CreateAccessKey"
            | "CreateLoginProfile"
            | "CreateUser"
            | "AssumeRole"
            | "AssumeRoleWithSAML"
            | "AssumeRoleWithWebIdentity"
            | "GetSessionToken"
            | "GetFederationToken"
            | "createCredential"
            | "createTemporaryCredential"
            | "createUser"
    )
}

/// Parses a CTS body given as JSON text. Other values, and text that is not JSON, stay as they are.
fn decode_json_text(value: Value) -> Value {
    match &value {
        Value::String(text) => serde_json::from_str(text).unwrap_or(value),
        _ => value,
    }
}

/// Returns the non-empty string at `path` in `value`.
fn text_at(value: &Value, path: &[&str]) -> Option<String> {
    let mut current = value;
    for key in path {
        current = current.get(key)?;
    }
    current
        .as_str()
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn access_key(request: &Value, response: &Value) -> Option<DerivedCredential> {
    let key_id = text_at(response, &["accessKey", "accessKeyId"])?;
    let user = text_at(response, &["accessKey", "userName"]).or(text_at(request, &["userName"]));
    Some(DerivedCredential {
        kind: DerivedKind::AccessKey,
        access_key_id: Some(key_id),
        principal_type: Some(DerivedPrincipal::User),
        principal_name: user,
        principal_id: None,
    })
}

fn login_profile(request: &Value, response: &Value) -> Option<DerivedCredential> {
    let user =
        text_at(response, &["loginProfile", "userName"]).or(text_at(request, &["userName"]))?;
    Some(DerivedCredential {
        kind: DerivedKind::UserPassword,
        access_key_id: None,
        principal_type: Some(DerivedPrincipal::User),
        principal_name: Some(user),
        principal_id: None,
    })
}

fn new_user(request: &Value, response: &Value) -> Option<DerivedCredential> {
    let user = text_at(response, &["user", "userName"]).or(text_at(request, &["userName"]))?;
    Some(DerivedCredential {
        kind: DerivedKind::User,
        access_key_id: None,
        principal_type: Some(DerivedPrincipal::User),
        principal_name: Some(user),
        principal_id: text_at(response, &["user", "arn"]),
    })
}

fn role_session(request: &Value, response: &Value) -> Option<DerivedCredential> {
    let key_id = text_at(response, &["credentials", "accessKeyId"])?;
    Some(DerivedCredential {
        kind: DerivedKind::TemporaryCredentials,
        access_key_id: Some(key_id),
        principal_type: Some(DerivedPrincipal::Role),
        principal_name: text_at(request, &["roleSessionName"]),
        principal_id: text_at(response, &["assumedRoleUser", "arn"]),
    })
}

/// `GetSessionToken` gives the caller temporary credentials of its own identity.
fn session_token(event: &Event, response: &Value) -> Option<DerivedCredential> {
    let key_id = text_at(response, &["credentials", "accessKeyId"])?;
    Some(DerivedCredential {
        kind: DerivedKind::TemporaryCredentials,
        access_key_id: Some(key_id),
        principal_type: Some(DerivedPrincipal::User),
        principal_name: event.principal_name.clone(),
        principal_id: event.principal_arn.clone(),
    })
}

fn federation_token(request: &Value, response: &Value) -> Option<DerivedCredential> {
    let key_id = text_at(response, &["credentials", "accessKeyId"])?;
    Some(DerivedCredential {
        kind: DerivedKind::TemporaryCredentials,
        access_key_id: Some(key_id),
        principal_type: Some(DerivedPrincipal::Other),
        principal_name: text_at(request, &["name"]),
        principal_id: text_at(response, &["federatedUser", "arn"]),
    })
}

fn cts_user(request: &Value, response: &Value) -> Option<DerivedCredential> {
    let user = text_at(response, &["user", "name"]).or(text_at(request, &["user", "name"]))?;
    Some(DerivedCredential {
        kind: DerivedKind::User,
        access_key_id: None,
        principal_type: Some(DerivedPrincipal::User),
        principal_name: Some(user),
        principal_id: text_at(response, &["user", "id"]),
    })
}

/// A CTS access key: permanent, or temporary when the response gives an expiry.
fn cts_credential(event: &Event, response: &Value) -> Option<DerivedCredential> {
    let key_id = text_at(response, &["credential", "access"])?;
    let kind = if response["credential"].get("expires_at").is_some() {
        DerivedKind::TemporaryCredentials
    } else {
        DerivedKind::AccessKey
    };
    Some(DerivedCredential {
        kind,
        access_key_id: Some(key_id),
        principal_type: Some(DerivedPrincipal::User),
        principal_name: event.principal_name.clone(),
        principal_id: text_at(response, &["credential", "user_id"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_event;

    fn cloudtrail(name: &str, request: &str, response: &str, error: Option<&str>) -> Event {
        let error = error
            .map(|code| format!(r#","errorCode":"{code}""#))
            .unwrap_or_default();
        let text = format!(
            r#"{{"eventID":"e","eventTime":"2023-07-10T12:30:00Z","eventName":"{name}","eventSource":"iam.amazonaws.com","userIdentity":{{"accessKeyId":"AKIALEAKED","userName":"alice","arn":"arn:aws:iam::1:user/alice"}},"requestParameters":{request},"responseElements":{response}{error}}}"#
        );
        parse_event(text).unwrap()
    }

    fn cts(name: &str, request: &str, response: &str) -> Event {
        let request = serde_json::to_string(request).unwrap();
        let response = serde_json::to_string(response).unwrap();
        let text = format!(
            r#"{{"trace_id":"t","trace_name":"{name}","service_type":"IAM","time":1,"user":{{"access_key_id":"HSTALEAKED","name":"alice"}},"request":{request},"response":{response},"code":200}}"#
        );
        parse_event(text).unwrap()
    }

    fn only(event: &Event) -> DerivedCredential {
        let mut derived = derived_credentials(event);
        assert_eq!(derived.len(), 1, "{derived:?}");
        derived.remove(0)
    }

    #[test]
    fn create_access_key() {
        let event = cloudtrail(
            "CreateAccessKey",
            r#"{"userName":"backdoor"}"#,
            r#"{"accessKey":{"accessKeyId":"AKIANEW","status":"Active","userName":"backdoor"}}"#,
            None,
        );
        let derived = only(&event);
        assert_eq!(derived.kind, DerivedKind::AccessKey);
        assert_eq!(derived.access_key_id.as_deref(), Some("AKIANEW"));
        assert_eq!(derived.principal_type, Some(DerivedPrincipal::User));
        assert_eq!(derived.principal_name.as_deref(), Some("backdoor"));
    }

    #[test]
    fn create_login_profile_and_user() {
        let profile = cloudtrail(
            "CreateLoginProfile",
            r#"{"userName":"backdoor","passwordResetRequired":false}"#,
            r#"{"loginProfile":{"userName":"backdoor","createDate":"x"}}"#,
            None,
        );
        let derived = only(&profile);
        assert_eq!(derived.kind, DerivedKind::UserPassword);
        assert_eq!(derived.principal_name.as_deref(), Some("backdoor"));
        assert_eq!(derived.access_key_id, None);

        let user = cloudtrail(
            "CreateUser",
            r#"{"userName":"backdoor"}"#,
            r#"{"user":{"userName":"backdoor","userId":"AIDANEW","arn":"arn:aws:iam::1:user/backdoor"}}"#,
            None,
        );
        let derived = only(&user);
        assert_eq!(derived.kind, DerivedKind::User);
        assert_eq!(derived.principal_name.as_deref(), Some("backdoor"));
        assert_eq!(
            derived.principal_id.as_deref(),
            Some("arn:aws:iam::1:user/backdoor")
        );
    }

    #[test]
    fn sts_temporary_credentials() {
        let assume = cloudtrail(
            "AssumeRole",
            r#"{"roleArn":"arn:aws:iam::1:role/admin","roleSessionName":"s1"}"#,
            r#"{"credentials":{"accessKeyId":"ASIAROLE","expiration":"x"},"assumedRoleUser":{"assumedRoleId":"AROA:s1","arn":"arn:aws:sts::1:assumed-role/admin/s1"}}"#,
            None,
        );
        let derived = only(&assume);
        assert_eq!(derived.kind, DerivedKind::TemporaryCredentials);
        assert_eq!(derived.access_key_id.as_deref(), Some("ASIAROLE"));
        assert_eq!(derived.principal_type, Some(DerivedPrincipal::Role));
        assert_eq!(derived.principal_name.as_deref(), Some("s1"));
        assert_eq!(
            derived.principal_id.as_deref(),
            Some("arn:aws:sts::1:assumed-role/admin/s1")
        );

        let session = cloudtrail(
            "GetSessionToken",
            "null",
            r#"{"credentials":{"accessKeyId":"ASIASESSION"}}"#,
            None,
        );
        let derived = only(&session);
        assert_eq!(derived.access_key_id.as_deref(), Some("ASIASESSION"));
        assert_eq!(derived.principal_name.as_deref(), Some("alice"));

        let federation = cloudtrail(
            "GetFederationToken",
            r#"{"name":"fed"}"#,
            r#"{"credentials":{"accessKeyId":"ASIAFED"},"federatedUser":{"arn":"arn:aws:sts::1:federated-user/fed"}}"#,
            None,
        );
        let derived = only(&federation);
        assert_eq!(derived.access_key_id.as_deref(), Some("ASIAFED"));
        assert_eq!(derived.principal_type, Some(DerivedPrincipal::Other));
        assert_eq!(derived.principal_name.as_deref(), Some("fed"));
    }

    #[test]
    fn nothing_derived() {
        let cases = [
            (
                "failed call",
                cloudtrail(
                    "CreateAccessKey",
                    r#"{"userName":"x"}"#,
                    "null",
                    Some("AccessDenied"),
                ),
            ),
            (
                "other call",
                cloudtrail(
                    "DeleteAccessKey",
                    r#"{"accessKeyId":"AKIAOLD"}"#,
                    "null",
                    None,
                ),
            ),
            (
                "response without the key",
                cloudtrail("CreateAccessKey", r#"{"userName":"x"}"#, "{}", None),
            ),
            (
                "key id of the wrong type",
                cloudtrail(
                    "CreateAccessKey",
                    "{}",
                    r#"{"accessKey":{"accessKeyId":5}}"#,
                    None,
                ),
            ),
        ];
        for (case, event) in cases {
            assert_eq!(derived_credentials(&event), [], "{case}");
        }
    }

    #[test]
    fn cts_credentials_and_user() {
        let permanent = cts(
            "createCredential",
            "",
            r#"{"credential":{"access":"HSTANEWKEY","user_id":"u-1","status":"active"}}"#,
        );
        let derived = only(&permanent);
        assert_eq!(derived.kind, DerivedKind::AccessKey);
        assert_eq!(derived.access_key_id.as_deref(), Some("HSTANEWKEY"));
        assert_eq!(derived.principal_name.as_deref(), Some("alice"));

        let temporary = cts(
            "createTemporaryCredential",
            "",
            r#"{"credential":{"access":"HSTATEMP","expires_at":"2024-01-01T00:00:00Z"}}"#,
        );
        assert_eq!(only(&temporary).kind, DerivedKind::TemporaryCredentials);

        let user = cts(
            "createUser",
            r#"{"user":{"name":"backdoor"}}"#,
            r#"{"user":{"name":"backdoor","id":"u-2"}}"#,
        );
        let derived = only(&user);
        assert_eq!(derived.kind, DerivedKind::User);
        assert_eq!(derived.principal_name.as_deref(), Some("backdoor"));
        assert_eq!(derived.principal_id.as_deref(), Some("u-2"));
    }
}
