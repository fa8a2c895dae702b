//! Trail import: reads CloudTrail and CTS files (plain, gzip or zip), keeps the events of a case's credentials at or after
//! its compromise time, and turns the sensitive ones into eradication findings.
//!
//! Files are read once, on blocking threads: each byte is hashed and copied to the evidence
//! store's staging area on its way to the reader. Only the events whose text contains one of the
//! case's key ids or principal names are parsed (see [`rekey_trail::Needles`]). The events
//! to keep are spooled to a temporary file. Only then does one database transaction store
//! them, with an evidence item for each file, so memory stays flat however large the files are,
//! and the write lock is held only while storing, not while reading. An import with a file that
//! cannot be read keeps nothing, and the failure itself is recorded.
//!
//! Events of other credentials are not stored. When a credential is confirmed later, its calls
//! are read again from the import's files in the evidence store (see [`crate::derived`]).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rekey_trail::{
    affected_resources, is_zip, read_events_with, read_zip_with, CaseCredential, CredentialMatcher, Event, OwnedRule,
    ReadFailure, ReadOptions, RuleSet,
};
use rekey_types::FindingSeverity;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;
use tokio::sync::mpsc;

use crate::api::cases::CaseRef;
use crate::audit::{self, Actor};
use crate::db::{from_millis, now_millis, to_millis, Db, Tx};
use crate::error::{Error, Result};
use crate::mail::{self, CaseEvent, NewFinding};
use crate::config::Settings;
use crate::api::evidence::{display_name, record_evidence, NewEvidence, StoredContent};
use crate::derived::propose_derived;
use crate::evidence::{EvidenceStore, StagedFile, StagingCopy};
use crate::rules::load_rule_set;

/// A file to import: the name shown to people and where its bytes are.
#[derive(Debug, Clone)]
pub struct TrailFile {
    pub name: String,
    pub path: PathBuf,
}

/// Counts of a finished import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub import_id: i64,
    pub events_read: i64,
    pub events_matched: i64,
    pub events_new: i64,
    pub findings_new: i64,
    /// Credentials that matched calls created, proposed on the case.
    pub credentials_proposed: i64,
}

/// Counters of a running import, updated by the thread that reads the files.
#[derive(Debug, Default)]
pub struct ImportProgress {
    /// Bytes read from the files so far, as stored (compressed when they are).
    pub bytes_read: AtomicU64,
    /// Total size of the files, set before reading starts.
    pub bytes_total: AtomicU64,
    /// Events read so far, parsed or passed over; shared with the trail reader.
    pub events_read: Arc<AtomicU64>,
    /// Set once every file is read and the kept events are being stored.
    pub storing: std::sync::atomic::AtomicBool,
}

/// Imports running on this instance, by case, so that the case page can show their progress
/// while the upload request is still open or after the analyst left the page.
#[derive(Debug, Default)]
pub struct RunningImports {
    next_id: AtomicU64,
    entries: std::sync::Mutex<std::collections::HashMap<u64, RunningEntry>>,
}

#[derive(Debug)]
struct RunningEntry {
    case_id: i64,
    started_at: i64,
    started_by: String,
    files: Vec<String>,
    progress: Arc<ImportProgress>,
}

/// Removes its import from the registry when dropped, however the import ends.
pub struct RunningGuard {
    registry: Arc<RunningImports>,
    id: u64,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if let Ok(mut entries) = self.registry.entries.lock() {
            entries.remove(&self.id);
        }
    }
}

impl RunningImports {
    /// Registers an import of `files` into case `case_id` and returns its progress counters.
    pub fn start(
        registry: &Arc<RunningImports>,
        case_id: i64,
        started_by: &str,
        files: &[TrailFile],
    ) -> (Arc<ImportProgress>, RunningGuard) {
        let id = registry.next_id.fetch_add(1, Ordering::Relaxed);
        let progress = Arc::new(ImportProgress::default());
        let entry = RunningEntry {
            case_id,
            started_at: now_millis(),
            started_by: started_by.to_string(),
            files: files.iter().map(|file| file.name.clone()).collect(),
            progress: progress.clone(),
        };
        if let Ok(mut entries) = registry.entries.lock() {
            entries.insert(id, entry);
        }
        (progress, RunningGuard { registry: registry.clone(), id })
    }

