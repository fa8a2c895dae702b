//! The post-incident report as a document: computed response times, and rendering to
//! Markdown and PDF.
//!
//! Both exports render the same list of blocks, so their content is the same. The PDF is
//! written directly: standard Helvetica fonts and uncompressed text, which keeps it small,
//! needs no font files, and leaves its text searchable.

use chrono::{DateTime, Utc};
use rekey_types::{format_duration, Phase, PhaseChangeRecord, Report, ResponseTime, VerificationState};

/// One piece of the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Title(String),
    Heading(String),
    Paragraph(String),
    /// A label and its value, such as "Severity: P1".
    Field(String, String),
    Item(String),
}

/// First time the case entered `phase` or a later one.
fn reached(changes: &[PhaseChangeRecord], phase: Phase) -> Option<DateTime<Utc>> {
    let rank = |p: Phase| Phase::ALL.iter().position(|q| *q == p).unwrap_or(0);
    changes
        .iter()
        .filter(|change| rank(change.to_phase) >= rank(phase))
        .map(|change| change.changed_at)
        .min()
}

/// Time to detect, contain, eradicate and recover, from the case's recorded times.
pub fn response_times(
    compromise_time: Option<DateTime<Utc>>,
    opened_at: DateTime<Utc>,
    changes: &[PhaseChangeRecord],
) -> Vec<ResponseTime> {
    let span = |name: &str, definition: &str, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| ResponseTime {
        name: name.to_string(),
        definition: definition.to_string(),
        seconds: match (from, to) {
            (Some(from), Some(to)) => Some((to - from).num_seconds()),
            _ => None,
        },
        from,
        to,
    };
    vec![
        span(
            "Time to detect",
            "From the compromise time to the moment the case was opened.",
            compromise_time,
            Some(opened_at),
        ),
        span(
            "Time to contain",
            "From the moment the case was opened to the end of the containment phase (the case moved to eradication or later).",
            Some(opened_at),
            reached(changes, Phase::Eradication),
        ),
        span(
            "Time to eradicate",
            "From the moment the case was opened to the end of the eradication phase (the case moved to recovery or later).",
            Some(opened_at),
            reached(changes, Phase::Recovery),
        ),
        span(
            "Time to recover",
            "From the moment the case was opened to the end of the recovery phase (the case moved to post-incident or later).",
            Some(opened_at),
            reached(changes, Phase::PostIncident),
        ),
    ]
}

