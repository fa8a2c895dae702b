//! Choice of the single resource an event acted on, for [`crate::Event::resource`].
//!
//! The choice is a best-effort guess, so a field of an unexpected shape is skipped, never an error.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::event::parse_lenient;

/// `requestParameters` keys that name the resource of a call, in order of preference.
/// Identity keys come first because an IAM call such as `AttachUserPolicy` changes the user,
/// not the policy.
pub(crate) const REQUEST_KEYS: &[&str] = &[
    // IAM and STS
    "userName",
    "roleName",
    "groupName",
    "instanceProfileName",
    "policyArn",
    "roleArn",
    "openIDConnectProviderArn",
    "sAMLProviderArn",
    "serialNumber",
    // S3
    "bucketName",
    // EC2 and SSM
    "instanceId",
    "instanceIds",
    "instancesSet",
    "imageId",
    "snapshotId",
    "volumeId",
    "groupId",
    "resourcesSet",
    // Secrets, keys and parameters
    "secretId",
    "keyId",
    "name",
    "names",
    // Other services
    "functionName",
    "dBInstanceIdentifier",
    "dBClusterIdentifier",
    "dBSnapshotIdentifier",
    "trailName",
    "detectorId",
    "logGroupName",
    "stackName",
    "clusterName",
    "repositoryName",
    "tableName",
    "topicArn",
    "queueUrl",
    "resourceArn",
];

/// Returns the best single resource of a call from its `requestParameters`, `resources` and
/// `responseElements`, in that order of preference.
pub(crate) fn find_resource(
    request_parameters: Option<&RawValue>,
    resources: Option<&RawValue>,
    response_elements: Option<&RawValue>,
) -> Option<String> {
    let from_request = parse_lenient::<Map<String, Value>>(request_parameters)
        .and_then(|parameters| resource_from_request(&parameters));
    if from_request.is_some() {
        return from_request;
    }

    let from_resources = parse_lenient::<Vec<Value>>(resources).and_then(|resources| {
        resources
            .iter()
            .find_map(|resource| non_empty_string(&resource["ARN"]))
    });
    if from_resources.is_some() {
        return from_resources;
    }

    parse_lenient::<Map<String, Value>>(response_elements)
        .and_then(|elements| resource_from_response(&elements))
}

/// Suffixes of `requestParameters` keys that name a resource in most AWS APIs, such as `vpcId`,
/// `trustAnchorId` or `clusterArn`. They are tried when no key of [`REQUEST_KEYS`] is present.
pub(crate) const REQUEST_KEY_SUFFIXES: &[&str] = &["Id", "Ids", "Arn", "Identifier", "Name"];

/// Keys that match [`REQUEST_KEY_SUFFIXES`] but name a detail of the call, not a resource.
pub(crate) const NOT_RESOURCE_KEYS: &[&str] = &["attributeName", "roleSessionName", "statementId"];

fn resource_from_request(parameters: &Map<String, Value>) -> Option<String> {
    let known = REQUEST_KEYS.iter().find_map(|&key| {
        let value = parameters.get(key)?;
        match key {
            // EC2 wraps lists as {"items": [{"instanceId": ...}]}.
            "instancesSet" => first_item_field(value, "instanceId"),
            "resourcesSet" => first_item_field(value, "resourceId"),
            _ => string_or_first_string(value),
        }
    });
    if known.is_some() {
        return known;
    }

    // The map is sorted by key, so the first match is the alphabetically first key.
    parameters.iter().find_map(|(key, value)| {
        let names_resource = REQUEST_KEY_SUFFIXES
            .iter()
            .any(|suffix| key.ends_with(suffix))
            && !NOT_RESOURCE_KEYS.contains(&key.as_str());
        if names_resource {
            string_or_first_string(value)
        } else {
            None
        }
    })
}

/// Picks the resource that a creating call returns, such as the instance that `RunInstances`
/// started or the key that `CreateAccessKey` made for the caller's own user.
fn resource_from_response(elements: &Map<String, Value>) -> Option<String> {
    elements
        .get("instancesSet")
        .and_then(|set| first_item_field(set, "instanceId"))
        .or_else(|| {
            elements
                .get("accessKey")
                .and_then(|key| non_empty_string(&key["accessKeyId"]))
        })
}

fn string_or_first_string(value: &Value) -> Option<String> {
    match value {
        Value::Array(items) => items.iter().find_map(non_empty_string),
        _ => non_empty_string(value),
    }
}

