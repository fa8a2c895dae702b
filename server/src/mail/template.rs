//! Email templates: one per case event kind, each with a plain-text and an HTML part.
//!
//! Every text that comes from a person (case title, status update, call names from a trail)
//! is redacted before it goes into a template, and HTML-escaped in the HTML part.

use chrono::{DateTime, Utc};
use rekey_types::{case_reference, EventKind, FindingSeverity, Phase, RedactionKind, Severity};

use crate::redact::redact_into;

/// Maximum findings listed one by one in a findings email; the rest are counted.
const MAX_LISTED_FINDINGS: usize = 20;

/// A new eradication finding as a findings email lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFinding {
    pub severity: FindingSeverity,
    /// API call, such as `CreateUser`.
    pub event_name: String,
    pub event_time: DateTime<Utc>,
    pub resource: Option<String>,
}

/// Something that happened on a case that stakeholders hear about.
#[derive(Debug, Clone)]
pub enum CaseEvent {
    PhaseChanged { from: Phase, to: Phase, by: String },
    /// Findings that one trail import or re-analysis added, at or above `threshold`.
    FindingsAdded { findings: Vec<NewFinding>, threshold: FindingSeverity, by: String },
    SeverityChanged { from: Severity, to: Severity, by: String },
    /// The case left the containment phase for a later one.
    ContainmentComplete { to: Phase, by: String },
    StatusUpdate { text: String, by: String },
    /// The lead sent the post-incident report: its computed times and main conclusions.
    ReportSent { summary: Vec<String>, note: String, report_link: String, by: String },
}

impl CaseEvent {
    /// Subscription that selects who receives this event.
    pub fn kind(&self) -> EventKind {
        match self {
            CaseEvent::PhaseChanged { .. } => EventKind::PhaseChanges,
            CaseEvent::FindingsAdded { .. } => EventKind::Findings,
            CaseEvent::SeverityChanged { .. } => EventKind::SeverityChanges,
            CaseEvent::ContainmentComplete { .. } => EventKind::ContainmentComplete,
            CaseEvent::StatusUpdate { .. } => EventKind::StatusUpdates,
            CaseEvent::ReportSent { .. } => EventKind::PostIncidentReport,
        }
    }

    /// Returns the event as a stakeholder with finding threshold `threshold` receives it: new
    /// findings below the threshold are left out, and `None` means none is left. Other events
    /// are returned unchanged.
    pub fn for_finding_threshold(&self, threshold: FindingSeverity) -> Option<CaseEvent> {
        let CaseEvent::FindingsAdded { findings, by, .. } = self else {
            return Some(self.clone());
        };
        let at_or_above: Vec<NewFinding> = findings
            .iter()
            .filter(|finding| finding.severity.at_least(threshold))
            .cloned()
            .collect();
        (!at_or_above.is_empty()).then(|| CaseEvent::FindingsAdded {
            findings: at_or_above,
            threshold,
            by: by.clone(),
        })
    }

    /// Short form of the change for the subject line.
    fn headline(&self) -> String {
        match self {
            CaseEvent::PhaseChanged { to, .. } => format!("moved to {}", to.label()),
            CaseEvent::FindingsAdded { findings, threshold, .. } => match threshold {
                FindingSeverity::Low => format!("{} new eradication finding(s)", findings.len()),
                _ => format!(
                    "{} new eradication finding(s) of severity {} or higher",
                    findings.len(),
                    threshold.as_str()
                ),
            },
            CaseEvent::SeverityChanged { from, to, .. } => {
                // Severity::ALL runs from P1 (most urgent) down to P4.
                let raised = Severity::ALL.iter().position(|s| s == to) < Severity::ALL.iter().position(|s| s == from);
                let verb = if raised { "raised" } else { "lowered" };
                format!("severity {verb} to {}", to.label())
            }
            CaseEvent::ContainmentComplete { .. } => "containment complete".to_string(),
            CaseEvent::StatusUpdate { .. } => "status update".to_string(),
            CaseEvent::ReportSent { .. } => "post-incident report".to_string(),
        }
    }

