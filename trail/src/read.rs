//! Streaming reader for CloudTrail and CTS files: wrapper objects such as `{"Records":[...]}`,
//! JSON arrays, concatenated objects, and one event per line.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use flate2::bufread::MultiGzDecoder;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::event::{message_without_position, parse_event, Event, EventError};
use crate::needles::Needles;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UTF8_BOM: [u8; 3] = [0xef, 0xbb, 0xbf];
const BUFFER_SIZE: usize = 64 * 1024;

/// Maximum number of leading bytes that form detection buffers before it falls back to the
/// one-event-per-line form. Only a file that starts with this much whitespace reaches it.
const SNIFF_LIMIT: usize = 64 * 1024;

/// Default of [`ReadOptions::max_decompressed_bytes`]: 10 GiB. A gzip file of CloudTrail JSON
/// usually expands 10 to 20 times (an estimate from typical JSON compression ratios), so this
/// admits compressed files of roughly 500 MB to 1 GB.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// Settings of [`read_events_with`] and [`crate::read_zip_with`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Maximum decompressed size of one gzip file or zip entry, in bytes. A larger one is
    /// rejected, so that a small compressed file (a decompression bomb) cannot keep the reader
    /// busy for hours. Plain files have no limit here.
    pub max_decompressed_bytes: u64,
    /// When set, only the events whose JSON text contains one of these texts are parsed and
    /// passed to the callback. The others are counted in [`FileSummary::events`] and passed
    /// over. In the [`Form::Lines`] form such a line is only checked to have the shape of an
    /// object, from `{"` to `}`, so a wrong field or broken JSON inside it is not reported. In
    /// the other forms the whole file is still checked to be JSON.
    pub only_containing: Option<Arc<Needles>>,
    /// When set, increased by the number of events read, parsed or not, as reading goes on, so
    /// that another thread can show progress.
    pub events_read: Option<Arc<AtomicU64>>,
    /// When set, an event that cannot be read (a missing or wrong field, a line that is not JSON)
    /// is recorded here and reading goes on with the next event. An error after which the next
    /// event cannot be found, such as broken JSON in a `{"Records":[...]}` file or a cut-off
    /// gzip stream, still ends the file.
    pub skipped_events: Option<Arc<Mutex<Vec<ReadError>>>>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            only_containing: None,
            events_read: None,
            skipped_events: None,
        }
    }
}

/// Error inside the `io::Error` of a decompressed stream that passed its limit.
#[derive(Debug)]
struct DecompressedTooLarge {
    limit: u64,
}

impl fmt::Display for DecompressedTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the decompressed content is larger than the limit of {}; if this is a real trail \
             file, raise the max_decompressed_mb setting",
            describe_limit(self.limit)
        )
    }
}

impl std::error::Error for DecompressedTooLarge {}

/// Names a limit in MB (MiB) when it is a whole number of them, else in bytes.
pub(crate) fn describe_limit(limit: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if limit >= MIB && limit % MIB == 0 {
        format!("{} MB", limit / MIB)
    } else {
        format!("{limit} bytes")
    }
}

/// Reader that fails with [`DecompressedTooLarge`] once more than `limit` bytes came through.
pub(crate) struct LimitedReader<R> {
    inner: R,
    remaining: u64,
    limit: u64,
}

impl<R> LimitedReader<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        LimitedReader {
            inner,
            remaining: limit,
            limit,
        }
    }
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        // Ask for one byte more than allowed, so that content of exactly the limit passes.
        let allowed = self.remaining.saturating_add(1).min(buffer.len() as u64) as usize;
        let count = self.inner.read(&mut buffer[..allowed])?;
        if count as u64 > self.remaining {
            self.remaining = 0;
            return Err(io::Error::other(DecompressedTooLarge { limit: self.limit }));
        }
        self.remaining -= count as u64;
        Ok(count)
    }
}