fn utc(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn or_none(text: &str) -> String {
    if text.trim().is_empty() {
        "Not recorded.".to_string()
    } else {
        text.trim().to_string()
    }
}

/// Lays the report out as blocks in reading order. Every section is present, with a sentence
/// for a section that has nothing in it.
pub fn document(report: &Report) -> Vec<Block> {
    let case = &report.case;
    let mut blocks = vec![
        Block::Title(format!("Post-incident report {}: {}", case.reference, case.title)),
        Block::Field("Generated".into(), utc(report.generated_at)),
        Block::Field("Severity".into(), case.severity.label().into()),
        Block::Field("Phase".into(), case.phase.label().into()),
        Block::Field("Detection source".into(), case.detection_source.label().into()),
        Block::Field(
            "Compromise time".into(),
            case.compromise_time.map(utc).unwrap_or_else(|| "Not recorded".into()),
        ),
        Block::Field("Opened".into(), format!("{} by {}", utc(case.created_at), case.created_by)),
        Block::Heading("Summary".into()),
        Block::Paragraph(or_none(&case.summary)),
        Block::Heading("Response times".into()),
    ];
    for time in &report.times {
        let value = match time.seconds {
            Some(seconds) => format_duration(seconds),
            None => "not yet measurable".to_string(),
        };
        blocks.push(Block::Field(time.name.clone(), value));
        blocks.push(Block::Item(time.definition.clone()));
    }

    blocks.push(Block::Heading("Leaked credentials".into()));
    if report.containment.is_empty() {
        blocks.push(Block::Paragraph("No credential was recorded.".into()));
    }
    for credential in &report.containment {
        let proposed = report
            .credentials
            .iter()
            .any(|c| c.id == credential.credential_id && c.proposed);
        let state = if proposed {
            "proposed from the trail, not confirmed".to_string()
        } else {
            format!("now {}", credential.status.label())
        };
        blocks.push(Block::Field(
            credential.label.clone(),
            format!("{}, {state}", credential.kind.label()),
        ));
        for change in &credential.history {
            let from = change.from_status.map(|s| format!("{} to ", s.label())).unwrap_or_default();
            blocks.push(Block::Item(format!(
                "{}: {from}{} by {}{}",
                utc(change.changed_at),
                change.to_status.label(),
                change.changed_by,
                if change.note.is_empty() { String::new() } else { format!(" ({})", change.note) }
            )));
        }
        for action in &credential.actions {
            blocks.push(Block::Item(format!(
                "{}: {} by {}, authorised by {}, {}{}",
                utc(action.performed_at),
                action.kind.label(),
                action.performed_by,
                action.authorised_by,
                action.result.label().to_lowercase(),
                if action.notes.is_empty() { String::new() } else { format!(" ({})", action.notes) }
            )));
        }
        let verification = &credential.verification;
        let outcome = match verification.state {
            VerificationState::NotContained => "no containment action recorded".to_string(),
            _ if verification.events_after > 0 => format!(
                "{} use(s) after containment, first at {}",
                verification.events_after,
                verification.first_use_after.map(utc).unwrap_or_default()
            ),
            _ => format!("{}, no use after containment", verification.state.label()),
        };
        blocks.push(Block::Item(format!("Verification window: {outcome}")));
    }

    blocks.push(Block::Heading("Findings by category".into()));
    if report.finding_total == 0 {
        blocks.push(Block::Paragraph("No findings were recorded.".into()));
    } else {
        blocks.push(Block::Paragraph(format!("{} findings in all.", report.finding_total)));
        for count in &report.findings_by_category {
            blocks.push(Block::Field(
                count.category.label().into(),
                format!("{} ({} failed attempts)", count.findings, count.attempts),
            ));
        }
    }

    blocks.push(Block::Heading("Impact".into()));
    if report.impacts.is_empty() {
        blocks.push(Block::Paragraph("Impact has not been assessed.".into()));
    }
    for impact in &report.impacts {
        let mut line = format!("{}: {}", impact.kind.label(), impact.description);
        if let Some(users) = impact.users_affected {
            line.push_str(&format!(" ({users} users affected)"));
        }
        if let Some(severity) = impact.severity {
            line.push_str(&format!(", severity {}", severity.label().to_lowercase()));
        }
        blocks.push(Block::Item(line));
    }

    blocks.push(Block::Heading("Affected resources and recovery".into()));
    if report.resources.is_empty() {
        blocks.push(Block::Paragraph("No affected resource was recorded.".into()));
    }
    for resource in &report.resources {
        let owner = match (&resource.owner_name, resource.owner_notified_at) {
            (Some(name), Some(at)) => format!("owner {name}, notified {}", utc(at)),
            (Some(name), None) => format!("owner {name}, not notified"),
            _ => "no owner recorded".to_string(),
        };
        blocks.push(Block::Field(
            format!("{} {}", resource.resource_type, resource.resource_id),
            format!("{owner}; {} findings", resource.finding_ids.len()),
        ));
        for action in &resource.recovery_actions {
            blocks.push(Block::Item(format!(
                "{}: {}{}{}",
                action.kind.label(),
                action.status.label().to_lowercase(),
                action.done_at.map(|at| format!(" at {}", utc(at))).unwrap_or_default(),
                if action.cmdb_updated { ", CMDB updated" } else { "" }
            )));
        }
    }

    let more_resources = report.resources_total - report.resources.len() as i64;
    if more_resources > 0 {
        blocks.push(Block::Paragraph(format!("{more_resources} more affected resources are listed in Rekey.")));
    }

    blocks.push(Block::Heading("Stakeholder communications".into()));
    if report.communications.is_empty() {
        blocks.push(Block::Paragraph("No message was sent or recorded.".into()));
    }
    for message in &report.communications {
        blocks.push(Block::Item(format!(
            "{}: {} to {} by {}: {}",
            utc(message.at),
            message.channel.label(),
            message.recipient,
            message.sender,
            message.subject
        )));
    }

    blocks.push(Block::Heading("Timeline".into()));
    if report.timeline.is_empty() {
        blocks.push(Block::Paragraph("The timeline is empty.".into()));
    }
    for entry in &report.timeline {
        let actor = entry.actor.as_deref().map(|a| format!(" ({a})")).unwrap_or_default();
        blocks.push(Block::Item(format!("{}: {}{actor}", utc(entry.at), entry.title)));
    }

    let more_entries = report.timeline_total - report.timeline.len() as i64;
    if more_entries > 0 {
        blocks.push(Block::Paragraph(format!("{more_entries} later timeline entries are listed in Rekey.")));
    }

    blocks.push(Block::Heading("Evidence".into()));
    if report.evidence.is_empty() {
        blocks.push(Block::Paragraph("No evidence was kept.".into()));
    }
    for item in &report.evidence {
        blocks.push(Block::Item(format!(
            "{} ({} bytes, {}), SHA-256 {}",
            item.original_name, item.size, item.media_type, item.sha256
        )));
    }

    let lessons = &report.lessons;
    blocks.push(Block::Heading("Lessons learned".into()));
    blocks.push(Block::Field("What worked".into(), or_none(&lessons.what_worked)));
    blocks.push(Block::Field("What did not work".into(), or_none(&lessons.what_did_not_work)));
    blocks.push(Block::Field("Root cause".into(), or_none(&lessons.root_cause)));
    blocks.push(Block::Field("Detection gaps".into(), or_none(&lessons.detection_gaps)));
    blocks.push(Block::Field("Forensic findings".into(), or_none(&lessons.forensic_findings)));
    blocks.push(Block::Field(
        "CMDB updated".into(),
        match (&lessons.cmdb_confirmed_by, lessons.cmdb_confirmed_at) {
            (Some(by), Some(at)) if lessons.cmdb_updated => format!("confirmed by {by} at {}", utc(at)),
            _ => "not confirmed".into(),
        },
    ));
    blocks.push(Block::Heading("Improvement actions".into()));
    if lessons.improvement_actions.is_empty() {
        blocks.push(Block::Paragraph("No improvement action was recorded.".into()));
    }
    for action in &lessons.improvement_actions {
        blocks.push(Block::Item(format!(
            "{} (owner {}, {}{})",
            action.description,
            action.owner,
            action.status.label().to_lowercase(),
            action.due_at.map(|at| format!(", due {}", utc(at))).unwrap_or_default()
        )));
    }
    blocks
}

/// Escapes characters that Markdown would read as markup.
fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|') {
            out.push('\\');
        }
        out.push(if c == '\n' { ' ' } else { c });
    }
    out
}