    /// Imports of case `case_id` running now, oldest first.
    pub fn of_case(&self, case_id: i64) -> Vec<rekey_types::RunningImport> {
        let Ok(entries) = self.entries.lock() else {
            return Vec::new();
        };
        let mut running: Vec<(u64, rekey_types::RunningImport)> = entries
            .iter()
            .filter(|(_, entry)| entry.case_id == case_id)
            .map(|(id, entry)| {
                let progress = &entry.progress;
                (
                    *id,
                    rekey_types::RunningImport {
                        started_at: from_millis(entry.started_at),
                        started_by: entry.started_by.clone(),
                        files: entry.files.clone(),
                        bytes_read: progress.bytes_read.load(Ordering::Relaxed),
                        bytes_total: progress.bytes_total.load(Ordering::Relaxed),
                        events_read: progress.events_read.load(Ordering::Relaxed),
                        storing: progress.storing.load(Ordering::Relaxed),
                    },
                )
            })
            .collect();
        running.sort_by_key(|(id, _)| *id);
        running.into_iter().map(|(_, import)| import).collect()
    }
}

/// User running the import, recorded with it and named in the notification.
pub struct Importer {
    pub user_id: i64,
    pub display_name: String,
    pub actor: Actor,
}

impl Importer {
    /// Returns the importer for the signed-in user behind an API request.
    pub fn from_user(user: &crate::auth::User) -> Importer {
        Importer {
            user_id: user.account.id,
            display_name: user.account.display_name.clone(),
            actor: Actor::user(user),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FileRecord {
    name: String,
    size: i64,
    sha256: String,
}

/// An event of a case credential, on its way from the reader to the database.
#[derive(serde::Serialize, serde::Deserialize)]
struct Matched {
    credential_id: i64,
    event: Event,
}

/// A file that was read in full, and its copy in the staging area.
struct ReadFile {
    name: String,
    staged: StagedFile,
}

/// Size of the blocks in which a trail file goes from the copying thread to the reading one.
const BLOCK: usize = 1024 * 1024;

/// Blocks in flight between the copying thread and the reading one.
const BLOCKS_IN_FLIGHT: usize = 4;

/// The reading side of a file that another thread copies to the staging area: hands out the
/// blocks that thread read, hashing each as it arrives, and sends emptied blocks back for reuse.
struct CopiedBlocks {
    receiver: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    emptied: std::sync::mpsc::SyncSender<Vec<u8>>,
    block: Vec<u8>,
    position: usize,
    hasher: Sha256,
    size: u64,
}

impl Read for CopiedBlocks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

impl BufRead for CopiedBlocks {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.position == self.block.len() {
            let emptied = std::mem::take(&mut self.block);
            if emptied.capacity() > 0 {
                // The copying thread allocates a new block when none comes back.
                let _ = self.emptied.try_send(emptied);
            }
            self.position = 0;
            // A closed channel means that the copying thread has sent the whole file.
            if let Ok(block) = self.receiver.recv() {
                let block = block?;
                self.hasher.update(&block);
                self.size += block.len() as u64;
                self.block = block;
            }
        }
        Ok(&self.block[self.position..])
    }

    fn consume(&mut self, amount: usize) {
        self.position = (self.position + amount).min(self.block.len());
    }
}

/// Copies `path` to a staging file in `staging_dir` in blocks of [`BLOCK`] bytes, sending each
/// block to the reading thread after writing it, and counting the bytes in `progress`. Stops
/// when the reading thread is gone.
fn copy_blocks(
    path: &std::path::Path,
    staging_dir: &std::path::Path,
    progress: &ImportProgress,
    sender: std::sync::mpsc::SyncSender<std::io::Result<Vec<u8>>>,
    emptied: std::sync::mpsc::Receiver<Vec<u8>>,
) -> std::io::Result<StagingCopy> {
    let mut input = std::fs::File::open(path)?;
    let mut copy = StagingCopy::new(staging_dir)?;
    loop {
        let mut block = emptied.try_recv().unwrap_or_else(|_| vec![0; BLOCK]);
        block.resize(BLOCK, 0);
        let mut filled = 0;
        while filled < BLOCK {
            match input.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(count) => filled += count,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = sender.send(Err(std::io::Error::new(e.kind(), e.to_string())));
                    return Err(e);
                }
            }
        }
        if filled == 0 {
            return Ok(copy);
        }
        block.truncate(filled);
        copy.write(&block)?;
        progress.bytes_read.fetch_add(filled as u64, Ordering::Relaxed);
        if sender.send(Ok(block)).is_err() {
            return Err(std::io::Error::other("the reading thread stopped"));
        }
    }
}