    /// Paragraphs that describe the change.
    fn paragraphs(&self) -> Vec<String> {
        match self {
            CaseEvent::PhaseChanged { from, to, by } => {
                vec![format!("{by} moved the case from {} to {}.", from.label(), to.label())]
            }
            CaseEvent::FindingsAdded { findings, threshold, by } => findings_paragraphs(findings, *threshold, by),
            CaseEvent::SeverityChanged { from, to, by } => {
                vec![format!("{by} changed the severity from {} to {}.", from.label(), to.label())]
            }
            CaseEvent::ContainmentComplete { to, by } => vec![format!(
                "{by} closed the containment phase and moved the case to {}. The team considers the \
                 leaked credentials contained.",
                to.label()
            )],
            CaseEvent::StatusUpdate { text, by } => {
                let mut paragraphs = vec![format!("Status update from {by}:")];
                paragraphs.extend(text.split("\n\n").map(str::to_string));
                paragraphs
            }
            CaseEvent::ReportSent { summary, note, report_link, by } => {
                let mut paragraphs = vec![format!("{by} sent the post-incident report of this case.")];
                if !note.trim().is_empty() {
                    paragraphs.push(note.trim().to_string());
                }
                paragraphs.extend(summary.iter().cloned());
                paragraphs.push(format!("Members of the case read the full report in Rekey: {report_link}"));
                paragraphs
            }
        }
    }
}

/// Describes new findings: how many of each severity, then the most severe, oldest first
/// within a severity, one a line.
fn findings_paragraphs(findings: &[NewFinding], threshold: FindingSeverity, by: &str) -> Vec<String> {
    let scope = match threshold {
        FindingSeverity::Low => String::new(),
        _ => format!(" of severity {} or higher", threshold.as_str()),
    };
    let mut paragraphs = vec![format!(
        "Trail analysis by {by} added {} eradication finding(s){scope}: calls made with a leaked credential \
         after the compromise time.",
        findings.len()
    )];
    let counts: Vec<String> = FindingSeverity::ALL
        .iter()
        .filter_map(|severity| {
            let count = findings.iter().filter(|finding| finding.severity == *severity).count();
            (count > 0).then(|| format!("{count} {}", severity.as_str()))
        })
        .collect();
    paragraphs.push(format!("By severity: {}.", counts.join(", ")));

    let mut sorted: Vec<&NewFinding> = findings.iter().collect();
    sorted.sort_by_key(|finding| {
        let rank = FindingSeverity::ALL.iter().position(|s| *s == finding.severity);
        (rank, finding.event_time)
    });
    let mut lines: Vec<String> = sorted
        .iter()
        .take(MAX_LISTED_FINDINGS)
        .map(|finding| {
            let target = finding.resource.as_deref().map(|r| format!(" on {r}")).unwrap_or_default();
            format!(
                "{} {}: {}{target}",
                finding.event_time.format("%Y-%m-%d %H:%M:%S UTC"),
                finding.severity.as_str(),
                finding.event_name
            )
        })
        .collect();
    if sorted.len() > MAX_LISTED_FINDINGS {
        lines.push(format!("and {} more on the case page", sorted.len() - MAX_LISTED_FINDINGS));
    }
    paragraphs.push(lines.join("\n"));
    paragraphs
}

/// The case as an email shows it.
#[derive(Debug, Clone)]
pub struct CaseFacts {
    pub number: i64,
    pub title: String,
    pub severity: Severity,
    pub phase: Phase,
    /// Address of the case page in the browser app.
    pub link: String,
}

/// A rendered email, redacted and ready to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Kinds of secret removed while rendering.
    pub redactions: Vec<RedactionKind>,
}