pub fn to_markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Title(text) => out.push_str(&format!("# {}\n\n", markdown_text(text))),
            Block::Heading(text) => out.push_str(&format!("\n## {}\n\n", markdown_text(text))),
            Block::Paragraph(text) => out.push_str(&format!("{}\n\n", markdown_text(text))),
            Block::Field(label, value) => {
                out.push_str(&format!("**{}:** {}  \n", markdown_text(label), markdown_text(value)))
            }
            Block::Item(text) => out.push_str(&format!("- {}\n", markdown_text(text))),
        }
    }
    out
}

/// Widths of the printable ASCII characters in Helvetica, in thousandths of the font size.
const HELVETICA_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// Width of `text` in points at `size`, in Helvetica; bold is about 5 % wider.
fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    let units: u32 = text
        .chars()
        .map(|c| match c as u32 {
            32..=126 => u32::from(HELVETICA_WIDTHS[(c as u32 - 32) as usize]),
            _ => 556,
        })
        .sum();
    units as f32 * size / 1000.0 * if bold { 1.05 } else { 1.0 }
}

/// Returns the byte of `c` in WinAnsiEncoding, or `?` for a character it lacks.
///
/// NOTE: the standard Helvetica fonts cover only this encoding, so non-Latin text such as
/// Cyrillic or CJK prints as `?` in the PDF. The web page and the Markdown keep it.
fn win_ansi(c: char) -> u8 {
    match c {
        ' '..='~' => c as u8,
        '\u{a0}'..='\u{ff}' => c as u32 as u8,
        '\u{2013}' => 0x96,
        '\u{2014}' => 0x97,
        '\u{2018}' => 0x91,
        '\u{2019}' => 0x92,
        '\u{201c}' => 0x93,
        '\u{201d}' => 0x94,
        '\u{2022}' => 0x95,
        '\u{2026}' => 0x85,
        '\u{20ac}' => 0x80,
        _ => b'?',
    }
}