/// Loads the matcher of a case; 422 when the case lacks what matching needs.
async fn load_matcher(db: &Db, case: CaseRef) -> Result<CredentialMatcher> {
    let compromise_time: Option<i64> = sqlx::query("SELECT compromise_time FROM cases WHERE id = $1")
        .bind(case.id)
        .fetch_one(&db.pool)
        .await?
        .try_get("compromise_time")?;
    let Some(compromise_time) = compromise_time else {
        return Err(Error::invalid(
            "compromise_time",
            "the case has no compromise time; set it before importing, because only calls made \
             at or after it are kept",
        ));
    };
    // A proposed credential matches nothing until someone confirms it.
    let rows = sqlx::query("SELECT id, access_key_id, principal_name FROM credentials WHERE case_id = $1 AND proposed = 0")
        .bind(case.id)
        .fetch_all(&db.pool)
        .await?;
    if rows.is_empty() {
        return Err(Error::invalid(
            "credentials",
            "the case has no leaked credential; add one before importing, because only its calls are kept",
        ));
    }
    let credentials = rows
        .iter()
        .map(|row| {
            Ok(CaseCredential {
                id: row.try_get("id")?,
                access_key_id: row.try_get("access_key_id")?,
                principal_name: row.try_get("principal_name")?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    Ok(CredentialMatcher::new(&credentials, from_millis(compromise_time)))
}

/// Imports `files` into `case`, counting what it reads in `progress`, and keeps each file as
/// an evidence item of the import. On a read error nothing is kept, a failed import is recorded
/// with the files' names, sizes and hashes, and the error names the file and position. With
/// `keep_readable`, the readable events are imported instead and the import records what was
/// skipped.
#[allow(clippy::too_many_arguments)]
pub async fn import_files(
    db: &Db,
    settings: &Settings,
    store: &EvidenceStore,
    case: CaseRef,
    importer: &Importer,
    files: Vec<TrailFile>,
    progress: Arc<ImportProgress>,
    keep_readable: bool,
) -> Result<ImportOutcome> {
    if files.is_empty() {
        return Err(Error::invalid("files", "no file given; choose one or more CloudTrail files"));
    }
    let matcher = load_matcher(db, case).await?;
    let rules = load_rule_set(db).await?;

    // The files are read in full before the transaction opens, with the events to store
    // spooled to a temporary file. So reading a large upload never holds the database's
    // write lock, which on SQLite would make every other change wait.
    let total: u64 = files
        .iter()
        .filter_map(|file| std::fs::metadata(&file.path).ok())
        .map(|metadata| metadata.len())
        .sum();
    progress.bytes_total.store(total, Ordering::Relaxed);
    let options = ReadOptions {
        only_containing: matcher.needles().map(Arc::new),
        events_read: Some(progress.events_read.clone()),
        skipped_events: keep_readable.then(Default::default),
        ..settings.trail_read_options()
    };
    let staging_dir = store.staging_dir(settings);
    let failed_files = files.clone();
    let (sender, receiver) = mpsc::channel::<Matched>(1024);
    let storing = progress.clone();
    let reader = tokio::task::spawn_blocking(move || {
        read_all(files, &matcher, options, keep_readable, &staging_dir, &progress, &sender)
    });
    let spooler = tokio::task::spawn_blocking(move || spool_events(receiver));
    let read = reader.await.map_err(anyhow::Error::from)?;
    let spool = spooler
        .await
        .map_err(anyhow::Error::from)?
        .map_err(|e| anyhow::anyhow!("cannot write the import spool file: {e}"))?;
    let (events_read, skipped, read_files) = match read {
        Ok(read) => read,
        Err(message) => {
            let message = format!(
                "{message}. Nothing was imported from {}. To import the rest, choose \"Import the readable \
                 part\" (on_error=keep_readable, or --keep-readable on the command line).",
                list_names(&failed_files)
            );
            let records = tokio::task::spawn_blocking(move || describe_files(&failed_files))
                .await
                .map_err(anyhow::Error::from)?;
            record_failed_import(db, case, importer, &message, &records).await?;
            tracing::warn!(case = case.number, error = %message, "trail import failed");
            return Err(Error::invalid("files", message));
        }
    };

    // The files go into the evidence store before their rows are written, so that a failure
    // leaves at most content that no row refers to, never a row without content.
    storing.storing.store(true, Ordering::Relaxed);
    let mut file_records = Vec::with_capacity(read_files.len());
    let mut contents = Vec::with_capacity(read_files.len());
    for file in read_files {
        let name = display_name(&file.name);
        let content = StoredContent::of(&file.staged, &name)?;
        file_records.push(FileRecord {
            name: file.name,
            size: content.size,
            sha256: content.sha256.clone(),
        });
        store.keep(file.staged).await?;
        contents.push((name, content));
    }

    let (sender, receiver) = mpsc::channel::<Matched>(1024);
    let replayer = tokio::task::spawn_blocking(move || replay_spool(spool, &sender));
    let mut tx = db.begin().await?;
    let stored = store_events(&mut tx, case, importer, &rules, receiver).await;
    replayer
        .await
        .map_err(anyhow::Error::from)?
        .map_err(|e| anyhow::anyhow!("cannot read the import spool file: {e}"))?;
    let (mut outcome, findings) = stored?;
    outcome.events_read = events_read;

    finish_import(&mut tx, &outcome, &file_records).await?;
    for (original_name, content) in contents {
        let facts = NewEvidence {
            original_name,
            description: format!("Trail file of import {}", outcome.import_id),
            source: "trail import".to_string(),
            import_id: Some(outcome.import_id),
        };
        record_evidence(&mut tx, &importer.actor, case.id, &content, facts).await?;
    }
    if !skipped.is_empty() {
        let note = format!("Kept the readable part; skipped: {}", skipped.join("; "));
        sqlx::query("UPDATE trail_imports SET error = $1 WHERE id = $2")
            .bind(&note)
            .bind(outcome.import_id)
            .execute(&mut *tx)
            .await?;
        tracing::warn!(case = case.number, import = outcome.import_id, %note, "trail import skipped unreadable parts");
    }
    notify_findings(&mut tx, settings, case, importer, findings).await?;
    let event = audit::Event::new("trail_imported", "trail_import")
        .entity(outcome.import_id)
        .case(case.id)
        .details(json!({
            "files": file_records.iter().map(|f| json!({"name": f.name, "size": f.size, "sha256": f.sha256})).collect::<Vec<_>>(),
            "events_read": outcome.events_read,
            "events_new": outcome.events_new,
            "findings_new": outcome.findings_new,
            "credentials_proposed": outcome.credentials_proposed,
        }));
    audit::append(&mut tx, &importer.actor, event).await?;
    tx.commit().await?;
    tracing::info!(
        case = case.number,
        import = outcome.import_id,
        events_read = outcome.events_read,
        events_new = outcome.events_new,
        findings_new = outcome.findings_new,
        credentials_proposed = outcome.credentials_proposed,
        "trail import completed"
    );
    Ok(outcome)
}

/// Writes every matched event to a temporary file, one JSON document a line, and returns the
/// file positioned at its start.
fn spool_events(mut receiver: mpsc::Receiver<Matched>) -> std::io::Result<std::fs::File> {
    use std::io::{Seek, Write};
    let mut writer = std::io::BufWriter::new(tempfile::tempfile()?);
    while let Some(matched) = receiver.blocking_recv() {
        serde_json::to_writer(&mut writer, &matched)?;
        writer.write_all(b"\n")?;
    }
    let mut file = writer.into_inner().map_err(|e| e.into_error())?;
    file.rewind()?;
    Ok(file)
}

/// Sends the spooled events again, in order. Stops early when the receiver is gone, which
/// happens only when storing failed; that error is reported instead.
fn replay_spool(spool: std::fs::File, sender: &mpsc::Sender<Matched>) -> std::io::Result<()> {
    for line in BufReader::new(spool).lines() {
        let matched: Matched = serde_json::from_str(&line?)?;
        if sender.blocking_send(matched).is_err() {
            break;
        }
    }
    Ok(())
}

/// Events read, what `keep_readable` skipped, and the files read.
type ReadAll = (i64, Vec<String>, Vec<ReadFile>);

/// Reads every file, sending the events that the matcher accepts and copying each file to a
/// staging file in `staging_dir`. Returns the number of events read or a message naming the
/// file and position that could not be read. With `keep_readable`, damaged events are skipped,
/// a file whose damage ends it keeps the events before, and the messages are returned instead.
/// A zip archive is read entry by entry, and its staged copy is the archive itself.
fn read_all(
    files: Vec<TrailFile>,
    matcher: &CredentialMatcher,
    options: ReadOptions,
    keep_readable: bool,
    staging_dir: &std::path::Path,
    progress: &ImportProgress,
    sender: &mpsc::Sender<Matched>,
) -> Result<ReadAll, String> {
    let mut skipped = Vec::new();
    let mut read_files = Vec::with_capacity(files.len());
    let mut events_read = 0u64;
    let mut on_event = |event: Event| match matcher.credential_for(&event) {
        Some(credential_id) => sender.blocking_send(Matched { credential_id, event }),
        None => Ok(()),
    };
    for file in files {
        let before = std::fs::metadata(&file.path).map_err(|e| format!("{}: cannot open: {e}", file.name))?;
        let io_failure = |error: std::io::Error| {
            ReadFailure::Read(rekey_trail::ReadError {
                file: file.name.clone(),
                line: None,
                column: None,
                message: format!("cannot read the file: {error}"),
            })
        };
        // One thread copies the file to the staging area while this one hashes and reads it.
        let (sender, receiver) = std::sync::mpsc::sync_channel(BLOCKS_IN_FLIGHT);
        let (emptied_sender, emptied) = std::sync::mpsc::sync_channel(BLOCKS_IN_FLIGHT + 2);
        let mut blocks = CopiedBlocks {
            receiver,
            emptied: emptied_sender,
            block: Vec::new(),
            position: 0,
            hasher: Sha256::new(),
            size: 0,
        };
        let counted_before = progress.events_read.load(Ordering::Relaxed);
        let (zip, read, hashed, copied) = std::thread::scope(|scope| {
            let copier = scope.spawn(|| copy_blocks(&file.path, staging_dir, progress, sender, emptied));
            let head = blocks.fill_buf().map_err(io_failure);
            let zip = head.as_ref().is_ok_and(|head| is_zip(head));
            // A zip archive's entries are read by seeking, from the staged copy once it is whole.
            let read = match head {
                Err(failure) => Err(failure),
                Ok(_) if zip => Ok(0),
                Ok(_) => read_events_with(&file.name, &mut blocks, options.clone(), &mut on_event)
                    .map(|summary| summary.events),
            };
            // Hash the bytes after the last event too, such as trailing whitespace, and those
            // after an error that keep_readable passes over.
            let drain = match &read {
                Ok(_) => true,
                Err(ReadFailure::Read(_)) => keep_readable,
                Err(ReadFailure::Callback(_)) => false,
            };
            let read = match (drain, read) {
                (true, read) => match std::io::copy(&mut blocks, &mut std::io::sink()) {
                    Ok(_) => read,
                    Err(error) => Err(io_failure(error)),
                },
                (false, read) => read,
            };
            let hashed = (hex::encode(blocks.hasher.clone().finalize()), blocks.size);
            // Closing the channels ends the copying thread when reading stopped early.
            drop(blocks);
            (zip, read, hashed, copier.join())
        });
        skipped.extend(take_skipped(&options)?);
        let events = match read {
            Ok(events) => events,
            // The events before the error are already sent and counted; the rest of the file
            // is left out.
            Err(ReadFailure::Read(error)) if keep_readable => {
                skipped.push(error.to_string());
                progress.events_read.load(Ordering::Relaxed) - counted_before
            }
            Err(ReadFailure::Read(error)) => return Err(error.to_string()),
            // The receiver is gone only when storing failed; that error is reported instead.
            Err(ReadFailure::Callback(_)) => break,
        };
        let copy = copied
            .map_err(|_| format!("{}: the thread copying the file failed", file.name))?
            .map_err(|e| format!("{}: cannot copy the file: {e}", file.name))?;
        let (sha256, size) = hashed;
        let after = std::fs::metadata(&file.path).map_err(|e| format!("{}: cannot open: {e}", file.name))?;
        let unchanged = copy.size() == size
            && size == before.len()
            && after.len() == before.len()
            && after.modified().ok() == before.modified().ok();
        if !unchanged {
            return Err(format!(
                "{}: the file changed while it was read; import it again once nothing writes to it",
                file.name
            ));
        }
        let staged = copy
            .finish(sha256)
            .map_err(|e| format!("{}: cannot write the staging file: {e}", file.name))?;
        events_read += if zip {
            let archive = std::fs::File::open(staged.path()).map_err(|e| format!("{}: cannot open: {e}", file.name))?;
            let read = read_zip_with(&file.name, BufReader::new(archive), options.clone(), &mut on_event);
            skipped.extend(take_skipped(&options)?);
            match read {
                Ok(summaries) => summaries.iter().map(|(_, summary)| summary.events).sum(),
                Err(ReadFailure::Read(error)) if keep_readable => {
                    skipped.push(error.to_string());
                    progress.events_read.load(Ordering::Relaxed) - counted_before
                }
                Err(ReadFailure::Read(error)) => return Err(error.to_string()),
                Err(ReadFailure::Callback(_)) => break,
            }
        } else {
            events
        };
        read_files.push(ReadFile {
            name: file.name,
            staged,
        });
    }
    let events_read = i64::try_from(events_read).unwrap_or(i64::MAX);
    Ok((events_read, skipped, read_files))
}

/// Takes the damaged events that the reader recorded in `options` and describes them.
fn take_skipped(options: &ReadOptions) -> Result<Vec<String>, String> {
    let Some(damaged) = &options.skipped_events else {
        return Ok(Vec::new());
    };
    let mut damaged = damaged.lock().map_err(|_| "the list of skipped events is unusable".to_string())?;
    Ok(describe_skipped(&std::mem::take(&mut *damaged)))
}

/// Result of reading a kept trail file again: the events that the matcher accepts, in file
/// order, and the damaged parts that were skipped.
pub(crate) struct KeptFileCalls {
    pub events: Vec<Event>,
    pub skipped: Vec<String>,
}

/// Reads a trail file that an import kept, checking that its SHA-256 is still `sha256`, and
/// returns the events that `matcher` accepts. Damaged events are skipped and listed, as an
/// import that keeps the readable part does, so a broken line of the credential does not hide
/// its later calls.
pub(crate) fn read_kept_file(
    path: &std::path::Path,
    name: &str,
    sha256: &str,
    matcher: &CredentialMatcher,
    options: ReadOptions,
) -> Result<KeptFileCalls, String> {
    let options = ReadOptions {
        skipped_events: Some(Arc::default()),
        ..options
    };
    let mut events = Vec::new();
    let on_event = |event: Event| {
        if matcher.credential_for(&event).is_some() {
            events.push(event);
        }
        Ok::<(), std::convert::Infallible>(())
    };
    let opened = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let mut input = HashingReader {
        inner: BufReader::with_capacity(256 * 1024, opened),
        hasher: Sha256::new(),
    };
    let head = input.inner.fill_buf().map_err(|e| e.to_string())?;
    let read = if is_zip(head) {
        let archive = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
        read_zip_with(name, BufReader::new(archive), options.clone(), on_event).map(drop)
    } else {
        read_events_with(name, &mut input, options.clone(), on_event).map(drop)
    };
    std::io::copy(&mut input, &mut std::io::sink()).map_err(|e| e.to_string())?;
    if hex::encode(input.hasher.finalize()) != sha256 {
        return Err("its content no longer matches its SHA-256".to_string());
    }
    let mut skipped = take_skipped(&options)?;
    // An error that ends the file keeps the events before it, as the import did.
    if let Err(ReadFailure::Read(error)) = read {
        skipped.push(error.to_string());
    }
    Ok(KeptFileCalls { events, skipped })
}

/// Most skipped events that an import or a confirmation lists one by one.
const SKIPPED_LISTED: usize = 20;

/// Describes skipped events for the import's note: the first [`SKIPPED_LISTED`], then how many
/// more.
fn describe_skipped(damaged: &[rekey_trail::ReadError]) -> Vec<String> {
    let mut described: Vec<String> = damaged.iter().take(SKIPPED_LISTED).map(ToString::to_string).collect();
    if damaged.len() > SKIPPED_LISTED {
        described.push(format!("{} more damaged events", damaged.len() - SKIPPED_LISTED));
    }
    described
}

/// Passes the input through while hashing it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.hasher.update(&buf[..count]);
        Ok(count)
    }
}

/// Inserts the import row, then every matched event and finding, as they arrive.
async fn store_events(
    tx: &mut Tx,
    case: CaseRef,
    importer: &Importer,
    rules: &RuleSet,
    mut receiver: mpsc::Receiver<Matched>,
) -> Result<(ImportOutcome, Vec<NewFinding>)> {
    let import_id: i64 = sqlx::query(
        "INSERT INTO trail_imports (case_id, status, created_by, created_at, events_read, events_matched, \
         events_new, findings_new) VALUES ($1, 'completed', $2, $3, 0, 0, 0, 0) RETURNING id",
    )
    .bind(case.id)
    .bind(importer.user_id)
    .bind(now_millis())
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;

    let mut outcome = ImportOutcome {
        import_id,
        ..ImportOutcome::default()
    };
    let mut findings = Vec::new();
    while let Some(Matched { credential_id, event }) = receiver.recv().await {
        outcome.events_matched += 1;
        let Some(event_row) = insert_event(tx, case, import_id, credential_id, &event).await? else {
            continue;
        };
        outcome.events_new += 1;
        outcome.credentials_proposed += propose_derived(tx, case, importer.user_id, credential_id, &event).await?;
        if let Some(rule) = rules.classify_event(&event) {
            findings.push(insert_finding(tx, case, &event, event_row, rule).await?);
            outcome.findings_new += 1;
        }
    }
    Ok((outcome, findings))
}

/// Stores one event; `None` when an earlier import already stored its event id.
pub(crate) async fn insert_event(tx: &mut Tx, case: CaseRef, import_id: i64, credential_id: i64, event: &Event) -> Result<Option<i64>> {
    let row = sqlx::query(
        "INSERT INTO trail_events (case_id, import_id, credential_id, event_id, event_time, event_name, \
         event_source, region, source_ip, user_agent, access_key_id, principal, error_code, resource, raw) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (case_id, event_id) DO NOTHING RETURNING id",
    )
    .bind(case.id)
    .bind(import_id)
    .bind(credential_id)
    .bind(&event.event_id)
    .bind(to_millis(event.event_time))
    .bind(&event.event_name)
    .bind(&event.event_source)
    .bind(&event.region)
    .bind(&event.source_ip)
    .bind(&event.user_agent)
    .bind(&event.access_key_id)
    .bind(event.principal_arn.as_ref().or(event.principal_name.as_ref()))
    .bind(&event.error_code)
    .bind(&event.resource)
    .bind(&event.raw)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match row {
        Some(row) => Some(row.try_get("id")?),
        None => None,
    })
}

/// Stores the finding of an event and the resources the event names, and returns the finding
/// as a findings email lists it.
pub(crate) async fn insert_finding(
    tx: &mut Tx,
    case: CaseRef,
    event: &Event,
    event_row: i64,
    rule: &OwnedRule,
) -> Result<NewFinding> {
    let finding_id: i64 = sqlx::query(
        "INSERT INTO findings (case_id, trail_event_id, rule, category, severity, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(case.id)
    .bind(event_row)
    .bind(&rule.name)
    .bind(rule.category.as_str())
    .bind(&rule.severity)
    .bind(now_millis())
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;
    for resource in affected_resources(event) {
        sqlx::query("INSERT INTO finding_resources (case_id, finding_id, resource) VALUES ($1, $2, $3)")
            .bind(case.id)
            .bind(finding_id)
            .bind(&resource)
            .execute(&mut **tx)
            .await?;
    }
    // Rules are stored with high, medium or low; anything else is reported as high, so that a
    // damaged rule cannot hide findings from stakeholders.
    let severity = FindingSeverity::parse(&rule.severity).unwrap_or(FindingSeverity::High);
    Ok(NewFinding {
        severity,
        event_name: event.event_name.clone(),
        event_time: event.event_time,
        resource: event.resource.clone(),
    })
}

/// Queues the email about new findings to the stakeholders who follow them, inside the
/// caller's transaction. Does nothing when there are none.
pub(crate) async fn notify_findings(
    tx: &mut Tx,
    settings: &Settings,
    case: CaseRef,
    importer: &Importer,
    findings: Vec<NewFinding>,
) -> Result<()> {
    if findings.is_empty() {
        return Ok(());
    }
    let event = CaseEvent::FindingsAdded {
        findings,
        threshold: FindingSeverity::Low,
        by: importer.display_name.clone(),
    };
    mail::enqueue_case_event(tx, settings, case.id, &event).await?;
    Ok(())
}

async fn finish_import(tx: &mut Tx, outcome: &ImportOutcome, files: &[FileRecord]) -> Result<()> {
    sqlx::query(
        "UPDATE trail_imports SET events_read = $1, events_matched = $2, events_new = $3, findings_new = $4 \
         WHERE id = $5",
    )
    .bind(outcome.events_read)
    .bind(outcome.events_matched)
    .bind(outcome.events_new)
    .bind(outcome.findings_new)
    .bind(outcome.import_id)
    .execute(&mut **tx)
    .await?;
    for file in files {
        insert_file_record(tx, outcome.import_id, file).await?;
    }
    Ok(())
}

async fn insert_file_record(tx: &mut Tx, import_id: i64, file: &FileRecord) -> Result<()> {
    sqlx::query("INSERT INTO import_files (import_id, name, size, sha256) VALUES ($1, $2, $3, $4)")
        .bind(import_id)
        .bind(&file.name)
        .bind(file.size)
        .bind(&file.sha256)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Names the files of an import for a message: the first five, then how many more.
fn list_names(files: &[TrailFile]) -> String {
    const SHOWN: usize = 5;
    let names: Vec<&str> = files.iter().take(SHOWN).map(|file| file.name.as_str()).collect();
    match files.len().saturating_sub(SHOWN) {
        0 => names.join(", "),
        more => format!("{} and {more} more", names.join(", ")),
    }
}

/// Records the name, size and SHA-256 of each file. A file that cannot be read gets size 0 and
/// an empty hash, because its failure is already the import's error.
fn describe_files(files: &[TrailFile]) -> Vec<FileRecord> {
    files
        .iter()
        .map(|file| {
            let hashed = std::fs::File::open(&file.path).and_then(|opened| {
                let mut hasher = Sha256::new();
                let size = std::io::copy(&mut BufReader::new(opened), &mut hasher)?;
                Ok((size, hex::encode(hasher.finalize())))
            });
            let (size, sha256) = hashed.unwrap_or((0, String::new()));
            FileRecord {
                name: file.name.clone(),
                size: i64::try_from(size).unwrap_or(i64::MAX),
                sha256,
            }
        })
        .collect()
}

async fn record_failed_import(
    db: &Db,
    case: CaseRef,
    importer: &Importer,
    message: &str,
    files: &[FileRecord],
) -> Result<()> {
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO trail_imports (case_id, status, created_by, created_at, events_read, events_matched, \
         events_new, findings_new, error) VALUES ($1, 'failed', $2, $3, 0, 0, 0, 0, $4) RETURNING id",
    )
    .bind(case.id)
    .bind(importer.user_id)
    .bind(now_millis())
    .bind(message)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    for file in files {
        insert_file_record(&mut tx, id, file).await?;
    }
    let event = audit::Event::new("trail_import_failed", "trail_import")
        .entity(id)
        .case(case.id)
        .details(json!({
            "error": message,
            "files": files.iter().map(|f| json!({"name": f.name, "size": f.size, "sha256": f.sha256})).collect::<Vec<_>>(),
        }));
    audit::append(&mut tx, &importer.actor, event).await?;
    tx.commit().await?;
    Ok(())
}