/// Renders the email about `event` for the stakeholders of `case`.
pub fn render_case_event(case: &CaseFacts, event: &CaseEvent) -> RenderedEmail {
    let footer = format!(
        "You receive this email because you follow {} of this case in Rekey.",
        event.kind().label().to_lowercase()
    );
    render_email(case, &event.headline(), &event.paragraphs(), &footer)
}

/// Renders a reminder to the lead of `case`, such as an overdue status update.
pub fn render_lead_reminder(case: &CaseFacts, headline: &str, paragraphs: &[String]) -> RenderedEmail {
    let footer = "You receive this email as the lead of this case in Rekey.";
    render_email(case, headline, paragraphs, footer)
}

/// Renders the subject and both parts, redacting every text first.
fn render_email(case: &CaseFacts, headline: &str, paragraphs: &[String], footer: &str) -> RenderedEmail {
    let mut redactions = Vec::new();
    let title = redact_into(&case.title, &mut redactions);
    let paragraphs: Vec<String> = paragraphs
        .iter()
        .map(|paragraph| redact_into(paragraph, &mut redactions))
        .collect();
    let reference = case_reference(case.number);
    let subject = redact_into(&format!("[{reference}] {headline}: {title}"), &mut redactions);

    let text = render_text(case, &reference, &title, &paragraphs, footer);
    let html = render_html(case, &reference, &title, &paragraphs, footer);
    RenderedEmail {
        subject,
        text,
        html,
        redactions,
    }
}

fn render_text(case: &CaseFacts, reference: &str, title: &str, paragraphs: &[String], footer: &str) -> String {
    let mut text = format!(
        "Case {reference}: {title}\nSeverity: {}\nPhase: {}\n\nWhat changed:\n\n",
        case.severity.label(),
        case.phase.label()
    );
    for paragraph in paragraphs {
        text.push_str(paragraph);
        text.push_str("\n\n");
    }
    text.push_str(&format!("Open the case: {}\n\n{footer}\n", case.link));
    text
}

fn render_html(case: &CaseFacts, reference: &str, title: &str, paragraphs: &[String], footer: &str) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n\
         <p><strong>Case {}</strong>: {}</p>\n\
         <table>\n<tr><th align=\"left\">Severity</th><td>{}</td></tr>\n\
         <tr><th align=\"left\">Phase</th><td>{}</td></tr>\n</table>\n\
         <h3>What changed</h3>\n",
        escape_html(reference),
        escape_html(title),
        escape_html(case.severity.label()),
        escape_html(case.phase.label()),
    );
    for paragraph in paragraphs {
        let lines: Vec<String> = paragraph.lines().map(escape_html).collect();
        html.push_str(&format!("<p>{}</p>\n", lines.join("<br>\n")));
    }
    html.push_str(&format!(
        "<p><a href=\"{}\">Open the case in Rekey</a></p>\n<p style=\"color: #555\">{}</p>\n</body></html>\n",
        escape_html(&case.link),
        escape_html(footer)
    ));
    html
}