/// Failure to read a file: the file name, the 1-based line and column when known, and the reason.
/// Columns count bytes, not characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(
                    f,
                    "{} line {line} column {column}: {}",
                    self.file, self.message
                )
            }
            (Some(line), None) => write!(f, "{} line {line}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ReadError {}

/// Keys of a wrapper object whose array value holds the events. Other keys are skipped.
/// `Records` is the file CloudTrail delivers to S3, `Events` the output of
/// `aws cloudtrail lookup-events`, and `traces` the response of the CTS trace query API.
const EVENT_ARRAY_KEYS: [&str; 3] = ["Records", "Events", "traces"];

/// First keys that mark a wrapper object rather than an event. The CTS query API puts
/// `meta_data` before `traces`.
const WRAPPER_FIRST_KEYS: [&[u8]; 4] = [b"Records", b"Events", b"traces", b"meta_data"];

/// Layout of a trail file. Each event in it may be a CloudTrail record, a `lookup-events` entry
/// or a CTS trace, whatever the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// One or more wrapper objects with the events in a `Records`, `Events` or `traces` array.
    Records,
    /// One or more top-level JSON arrays of events.
    Array,
    /// Event objects one after another, each spread over several lines, such as a single
    /// pretty-printed CTS trace.
    Objects,
    /// One JSON event object per line (NDJSON). An empty or blank file also reads as this form.
    Lines,
}

impl Form {
    /// Returns the lowercase name: `records`, `array`, `objects` or `lines`.
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Records => "records",
            Form::Array => "array",
            Form::Objects => "objects",
            Form::Lines => "lines",
        }
    }
}

/// Result of reading a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSummary {
    /// Number of events passed to the callback.
    pub events: u64,
    pub form: Form,
    /// Whether the file was gzip-compressed.
    pub gzip: bool,
}

/// Reason why [`read_events`] stopped before the end of the file.
#[derive(Debug)]
pub enum ReadFailure<E> {
    /// The file could not be read or is not a valid CloudTrail file.
    Read(ReadError),
    /// The callback returned this error.
    Callback(E),
}

impl<E: fmt::Display> fmt::Display for ReadFailure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadFailure::Read(error) => error.fmt(f),
            ReadFailure::Callback(error) => error.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ReadFailure<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadFailure::Read(error) => Some(error),
            ReadFailure::Callback(error) => Some(error),
        }
    }
}

impl<E> From<ReadError> for ReadFailure<E> {
    fn from(error: ReadError) -> Self {
        ReadFailure::Read(error)
    }
}

/// Reads every event of one file, calling `on_event` for each in file order.
///
/// The file may be gzip-compressed, detected by its magic bytes, not by its name. Concatenated
/// gzip members are read as one stream. Decompression and an optional UTF-8 byte order mark are
/// followed by the form detection, from the first bytes of content:
/// - an object whose first key is `Records`, `Events`, `traces` or `meta_data` is a wrapper,
///   read in the [`Form::Records`] form;
/// - a `[` starts the [`Form::Array`] form;
/// - any other object with a line break before its first key is read in the [`Form::Objects`]
///   form, and without one as one event per line ([`Form::Lines`]).
///
/// An empty file has zero events. Each event is parsed by its own keys: see [`Event`].
///
/// Events are parsed one at a time, so memory stays bounded by the largest single event (or
/// line), not by the file size. Events before an error have already been passed to `on_event`.
/// If `on_event` returns `Err(e)`, reading stops and the result is `ReadFailure::Callback(e)`.
///
/// # Errors
/// `ReadFailure::Read` for an I/O or gzip error, invalid or truncated JSON, content that is not a
/// trail file, and an event that lacks a required field (`eventID`, `eventTime`, `eventName` and
/// `eventSource` of a CloudTrail record, or `trace_id`, `time`, `trace_name` and `service_type`
/// of a CTS trace), has a time without a zone, or has a field of the wrong type.
/// The error names the field and gives the line and column where the event starts.
pub fn read_events<R: Read, E>(
    file_name: &str,
    input: R,
    on_event: impl FnMut(Event) -> Result<(), E>,
) -> Result<FileSummary, ReadFailure<E>> {
    read_events_with(file_name, input, ReadOptions::default(), on_event)
}

