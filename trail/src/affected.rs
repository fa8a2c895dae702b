//! Every resource an event names, for the affected resources of a finding.
//!
//! [`crate::Event::resource`] is the one resource that best sums up a call. A finding also needs
//! the others: the ARNs in `resources`, each resource key of `requestParameters`, and the ARNs
//! and instance ids that `responseElements` returns, or a CTS trace's `resource_id` and
//! `resource_name`. Like [`crate::Event::resource`], this is best effort: a field of an
//! unexpected shape is skipped.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::event::Event;
use crate::resource::{NOT_RESOURCE_KEYS, REQUEST_KEYS, REQUEST_KEY_SUFFIXES};

/// Maximum number of resources kept per event, so that a call on thousands of objects, such as
/// `DeleteObjects`, cannot flood a finding.
pub const MAX_AFFECTED_RESOURCES: usize = 50;

/// Depth to which `responseElements` is searched for ARNs.
const MAX_RESPONSE_DEPTH: usize = 6;

#[derive(Deserialize)]
struct ResourceFields {
    #[serde(rename = "requestParameters")]
    request_parameters: Option<Value>,
    #[serde(rename = "responseElements")]
    response_elements: Option<Value>,
    resources: Option<Value>,
    resource_id: Option<Value>,
    resource_name: Option<Value>,
}

/// Returns the resources `event` names, each once, in the order found: the event's
/// [`Event::resource`] first, then the rest. At most [`MAX_AFFECTED_RESOURCES`] are returned.
pub fn affected_resources(event: &Event) -> Vec<String> {
    let mut found = Found::default();
    if let Some(resource) = &event.resource {
        found.add(resource);
    }
    let Ok(fields) = serde_json::from_str::<ResourceFields>(&event.raw) else {
        return found.resources;
    };

    for resource in fields
        .resources
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(arn) = resource["ARN"].as_str() {
            found.add(arn);
        }
    }
    if let Some(Value::Object(parameters)) = &fields.request_parameters {
        add_request_resources(parameters, &mut found);
    }
    if let Some(response) = &fields.response_elements {
        add_response_resources(response, 0, &mut found);
    }
    for value in [&fields.resource_id, &fields.resource_name]
        .into_iter()
        .flatten()
    {
        if let Some(text) = value.as_str() {
            found.add(text);
        }
    }
    found.resources
}

#[derive(Default)]
struct Found {
    resources: Vec<String>,
}

impl Found {
    fn add(&mut self, resource: &str) {
        let resource = resource.trim();
        if resource.is_empty()
            || self.resources.len() >= MAX_AFFECTED_RESOURCES
            || self.resources.iter().any(|known| known == resource)
        {
            return;
        }
        self.resources.push(resource.to_owned());
    }
}

fn add_request_resources(parameters: &Map<String, Value>, found: &mut Found) {
    for (key, value) in parameters {
        let names_resource = REQUEST_KEYS.contains(&key.as_str())
            || (REQUEST_KEY_SUFFIXES
                .iter()
                .any(|suffix| key.ends_with(suffix))
                && !NOT_RESOURCE_KEYS.contains(&key.as_str()));
        if !names_resource {
            continue;
        }
        match value {
            Value::String(text) => found.add(text),
            Value::Array(items) => {
                for item in items {
                    if let Some(text) = item.as_str() {
                        found.add(text);
                    }
                }
            }
            // EC2 wraps lists as {"items": [{"instanceId": ...}]}.
            Value::Object(set) => add_item_ids(set, found),
            _ => {}
        }
    }
}

fn add_item_ids(set: &Map<String, Value>, found: &mut Found) {
    for item in set
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for key in ["instanceId", "resourceId", "groupId", "volumeId"] {
            if let Some(id) = item[key].as_str() {
                found.add(id);
            }
        }
    }
}

/// Adds the ARNs anywhere in a response, and the instance ids of an `instancesSet`.
fn add_response_resources(value: &Value, depth: usize, found: &mut Found) {
    if depth > MAX_RESPONSE_DEPTH {
        return;
    }
    match value {
        Value::String(text) if text.starts_with("arn:") => found.add(text),
        Value::Array(items) => {
            for item in items {
                add_response_resources(item, depth + 1, found);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key == "instancesSet" {
                    if let Value::Object(set) = item {
                        add_item_ids(set, found);
                    }
                }
                add_response_resources(item, depth + 1, found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloudtrail(request: &str, resources: &str, response: &str) -> Event {
        let text = format!(
            r#"{{"eventID":"e","eventTime":"2023-07-10T12:30:00Z","eventName":"X","eventSource":"s","requestParameters":{request},"resources":{resources},"responseElements":{response}}}"#
        );
        Event::from_json(text).unwrap()
    }

    #[test]
    fn request_resources_and_response_arns() {
        let event = cloudtrail(
            r#"{"userName":"backdoor","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess","roleSessionName":"s"}"#,
            r#"[{"ARN":"arn:aws:iam::1:user/backdoor","accountId":"1"}]"#,
            r#"{"user":{"arn":"arn:aws:iam::1:user/backdoor","userId":"AIDA"}}"#,
        );
        assert_eq!(
            affected_resources(&event),
            [
                "backdoor",
                "arn:aws:iam::1:user/backdoor",
                "arn:aws:iam::aws:policy/AdministratorAccess"
            ]
        );
    }

    #[test]
    fn ec2_item_sets() {
        let event = cloudtrail(
            r#"{"instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}]},"groupIds":["sg-1","sg-2"]}"#,
            "null",
            r#"{"instancesSet":{"items":[{"instanceId":"i-3","placement":{}}]}}"#,
        );
        assert_eq!(
            affected_resources(&event),
            ["i-1", "sg-1", "sg-2", "i-2", "i-3"]
        );
    }

    #[test]
    fn cts_resource_fields() {
        let event = Event::from_json(
            r#"{"trace_id":"t","trace_name":"deleteVolume","service_type":"EVS","time":1,"resource_id":"vol-1","resource_name":"data"}"#
                .to_owned(),
        )
        .unwrap();
        assert_eq!(affected_resources(&event), ["data", "vol-1"]);
    }

    #[test]
    fn nothing_named() {
        let event = cloudtrail("null", "null", "null");
        assert!(affected_resources(&event).is_empty());
    }

    #[test]
    fn count_is_capped() {
        let ids: Vec<String> = (0..200).map(|i| format!("\"i-{i}\"")).collect();
        let event = cloudtrail(
            &format!(r#"{{"instanceIds":[{}]}}"#, ids.join(",")),
            "null",
            "null",
        );
        assert_eq!(affected_resources(&event).len(), MAX_AFFECTED_RESOURCES);
    }
}
