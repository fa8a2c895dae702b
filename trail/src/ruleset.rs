//! Finding rules loaded at run time, such as the rows of a rules table, in place of [`RULES`].

use crate::event::Event;
use crate::rules::{
    normalize_event_name, pattern_matches, FindingCategory, Rule, FAILED_CALL_RULE, RULES,
};

/// Cloud whose events a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Both AWS CloudTrail and Huawei Cloud CTS.
    Any,
    Aws,
    Huawei,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Any, Provider::Aws, Provider::Huawei];

    /// Returns the lowercase name: `any`, `aws` or `huawei`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Any => "any",
            Provider::Aws => "aws",
            Provider::Huawei => "huawei",
        }
    }

    /// Parses the name that [`Provider::as_str`] returns.
    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL
            .into_iter()
            .find(|provider| provider.as_str() == name)
    }

    /// Returns the provider that recorded `event`. CloudTrail's `eventSource` is a host name
    /// such as `iam.amazonaws.com`, while CTS's `service_type` is a bare abbreviation such as `IAM`.
    pub fn of(event: &Event) -> Provider {
        if event.event_source.contains('.') {
            Provider::Aws
        } else {
            Provider::Huawei
        }
    }

    fn covers(self, event_provider: Provider) -> bool {
        self == Provider::Any || self == event_provider
    }
}

/// A finding rule with owned fields, as read from storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRule {
    pub name: String,
    pub category: FindingCategory,
    /// `high`, `medium` or `low`.
    pub severity: String,
    pub provider: Provider,
    /// Event names with `*` wildcards, matched as [`Rule::matches`] does.
    pub patterns: Vec<String>,
}

impl OwnedRule {
    /// Converts a built-in rule, which applies to both providers.
    pub fn from_builtin(rule: &Rule) -> OwnedRule {
        OwnedRule {
            name: rule.name.to_owned(),
            category: rule.category,
            severity: rule.category.default_severity().to_owned(),
            provider: Provider::Any,
            patterns: rule
                .patterns
                .iter()
                .map(|pattern| (*pattern).to_owned())
                .collect(),
        }
    }

    fn matches(&self, normalized_name: &str, provider: Provider) -> bool {
        self.provider.covers(provider)
            && self
                .patterns
                .iter()
                .any(|pattern| pattern_matches(pattern, normalized_name))
    }
}

/// Ordered finding rules; the first that matches an event wins.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<OwnedRule>,
    failed_call: Option<OwnedRule>,
}

impl RuleSet {
    /// Builds a rule set from `rules` in order. A failed call that none of them matches falls
    /// back to [`FAILED_CALL_RULE`]. A pattern's first letter is compared as uppercase, like an
    /// event name's, so `listUsers` and `ListUsers` are the same pattern.
    pub fn new(mut rules: Vec<OwnedRule>) -> RuleSet {
        for rule in &mut rules {
            for pattern in &mut rule.patterns {
                *pattern = normalize_event_name(pattern).into_owned();
            }
        }
        RuleSet {
            rules,
            failed_call: Some(OwnedRule::from_builtin(&FAILED_CALL_RULE)),
        }
    }

    /// Returns the built-in rules of [`RULES`] as a rule set.
    pub fn builtin() -> RuleSet {
        RuleSet::new(RULES.iter().map(OwnedRule::from_builtin).collect())
    }

    /// Returns the rule that makes `event` a finding, as [`crate::classify_event`] does for the
    /// built-in rules: the first matching rule for the event's provider, else the failed-call rule
    /// when the call failed.
    pub fn classify_event(&self, event: &Event) -> Option<&OwnedRule> {
        let provider = Provider::of(event);
        let name = normalize_event_name(&event.event_name);
        let matched = self.rules.iter().find(|rule| rule.matches(&name, provider));
        matched.or_else(|| event.error_code.as_ref().and(self.failed_call.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, source: &str, error_code: Option<&str>) -> Event {
        let error = error_code
            .map(|code| format!(r#","errorCode":"{code}""#))
            .unwrap_or_default();
        let text = format!(
            r#"{{"eventID":"e","eventTime":"2023-07-10T12:00:00Z","eventName":"{name}","eventSource":"{source}"{error}}}"#
        );
        Event::from_json(text).unwrap()
    }

    fn rule(name: &str, provider: Provider, patterns: &[&str]) -> OwnedRule {
        OwnedRule {
            name: name.to_owned(),
            category: FindingCategory::Reconnaissance,
            severity: "low".to_owned(),
            provider,
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn builtin_set_agrees_with_classify() {
        let rules = RuleSet::builtin();
        for name in [
            "CreateUser",
            "StopLogging",
            "GetObject",
            "DescribeInstances",
            "createServer",
        ] {
            let event = event(name, "s3.amazonaws.com", None);
            assert_eq!(
                rules.classify_event(&event).map(|rule| rule.name.as_str()),
                crate::classify(name).map(|rule| rule.name),
                "{name}"
            );
        }
    }

    #[test]
    fn first_matching_rule_wins() {
        let rules = RuleSet::new(vec![
            rule("first", Provider::Any, &["List*"]),
            rule("second", Provider::Any, &["ListUsers"]),
        ]);
        let matched = rules.classify_event(&event("ListUsers", "iam.amazonaws.com", None));
        assert_eq!(matched.unwrap().name, "first");
    }

    #[test]
    fn provider_limits_rule() {
        let rules = RuleSet::new(vec![
            rule("aws-only", Provider::Aws, &["ListUsers"]),
            rule("huawei-only", Provider::Huawei, &["listUsers"]),
        ]);
        let cases = [
            ("ListUsers", "iam.amazonaws.com", Some("aws-only")),
            ("listUsers", "IAM", Some("huawei-only")),
            ("ListUsers", "IAM", Some("huawei-only")),
            ("listUsers", "iam.amazonaws.com", Some("aws-only")),
        ];
        for (name, source, expected) in cases {
            let matched = rules.classify_event(&event(name, source, None));
            assert_eq!(
                matched.map(|rule| rule.name.as_str()),
                expected,
                "{name} {source}"
            );
        }
    }

    #[test]
    fn failed_call_fallback() {
        let rules = RuleSet::new(Vec::new());
        assert!(rules
            .classify_event(&event("ListUsers", "iam.amazonaws.com", None))
            .is_none());
        let failed = event("ListUsers", "iam.amazonaws.com", Some("AccessDenied"));
        assert_eq!(rules.classify_event(&failed).unwrap().name, "failed-call");
    }

    #[test]
    fn provider_names_round_trip() {
        for provider in Provider::ALL {
            assert_eq!(Provider::parse(provider.as_str()), Some(provider));
        }
        assert_eq!(Provider::parse("gcp"), None);
    }
}