/// Reads every event of one file like [`read_events`], with the limits of `options`.
///
/// # Errors
/// Those of [`read_events`], and `ReadFailure::Read` when gzip content decompresses to more than
/// [`ReadOptions::max_decompressed_bytes`].
pub fn read_events_with<R: Read, E>(
    file_name: &str,
    input: R,
    options: ReadOptions,
    mut on_event: impl FnMut(Event) -> Result<(), E>,
) -> Result<FileSummary, ReadFailure<E>> {
    let mut input = BufReader::with_capacity(BUFFER_SIZE, input);
    let mut magic = Vec::with_capacity(GZIP_MAGIC.len());
    (&mut input)
        .take(GZIP_MAGIC.len() as u64)
        .read_to_end(&mut magic)
        .map_err(|error| io_error(file_name, &error, false, 0))?;
    let gzip = magic == GZIP_MAGIC;
    // Put the magic bytes back in front of the rest of the stream.
    let input = Cursor::new(magic).chain(input);

    let (events, form) = if gzip {
        let decoder = LimitedReader::new(MultiGzDecoder::new(input), options.max_decompressed_bytes);
        let decoder = BufReader::with_capacity(BUFFER_SIZE, decoder);
        read_decoded(file_name, decoder, true, &options, &mut on_event)?
    } else {
        read_decoded(file_name, input, false, &options, &mut on_event)?
    };
    Ok(FileSummary { events, form, gzip })
}

fn read_decoded<B: BufRead, E>(
    file_name: &str,
    mut input: B,
    gzip: bool,
    options: &ReadOptions,
    on_event: &mut impl FnMut(Event) -> Result<(), E>,
) -> Result<(u64, Form), ReadFailure<E>> {
    let sniffed = sniff(&mut input).map_err(|error| io_error(file_name, &error, gzip, 0))?;
    let start = Position {
        line: 1,
        column: if sniffed.bom {
            UTF8_BOM.len() as u64
        } else {
            0
        },
        offset: 0,
    };

    let form = match sniffed.kind {
        Sniffed::Empty => return Ok((0, Form::Lines)),
        Sniffed::Records => Form::Records,
        Sniffed::Array => Form::Array,
        Sniffed::Objects => Form::Objects,
        Sniffed::Lines => Form::Lines,
        Sniffed::NotJson => {
            let whitespace = sniffed
                .head
                .iter()
                .take_while(|&&b| is_json_whitespace(b))
                .count();
            let position = start.after(&sniffed.head[..whitespace]);
            return Err(ReadError {
                file: file_name.to_owned(),
                line: Some(position.line),
                column: Some(position.column + 1),
                message: not_json_message(&sniffed.head[whitespace..]),
            }
            .into());
        }
    };

    // Replay the bytes that detection consumed.
    let input = Cursor::new(sniffed.head).chain(input);
    let reader = Reader {
        file_name,
        gzip,
        start,
        events: 0,
        counted: 0,
        skipped: 0,
        options,
    };
    let events = match form {
        Form::Lines => reader.read_lines(input, on_event)?,
        _ => reader.read_values(form, input, on_event)?,
    };
    Ok((events, form))
}

/// Outcome of looking at the start of a decompressed file.
enum Sniffed {
    Empty,
    Records,
    Array,
    Objects,
    Lines,
    NotJson,
}

/// Returns the error message for content that is not JSON, given the bytes that detection read
/// after leading whitespace.
fn not_json_message(content: &[u8]) -> String {
    let found = match content.first() {
        Some(b'P') => "'P'. If this is a zip archive, extract it first".to_owned(),
        Some(&byte) => describe_byte(byte),
        None => "nothing".to_owned(),
    };
    format!(
        "not a trail file: expected CloudTrail or CTS events as JSON (a {{\"Records\":[...]}} \
         object, an array, or one event per line), found {found}"
    )
}

struct Sniff {
    /// Bytes read during detection, without a byte order mark. They are replayed before the rest.
    head: Vec<u8>,
    bom: bool,
    kind: Sniffed,
}