/// Escapes text for an HTML element or a double-quoted attribute.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(title: &str) -> CaseFacts {
        CaseFacts {
            number: 7,
            title: title.to_string(),
            severity: Severity::P1,
            phase: Phase::Containment,
            link: "https://rekey.example.com/cases/7".to_string(),
        }
    }

    fn phase_change() -> CaseEvent {
        CaseEvent::PhaseChanged {
            from: Phase::Identification,
            to: Phase::Containment,
            by: "Ana Lyst".to_string(),
        }
    }

    #[test]
    fn render_shows_case_facts() {
        let email = render_case_event(&facts("Key in public repo"), &phase_change());
        assert_eq!(email.subject, "[RK-7] moved to Containment: Key in public repo");
        for part in [&email.text, &email.html] {
            assert!(part.contains("RK-7"), "{part}");
            assert!(part.contains("Key in public repo"), "{part}");
            assert!(part.contains("P1 critical"), "{part}");
            assert!(part.contains("Containment"), "{part}");
            assert!(part.contains("Ana Lyst moved the case from Identification to Containment."), "{part}");
            assert!(part.contains("https://rekey.example.com/cases/7"), "{part}");
        }
    }

    #[test]
    fn render_escapes_html() {
        let email = render_case_event(&facts("<script>alert('x')</script> & co"), &phase_change());
        assert!(!email.html.contains("<script>"), "{}", email.html);
        assert!(email.html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"), "{}", email.html);
        assert!(email.text.contains("<script>alert('x')</script> & co"), "{}", email.text);
    }

    #[test]
    fn render_redacts_title_and_update() {
        let event = CaseEvent::StatusUpdate {
            text: "Rotated. Old password=hunter22 is dead.".to_string(),
            by: "Lead".to_string(),
        };
        let email = render_case_event(&facts("Key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY leaked"), &event);
        for part in [&email.subject, &email.text, &email.html] {
            assert!(!part.contains("wJalrXUtnFEMI"), "{part}");
            assert!(!part.contains("hunter22"), "{part}");
        }
        assert_eq!(email.redactions, [RedactionKind::CloudSecretKey, RedactionKind::Password]);
    }

    fn finding(severity: FindingSeverity, minute: u32) -> NewFinding {
        NewFinding {
            severity,
            event_name: format!("Call{minute}"),
            event_time: chrono::TimeZone::with_ymd_and_hms(&Utc, 2024, 3, 1, 10, minute, 0).unwrap(),
            resource: None,
        }
    }

    #[test]
    fn findings_threshold_filters_and_counts() {
        let event = CaseEvent::FindingsAdded {
            findings: vec![
                finding(FindingSeverity::Low, 1),
                finding(FindingSeverity::High, 2),
                finding(FindingSeverity::Medium, 3),
            ],
            threshold: FindingSeverity::Low,
            by: "Ana".to_string(),
        };
        let medium = event.for_finding_threshold(FindingSeverity::Medium).unwrap();
        assert_eq!(medium.headline(), "2 new eradication finding(s) of severity medium or higher");
        let paragraphs = medium.paragraphs();
        assert_eq!(paragraphs[1], "By severity: 1 high, 1 medium.");
        assert_eq!(
            paragraphs[2],
            "2024-03-01 10:02:00 UTC high: Call2\n2024-03-01 10:03:00 UTC medium: Call3",
            "most severe first"
        );
        let high_only = CaseEvent::FindingsAdded {
            findings: vec![finding(FindingSeverity::Low, 1)],
            threshold: FindingSeverity::Low,
            by: "Ana".to_string(),
        };
        assert!(high_only.for_finding_threshold(FindingSeverity::High).is_none());
        assert!(phase_change().for_finding_threshold(FindingSeverity::High).is_some());
    }

    #[test]
    fn findings_list_is_capped() {
        let findings = (0..25).map(|minute| finding(FindingSeverity::Medium, minute)).collect();
        let event = CaseEvent::FindingsAdded { findings, threshold: FindingSeverity::Low, by: "Ana".to_string() };
        let list = &event.paragraphs()[2];
        assert_eq!(list.lines().count(), MAX_LISTED_FINDINGS + 1);
        assert!(list.ends_with("and 5 more on the case page"), "{list}");
    }

    #[test]
    fn severity_headline_says_direction() {
        let raised = CaseEvent::SeverityChanged {
            from: Severity::P3,
            to: Severity::P1,
            by: "Lead".to_string(),
        };
        let lowered = CaseEvent::SeverityChanged {
            from: Severity::P1,
            to: Severity::P2,
            by: "Lead".to_string(),
        };
        assert_eq!(raised.headline(), "severity raised to P1 critical");
        assert_eq!(lowered.headline(), "severity lowered to P2 high");
    }
}