fn first_item_field(set: &Value, field: &str) -> Option<String> {
    set["items"]
        .as_array()?
        .iter()
        .find_map(|item| non_empty_string(&item[field]))
}

fn non_empty_string(value: &Value) -> Option<String> {
    value
        .as_str()
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    fn resource(request: &str, resources: &str, response: &str) -> Option<String> {
        let request = raw(request);
        let resources = raw(resources);
        let response = raw(response);
        find_resource(Some(&request), Some(&resources), Some(&response))
    }

    #[test]
    fn resource_choice_table() {
        let cases = [
            (
                "user before policy",
                r#"{"userName":"backdoor","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}"#,
                "null",
                "null",
                Some("backdoor"),
            ),
            (
                "policy alone",
                r#"{"policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}"#,
                "null",
                "null",
                Some("arn:aws:iam::aws:policy/ReadOnlyAccess"),
            ),
            (
                "role to assume",
                r#"{"roleArn":"arn:aws:iam::1:role/Admin","roleSessionName":"s"}"#,
                "null",
                "null",
                Some("arn:aws:iam::1:role/Admin"),
            ),
            (
                "bucket of object",
                r#"{"bucketName":"finance","key":"q3.xlsx"}"#,
                "null",
                "null",
                Some("finance"),
            ),
            (
                "EC2 instance set",
                r#"{"instancesSet":{"items":[{"instanceId":"i-0abc"},{"instanceId":"i-0def"}]}}"#,
                "null",
                "null",
                Some("i-0abc"),
            ),
            (
                "SSM instance id list",
                r#"{"instanceIds":["i-0123"],"documentName":"AWS-RunShellScript"}"#,
                "null",
                "null",
                Some("i-0123"),
            ),
            (
                "EC2 tag resource set",
                r#"{"resourcesSet":{"items":[{"resourceId":"vol-1"}]},"tagSet":{}}"#,
                "null",
                "null",
                Some("vol-1"),
            ),
            (
                "trail by name",
                r#"{"name":"arn:aws:cloudtrail:us-east-1:1:trail/main"}"#,
                "null",
                "null",
                Some("arn:aws:cloudtrail:us-east-1:1:trail/main"),
            ),
            (
                "parameter names",
                r#"{"names":["/prod/db-password"],"withDecryption":true}"#,
                "null",
                "null",
                Some("/prod/db-password"),
            ),
            (
                "secret",
                r#"{"secretId":"prod/api-key"}"#,
                "null",
                "null",
                Some("prod/api-key"),
            ),
            (
                "resources ARN when no known key",
                r#"{"encryptionContext":{"x":"y"}}"#,
                r#"[{"accountId":"1"},{"ARN":"arn:aws:kms:us-east-1:1:key/k1","type":"AWS::KMS::Key"}]"#,
                "null",
                Some("arn:aws:kms:us-east-1:1:key/k1"),
            ),
            (
                "RunInstances response",
                r#"{"instancesSet":{"items":[{"imageId":"ami-1","minCount":1}]}}"#,
                "null",
                r#"{"instancesSet":{"items":[{"instanceId":"i-0new"}]}}"#,
                Some("i-0new"),
            ),
            (
                "own access key from response",
                "{}",
                "null",
                r#"{"accessKey":{"accessKeyId":"AKIANEW","status":"Active"}}"#,
                Some("AKIANEW"),
            ),
            (
                "empty values skipped",
                r#"{"userName":"","instanceIds":[],"bucketName":"b"}"#,
                "null",
                "null",
                Some("b"),
            ),
            (
                "key suffix fallback",
                r#"{"internetGatewayId":"igw-1","vpcId":"vpc-1"}"#,
                "null",
                "null",
                Some("igw-1"),
            ),
            (
                "detail keys skipped",
                r#"{"attributeName":"restore","statementId":"s1","trustAnchorId":"ta-1"}"#,
                "null",
                "null",
                Some("ta-1"),
            ),
            (
                "unexpected shapes ignored",
                r#"{"userName":5}"#,
                r#""not a list""#,
                "[]",
                None,
            ),
            ("nothing", "null", "null", "null", None),
        ];
        for (case, request, resources, response, expected) in cases {
            assert_eq!(
                resource(request, resources, response).as_deref(),
                expected,
                "{case}"
            );
        }
    }
}