/// Reads just enough of the start of `input` to tell the file's form.
fn sniff<B: BufRead>(input: &mut B) -> io::Result<Sniff> {
    let mut head = Vec::new();
    let mut bom = false;
    let mut byte = next_byte(input, &mut head)?;
    if byte == Some(UTF8_BOM[0])
        && next_byte(input, &mut head)? == Some(UTF8_BOM[1])
        && next_byte(input, &mut head)? == Some(UTF8_BOM[2])
    {
        head.clear();
        bom = true;
        byte = next_byte(input, &mut head)?;
    }

    let kind = loop {
        match byte {
            None => break Sniffed::Empty,
            Some(b) if is_json_whitespace(b) => {
                if head.len() >= SNIFF_LIMIT {
                    break Sniffed::Lines;
                }
                byte = next_byte(input, &mut head)?;
            }
            Some(b'{') => break sniff_first_key(input, &mut head)?,
            Some(b'[') => break Sniffed::Array,
            Some(_) => break Sniffed::NotJson,
        }
    };
    Ok(Sniff { head, bom, kind })
}

/// Reads the first key of an object whose `{` is already in `head`.
///
/// A JSON text on one line never contains a raw line break, so a line break before the first key
/// means that the object spans several lines and the file is not one event per line.
fn sniff_first_key<B: BufRead>(input: &mut B, head: &mut Vec<u8>) -> io::Result<Sniffed> {
    // Longer than any key that detection looks for.
    const MAX_KEY_LENGTH: usize = 16;

    let mut multiline = false;
    let mut byte = next_byte(input, head)?;
    while byte.is_some_and(is_json_whitespace) && head.len() < SNIFF_LIMIT {
        multiline |= byte == Some(b'\n');
        byte = next_byte(input, head)?;
    }
    let event_form = if multiline {
        Sniffed::Objects
    } else {
        Sniffed::Lines
    };
    if byte != Some(b'"') {
        return Ok(event_form);
    }

    let key_start = head.len();
    loop {
        match next_byte(input, head)? {
            Some(b'"') => break,
            Some(_) if head.len() - key_start <= MAX_KEY_LENGTH => {}
            _ => return Ok(event_form),
        }
    }
    let key = &head[key_start..head.len() - 1];
    if WRAPPER_FIRST_KEYS.contains(&key) {
        Ok(Sniffed::Records)
    } else {
        Ok(event_form)
    }
}

fn next_byte<B: BufRead>(input: &mut B, head: &mut Vec<u8>) -> io::Result<Option<u8>> {
    let byte = input.fill_buf()?.first().copied();
    if let Some(byte) = byte {
        input.consume(1);
        head.push(byte);
    }
    Ok(byte)
}

fn is_json_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Position in the decompressed text. `column` is the number of bytes already read on `line`,
/// so the next byte is at column `column + 1`.
#[derive(Debug, Clone, Copy)]
struct Position {
    line: u64,
    column: u64,
    offset: u64,
}

impl Position {
    /// Returns the position after reading `bytes` from this one.
    fn after(mut self, bytes: &[u8]) -> Position {
        for &byte in bytes {
            self.advance(byte);
        }
        self
    }

    fn advance(&mut self, byte: u8) {
        self.offset += 1;
        if byte == b'\n' {
            self.line += 1;
            self.column = 0;
        } else {
            self.column += 1;
        }
    }

    /// Converts a position that serde_json reports relative to a deserializer that started here.
    fn plus_relative(self, line: u64, column: u64) -> (u64, u64) {
        if line <= 1 {
            (self.line, self.column + column)
        } else {
            (self.line + line - 1, column)
        }
    }
}

/// Counts the bytes that pass from a reader to serde_json, so that an event can be located
/// and several top-level objects can share one position count.
struct Tracking {
    position: Cell<Position>,
    /// Set before reading a Records element. The next byte that is not whitespace or `,` is the
    /// element's first byte, and its position goes to `element_start`.
    mark_pending: Cell<bool>,
    element_start: Cell<Position>,
}

impl Tracking {
    fn advance(&self, bytes: &[u8]) {
        let mut position = self.position.get();
        for &byte in bytes {
            if self.mark_pending.get() && !is_json_whitespace(byte) && byte != b',' {
                self.mark_pending.set(false);
                self.element_start.set(position);
            }
            position.advance(byte);
        }
        self.position.set(position);
    }
}