/// Writes `text` as a PDF string literal.
fn pdf_string(text: &str) -> Vec<u8> {
    let mut out = vec![b'('];
    for c in text.chars() {
        let byte = win_ansi(c);
        if matches!(byte, b'(' | b')' | b'\\') {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b')');
    out
}

/// Splits `text` into lines no wider than `width` points.
fn wrap(text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
        if text_width(&candidate, size, bold) <= width || line.is_empty() && text_width(word, size, bold) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A word wider than the line, such as a hash, is cut into pieces.
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if text_width(&piece, size, bold) > width {
                piece.pop();
                lines.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        line = piece;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;

/// Lays out blocks on A4 pages and writes a PDF file.
pub fn to_pdf(blocks: &[Block], title: &str) -> Vec<u8> {
    struct Line {
        text: String,
        size: f32,
        bold: bool,
        indent: f32,
        space_before: f32,
    }
    let mut lines = Vec::new();
    let usable = PAGE_WIDTH - 2.0 * MARGIN;
    for block in blocks {
        let (text, size, bold, indent, space_before) = match block {
            Block::Title(text) => (text.clone(), 16.0, true, 0.0, 0.0),
            Block::Heading(text) => (text.clone(), 12.5, true, 0.0, 12.0),
            Block::Paragraph(text) => (text.clone(), 10.0, false, 0.0, 2.0),
            Block::Field(label, value) => (format!("{label}: {value}"), 10.0, false, 0.0, 1.0),
            Block::Item(text) => (format!("\u{2022} {text}"), 10.0, false, 12.0, 0.0),
        };
        for (index, part) in wrap(&text, size, bold, usable - indent).into_iter().enumerate() {
            lines.push(Line {
                text: part,
                size,
                bold,
                indent: if index > 0 && matches!(block, Block::Item(_)) { indent + 8.0 } else { indent },
                space_before: if index == 0 { space_before } else { 0.0 },
            });
        }
    }

    let mut pages: Vec<Vec<u8>> = Vec::new();
    let mut content = Vec::new();
    let mut y = PAGE_HEIGHT - MARGIN;
    for line in &lines {
        let height = line.size * 1.35 + line.space_before;
        if y - height < MARGIN && !content.is_empty() {
            pages.push(std::mem::take(&mut content));
            y = PAGE_HEIGHT - MARGIN;
        }
        y -= height;
        let font = if line.bold { "F2" } else { "F1" };
        content.extend_from_slice(format!("BT /{font} {} Tf {:.2} {:.2} Td ", line.size, MARGIN + line.indent, y).as_bytes());
        content.extend_from_slice(&pdf_string(&line.text));
        content.extend_from_slice(b" Tj ET\n");
    }
    pages.push(content);
    let page_count = pages.len();
    for (index, page) in pages.iter_mut().enumerate() {
        let footer = format!("{title} - page {} of {page_count}", index + 1);
        page.extend_from_slice(format!("BT /F1 8 Tf {MARGIN:.2} {:.2} Td ", MARGIN / 2.0).as_bytes());
        page.extend_from_slice(&pdf_string(&footer));
        page.extend_from_slice(b" Tj ET\n");
    }

    // Objects: 1 catalog, 2 page tree, 3 and 4 fonts, 5 info, then a page and its content for
    // each page.
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let kids: Vec<String> = (0..page_count).map(|i| format!("{} 0 R", 6 + 2 * i)).collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {page_count} >>", kids.join(" ")).into_bytes());
    objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec());
    objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>".to_vec());
    let mut info = b"<< /Producer (Rekey) /Title ".to_vec();
    info.extend_from_slice(&pdf_string(title));
    info.extend_from_slice(b" >>");
    objects.push(info);
    for (index, page) in pages.iter().enumerate() {
        let content_id = 7 + 2 * index;
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                 /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {content_id} 0 R >>"
            )
            .into_bytes(),
        );
        let mut stream = format!("<< /Length {} >>\nstream\n", page.len()).into_bytes();
        stream.extend_from_slice(page);
        stream.extend_from_slice(b"\nendstream");
        objects.push(stream);
    }

    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (index, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", index + 1).as_bytes());
        pdf.extend_from_slice(object);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_string_escapes_and_encodes() {
        assert_eq!(pdf_string("a(b)\\"), b"(a\\(b\\)\\\\)".to_vec());
        assert_eq!(pdf_string("\u{2014}\u{4e2d}"), vec![b'(', 0x97, b'?', b')']);
    }

    #[test]
    fn long_words_are_cut_to_the_line() {
        let hash = "a".repeat(200);
        let lines = wrap(&hash, 10.0, false, 100.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|line| text_width(line, 10.0, false) <= 100.0));
        assert_eq!(lines.concat(), hash);
    }

    #[test]
    fn pdf_cross_reference_points_at_each_object() {
        let blocks = vec![Block::Title("RK-1".into()), Block::Paragraph("word ".repeat(3000))];
        let pdf = to_pdf(&blocks, "RK-1");
        let tail = String::from_utf8_lossy(&pdf[pdf.len() - 64..]).into_owned();
        let xref_at: usize = tail.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        let table = String::from_utf8(pdf[xref_at..].to_vec()).unwrap();
        assert!(table.starts_with("xref"));
        let entries: Vec<usize> = table
            .lines()
            .skip(3)
            .take_while(|line| line.ends_with(" n "))
            .map(|line| line[..10].parse().unwrap())
            .collect();
        assert!(entries.len() > 6, "several pages expected");
        for (index, offset) in entries.iter().enumerate() {
            assert!(pdf[*offset..].starts_with(format!("{} 0 obj", index + 1).as_bytes()));
        }
    }
}