/// Reader that feeds serde_json and records what it reads in a [`Tracking`].
/// serde_json's reader input iterates `io::Bytes`, one byte per call, so `inner` must be buffered.
struct TrackedReader<'t, B> {
    inner: B,
    tracking: &'t Tracking,
}

impl<B: BufRead> TrackedReader<'_, B> {
    /// Skips whitespace and returns the next byte without consuming it, or `None` at the end.
    fn peek_after_whitespace(&mut self) -> io::Result<Option<u8>> {
        loop {
            let available = self.inner.fill_buf()?;
            let Some(&byte) = available.first() else {
                return Ok(None);
            };
            if !is_json_whitespace(byte) {
                return Ok(Some(byte));
            }
            self.tracking.advance(&[byte]);
            self.inner.consume(1);
        }
    }
}

impl<B: BufRead> Read for TrackedReader<'_, B> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let available = self.inner.fill_buf()?;
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        self.tracking.advance(&buffer[..count]);
        self.inner.consume(count);
        Ok(count)
    }
}

/// State of one file being read, shared by both forms.
struct Reader<'a> {
    file_name: &'a str,
    gzip: bool,
    /// Position of the first byte after a byte order mark.
    start: Position,
    events: u64,
    /// Part of `events` already added to [`ReadOptions::events_read`].
    counted: u64,
    /// Damaged events recorded in [`ReadOptions::skipped_events`].
    skipped: u64,
    options: &'a ReadOptions,
}

impl Reader<'_> {
    /// Adds the events read since the last call to [`ReadOptions::events_read`].
    fn report_count(&mut self) {
        if let Some(counter) = &self.options.events_read {
            counter.fetch_add(self.events - self.counted, Ordering::Relaxed);
            self.counted = self.events;
        }
    }

    /// Records `error` in [`ReadOptions::skipped_events`] and returns `true`, or returns `false`
    /// when damaged events end the file.
    fn skip(&mut self, error: &ReadError) -> bool {
        match &self.options.skipped_events {
            Some(skipped) => {
                if let Ok(mut skipped) = skipped.lock() {
                    skipped.push(error.clone());
                }
                self.skipped += 1;
                true
            }
            None => false,
        }
    }

    /// Returns whether an event with this JSON text is passed over unparsed.
    fn passes_over(&self, text: &[u8]) -> bool {
        self.options
            .only_containing
            .as_deref()
            .is_some_and(|needles| !needles.any_in(text))
    }

    fn error(&self, position: Option<(u64, u64)>, message: String) -> ReadError {
        ReadError {
            file: self.file_name.to_owned(),
            line: position.map(|(line, _)| line),
            column: position.map(|(_, column)| column),
            message,
        }
    }

    /// Reads events one per line, skipping blank lines.
    ///
    /// Lines are taken from the input's buffer without copying, except a line that spans two
    /// fills of the buffer. With [`ReadOptions::only_containing`], the texts are searched for
    /// once per buffer, and only the lines that contain an occurrence are parsed.
    fn read_lines<B: BufRead, E>(
        mut self,
        input: B,
        on_event: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<u64, ReadFailure<E>> {
        let read = self.read_lines_until_error(input, on_event);
        // Also on failure, so that a caller keeping the readable part can count its events.
        self.report_count();
        read
    }

    fn read_lines_until_error<B: BufRead, E>(
        &mut self,
        mut input: B,
        on_event: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<u64, ReadFailure<E>> {
        let needles = self.options.only_containing.clone();
        // A line that the buffer's end cut off, completed from the next fill.
        let mut pending = Vec::new();
        let mut occurrences = Vec::new();
        let mut line_number = 0;
        let mut offset = 0u64;
        loop {
            let block = input
                .fill_buf()
                .map_err(|error| io_error(self.file_name, &error, self.gzip, offset))?;
            let length = block.len();
            if length == 0 {
                if !pending.is_empty() {
                    line_number += 1;
                    let parse = !self.passes_over(&pending);
                    self.read_line(&pending, line_number, parse, on_event)?;
                }
                return Ok(self.events);
            }
            let Some(last_break) = memchr::memrchr(b'\n', block) else {
                pending.extend_from_slice(block);
                input.consume(length);
                offset += length as u64;
                continue;
            };
            let mut lines = &block[..=last_break];
            if !pending.is_empty() {
                let end = memchr::memchr(b'\n', lines).unwrap_or(last_break);
                pending.extend_from_slice(&lines[..=end]);
                line_number += 1;
                let parse = !self.passes_over(&pending);
                self.read_line(&pending, line_number, parse, on_event)?;
                pending.clear();
                lines = &lines[end + 1..];
            }

            occurrences.clear();
            if let Some(needles) = &needles {
                needles.positions_in(lines, &mut occurrences);
            }
            let mut next_occurrence = 0;
            let mut line_start = 0;
            for line_end in memchr::memchr_iter(b'\n', lines) {
                line_number += 1;
                let parse = match &needles {
                    None => true,
                    Some(_) => {
                        while occurrences
                            .get(next_occurrence)
                            .is_some_and(|&at| at < line_start)
                        {
                            next_occurrence += 1;
                        }
                        occurrences
                            .get(next_occurrence)
                            .is_some_and(|&at| at < line_end)
                    }
                };
                self.read_line(&lines[line_start..=line_end], line_number, parse, on_event)?;
                line_start = line_end + 1;
            }
            self.report_count();

            pending.extend_from_slice(&block[last_break + 1..]);
            input.consume(length);
            offset += length as u64;
        }
    }

    /// Reads one line, with its line break if any. A blank line is skipped. Unless `parse` is
    /// set, a line that [`looks_like_object`] is counted without being parsed. Any other line is
    /// parsed, so that its error is reported as usual.
    fn read_line<E>(
        &mut self,
        line: &[u8],
        line_number: u64,
        parse: bool,
        on_event: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<(), ReadFailure<E>> {
        let leading = line.iter().take_while(|&&b| is_json_whitespace(b)).count();
        if leading == line.len() {
            return Ok(());
        }
        let trailing = line[leading..]
            .iter()
            .rev()
            .take_while(|&&b| is_json_whitespace(b))
            .count();
        let content = &line[leading..line.len() - trailing];
        if !parse && looks_like_object(content) {
            self.events += 1;
            return Ok(());
        }

        // Column before the first byte of the event text.
        let column_base = leading as u64
            + if line_number == 1 {
                self.start.column
            } else {
                0
            };
        let event = match self.parse_line(content, line_number, column_base) {
            Ok(event) => event,
            Err(error) if self.skip(&error) => return Ok(()),
            Err(error) => return Err(error.into()),
        };

        self.events += 1;
        on_event(event).map_err(ReadFailure::Callback)
    }

    /// Parses the event text of one line; `column_base` is the column before its first byte.
    fn parse_line(&self, content: &[u8], line_number: u64, column_base: u64) -> Result<Event, ReadError> {
        let event_start = Some((line_number, column_base + 1));
        let text = std::str::from_utf8(content).map_err(|error| {
            let column = column_base + error.valid_up_to() as u64 + 1;
            self.error(
                Some((line_number, column)),
                "invalid UTF-8, expected UTF-8 JSON text".to_owned(),
            )
        })?;

        parse_event(text.to_owned()).map_err(|error| match error {
            EventError::Syntax(error) => {
                let column = column_base + error.column() as u64;
                let message = if error.is_eof() {
                    format!(
                        "incomplete JSON, the line ends early: {}",
                        message_without_position(&error)
                    )
                } else {
                    format!("invalid JSON: {}", message_without_position(&error))
                };
                self.error(Some((line_number, column)), message)
            }
            EventError::NotObject(found) => self.error(
                event_start,
                format!("expected one JSON event object per line, found {found}"),
            ),
            EventError::Field(message) => self.error(event_start, message),
        })
    }

    /// Reads the top-level JSON values of a file in the [`Form::Records`], [`Form::Array`] or
    /// [`Form::Objects`] form, one event at a time.
    fn read_values<B: BufRead, E>(
        self,
        form: Form,
        input: B,
        on_event: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<u64, ReadFailure<E>> {
        let tracking = Tracking {
            position: Cell::new(self.start),
            mark_pending: Cell::new(false),
            element_start: Cell::new(self.start),
        };
        let mut input = TrackedReader {
            inner: input,
            tracking: &tracking,
        };
        let mut records = RecordsState {
            reader: self,
            tracking: &tracking,
            on_event,
            stop: None,
        };
        let (opener, expected) = match form {
            Form::Array => (b'[', "another JSON array of events"),
            Form::Objects => (b'{', "another event object"),
            _ => (b'{', "another {\"Records\":[...]} object"),
        };

        loop {
            let next = input.peek_after_whitespace().map_err(|error| {
                let offset = tracking.position.get().offset;
                io_error(
                    records.reader.file_name,
                    &error,
                    records.reader.gzip,
                    offset,
                )
            })?;
            let value_start = tracking.position.get();
            let position = (value_start.line, value_start.column + 1);
            match next {
                None => {
                    records.reader.report_count();
                    return Ok(records.reader.events);
                }
                Some(byte) if byte == opener => {}
                Some(byte) => {
                    let message = format!(
                        "expected {expected} or the end of the file, found {}",
                        describe_byte(byte)
                    );
                    records.reader.report_count();
                    return Err(records.reader.error(Some(position), message).into());
                }
            }

            // A fresh deserializer for each value, because serde_json's `end` would reject the
            // next value as trailing characters. It stops right after the value's last byte.
            let mut deserializer = serde_json::Deserializer::from_reader(&mut input);
            let result = match form {
                Form::Array => de::Deserializer::deserialize_seq(
                    &mut deserializer,
                    RecordsArraySeed {
                        records: &mut records,
                    },
                )
                .map(|()| true),
                Form::Objects => {
                    tracking.mark_pending.set(true);
                    Box::<RawValue>::deserialize(&mut deserializer)
                        .and_then(|raw| records.handle_element::<serde_json::Error>(raw))
                        .map(|()| true)
                }
                _ => de::Deserializer::deserialize_map(
                    &mut deserializer,
                    RecordsObjectVisitor {
                        records: &mut records,
                    },
                ),
            };
            match result {
                Ok(true) => {}
                Ok(false) => {
                    let message = "object has no Records, Events or traces array".to_owned();
                    records.reader.report_count();
                    return Err(records.reader.error(Some(position), message).into());
                }
                Err(error) => return Err(records.failure(error, value_start)),
            }
        }
    }
}

/// Cause of the placeholder serde error that stopped the Records visitor.
enum Stop<E> {
    Callback(E),
    Event(ReadError),
}

struct RecordsState<'a, 't, F, E> {
    reader: Reader<'a>,
    tracking: &'t Tracking,
    on_event: &'a mut F,
    stop: Option<Stop<E>>,
}

impl<F, E> RecordsState<'_, '_, F, E>
where
    F: FnMut(Event) -> Result<(), E>,
{
    /// Parses one Records element and passes it to the callback. On failure it stores the
    /// reason in `self.stop` and returns a placeholder error that makes serde_json unwind.
    fn handle_element<SerdeError: de::Error>(
        &mut self,
        raw: Box<RawValue>,
    ) -> Result<(), SerdeError> {
        let start = self.tracking.element_start.get();
        let position = Some((start.line, start.column + 1));
        let number = self.reader.events + self.reader.skipped + 1;
        let raw: Box<str> = raw.into();
        if raw.starts_with('{') && self.reader.passes_over(raw.as_bytes()) {
            self.reader.events += 1;
            if self.reader.events % 1024 == 0 {
                self.reader.report_count();
            }
            return Ok(());
        }

        let event = match parse_event(raw.into_string()) {
            Ok(event) => event,
            Err(error) => {
                let message = match error {
                    EventError::NotObject(found) => {
                        format!("event {number} is {found}, expected a JSON object")
                    }
                    EventError::Field(message) => format!("event {number}: {message}"),
                    EventError::Syntax(error) => {
                        format!("event {number}: {}", message_without_position(&error))
                    }
                };
                let error = self.reader.error(position, message);
                if self.reader.skip(&error) {
                    return Ok(());
                }
                self.stop = Some(Stop::Event(error));
                return Err(SerdeError::custom("invalid event"));
            }
        };

        self.reader.events += 1;
        if self.reader.events % 1024 == 0 {
            self.reader.report_count();
        }
        if let Err(error) = (self.on_event)(event) {
            self.stop = Some(Stop::Callback(error));
            return Err(SerdeError::custom("stopped by the callback"));
        }
        Ok(())
    }

    /// Converts the error that ended a Records object into the failure to return.
    /// `object_start` is the position just before the object's `{`.
    fn failure(&mut self, error: serde_json::Error, object_start: Position) -> ReadFailure<E> {
        self.reader.report_count();
        match self.stop.take() {
            Some(Stop::Callback(error)) => return ReadFailure::Callback(error),
            Some(Stop::Event(error)) => return ReadFailure::Read(error),
            None => {}
        }
        let reader = &self.reader;
        if error.is_io() {
            let offset = self.tracking.position.get().offset;
            let error = io::Error::from(error);
            return io_error(reader.file_name, &error, reader.gzip, offset).into();
        }

        let position = object_start.plus_relative(error.line() as u64, error.column() as u64);
        let detail = message_without_position(&error);
        let message = if error.is_eof() {
            format!("file is truncated: {detail}")
        } else {
            detail
        };
        reader.error(Some(position), message).into()
    }
}

/// Visits one top-level object and streams its `Records` array. Returns whether the object had
/// a `Records` key. Other keys are skipped.
struct RecordsObjectVisitor<'r, 'a, 't, F, E> {
    records: &'r mut RecordsState<'a, 't, F, E>,
}

impl<'de, F, E> Visitor<'de> for RecordsObjectVisitor<'_, '_, '_, F, E>
where
    F: FnMut(Event) -> Result<(), E>,
{
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a {\"Records\":[...]} object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut has_records = false;
        while let Some(key) = map.next_key::<String>()? {
            if EVENT_ARRAY_KEYS.contains(&key.as_str()) {
                has_records = true;
                map.next_value_seed(RecordsArraySeed {
                    records: &mut *self.records,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(has_records)
    }
}

struct RecordsArraySeed<'r, 'a, 't, F, E> {
    records: &'r mut RecordsState<'a, 't, F, E>,
}

impl<'de, F, E> DeserializeSeed<'de> for RecordsArraySeed<'_, '_, '_, F, E>
where
    F: FnMut(Event) -> Result<(), E>,
{
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F, E> Visitor<'de> for RecordsArraySeed<'_, '_, '_, F, E>
where
    F: FnMut(Event) -> Result<(), E>,
{
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("the Records array of CloudTrail events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            // serde_json has consumed the `[` or the previous element's last byte, so the
            // next byte that is not whitespace or `,` starts the element.
            self.records.tracking.mark_pending.set(true);
            match seq.next_element::<Box<RawValue>>()? {
                Some(raw) => self.records.handle_element(raw)?,
                None => return Ok(()),
            }
        }
    }
}

fn io_error(file_name: &str, error: &io::Error, gzip: bool, offset: u64) -> ReadError {
    let too_large = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<DecompressedTooLarge>());
    let message = if let Some(too_large) = too_large {
        too_large.to_string()
    } else if gzip {
        format!("failed to decompress gzip data after {offset} bytes of output: {error}")
    } else {
        format!("failed to read the file at byte {offset}: {error}")
    };
    ReadError {
        file: file_name.to_owned(),
        line: None,
        column: None,
        message,
    }
}

/// Returns whether a line, without surrounding whitespace, has the shape of a JSON object with at
/// least one key: `{`, then `"` after optional whitespace, and `}` at the end. This is all that
/// is checked of a line that [`ReadOptions::only_containing`] passes over.
fn looks_like_object(content: &[u8]) -> bool {
    let Some((b'{', inner)) = content.split_first() else {
        return false;
    };
    let key_start = inner.iter().find(|&&b| !is_json_whitespace(b));
    key_start == Some(&b'"') && content.last() == Some(&b'}')
}

fn describe_byte(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("'{}'", byte as char)
    } else {
        format!("byte 0x{byte:02x}")
    }
}

#[cfg(test)]
mod tests;
