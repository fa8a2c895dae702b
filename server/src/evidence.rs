//! Storage of evidence files.
//!
//! A file is written to a staging file while its SHA-256 is computed, then kept in the store
//! under that hash, so the same content is stored once and a stored file's name says what its
//! content must hash to. The store is a directory on local disk by default, or an object
//! store (S3 and compatible services, or a `file://` directory) through `object_store`.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use futures_util::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::config::Settings;
use crate::error::{Error, Result};

/// Bytes of the start of a file kept for media type detection.
const HEAD_BYTES: usize = 8192;
/// Read buffer for hashing stored files.
const CHUNK: usize = 256 * 1024;

/// Readable content of a stored file.
pub type Content = Pin<Box<dyn AsyncRead + Send>>;

/// Storage of evidence content.
#[derive(Clone)]
pub enum EvidenceStore {
    /// `{root}/{first two hex digits}/{sha256}` on local disk.
    Local { root: PathBuf },
    /// `{prefix}/{first two hex digits}/{sha256}` in an object store.
    Object {
        store: Arc<dyn ObjectStore>,
        prefix: ObjectPath,
        /// Label for messages, the configured URL without credentials.
        label: String,
    },
}

impl std::fmt::Debug for EvidenceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvidenceStore::Local { root } => write!(f, "local evidence store at {}", root.display()),
            EvidenceStore::Object { label, .. } => write!(f, "object evidence store at {label}"),
        }
    }
}

impl EvidenceStore {
    /// Opens the store the settings name: `evidence_store_url` when set, otherwise
    /// `{data_dir}/evidence`.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<EvidenceStore> {
        let url = settings.evidence_store_url.trim();
        if url.is_empty() {
            return Ok(EvidenceStore::Local {
                root: settings.data_dir.join("evidence"),
            });
        }
        let parsed = url::Url::parse(url)
            .map_err(|e| anyhow::anyhow!("evidence_store_url '{url}' is not a URL ({e}); use s3://bucket/prefix or file:///path"))?;
        // Credentials and endpoint come from the usual AWS_* variables, as for the AWS CLI.
        // Variables the S3 client does not know, such as AWS_PROFILE, are left out.
        let options = std::env::vars()
            .filter(|(key, _)| key.starts_with("AWS_"))
            .map(|(key, value)| (key.to_ascii_lowercase(), value))
            .filter(|(key, _)| key.parse::<object_store::aws::AmazonS3ConfigKey>().is_ok());
        let (store, prefix) = object_store::parse_url_opts(&parsed, options).map_err(|e| {
            anyhow::anyhow!("evidence_store_url '{url}' cannot be used ({e}); use s3://bucket/prefix or file:///path")
        })?;
        Ok(EvidenceStore::Object {
            store: Arc::from(store),
            prefix,
            label: crate::config::redact_url_password(url),
        })
    }

    /// Directory for staging files, on the same disk as a local store so that keeping a file
    /// is a rename.
    pub fn staging_dir(&self, settings: &Settings) -> PathBuf {
        match self {
            EvidenceStore::Local { root } => root.join("staging"),
            EvidenceStore::Object { .. } => settings.data_dir.join("evidence-staging"),
        }
    }

    /// Keeps a staged file under its hash. Content already stored stays as it is.
    pub async fn keep(&self, staged: StagedFile) -> Result<()> {
        match self {
            EvidenceStore::Local { root } => {
                let target = local_path(root, &staged.sha256);
                // Stored content that no longer matches its hash is replaced, so uploading the
                // original again repairs a damaged file.
                if tokio::fs::try_exists(&target).await.unwrap_or(false)
                    && self.hash_stored(&staged.sha256).await?.as_deref() == Some(staged.sha256.as_str())
                {
                    return Ok(());
                }
                let parent = target.parent().unwrap_or(root);
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
                let (_file, staged_path) = staged.file.keep().map_err(|e| anyhow::anyhow!("cannot keep staged file: {e}"))?;
                tokio::fs::rename(&staged_path, &target)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot move evidence into {}: {e}", target.display()))?;
                Ok(())
            }
            EvidenceStore::Object { store, prefix, .. } => {
                let location = object_path(prefix, &staged.sha256);
                if store.head(&location).await.is_ok()
                    && self.hash_stored(&staged.sha256).await?.as_deref() == Some(staged.sha256.as_str())
                {
                    return Ok(());
                }
                let upload = store
                    .put_multipart(&location)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot start storing evidence: {e}"))?;
                let mut writer = WriteMultipart::new(upload);
                let mut file = tokio::fs::File::open(staged.file.path())
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot read staged evidence: {e}"))?;
                let mut buffer = vec![0u8; CHUNK];
                loop {
                    let read = file
                        .read(&mut buffer)
                        .await
                        .map_err(|e| anyhow::anyhow!("cannot read staged evidence: {e}"))?;
                    if read == 0 {
                        break;
                    }
                    writer.write(&buffer[..read]);
                }
                writer
                    .finish()
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot store evidence: {e}"))?;
                Ok(())
            }
        }
    }

    /// Opens stored content; `None` when nothing is stored under `sha256`.
    pub async fn open(&self, sha256: &str) -> Result<Option<Content>> {
        check_hash_form(sha256)?;
        match self {
            EvidenceStore::Local { root } => match tokio::fs::File::open(local_path(root, sha256)).await {
                Ok(file) => Ok(Some(Box::pin(file))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(anyhow::anyhow!("cannot open evidence {sha256}: {e}").into()),
            },
            EvidenceStore::Object { store, prefix, .. } => {
                match store.get(&object_path(prefix, sha256)).await {
                    Ok(result) => {
                        let stream = result.into_stream().map_err(std::io::Error::other);
                        Ok(Some(Box::pin(tokio_util::io::StreamReader::new(stream))))
                    }
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(anyhow::anyhow!("cannot open evidence {sha256}: {e}").into()),
                }
            }
        }
    }

    /// Returns a file on local disk with the content stored under `sha256`: the stored file
    /// itself in a local store, else a copy in `staging_dir` that is removed on drop.
    ///
    /// # Errors
    /// 409 when nothing is stored under `sha256`.
    pub async fn local_copy(&self, sha256: &str, staging_dir: &Path) -> Result<LocalContent> {
        check_hash_form(sha256)?;
        let missing = || Error::conflict("evidence", format!("no content is stored under sha256 {sha256}"));
        if let EvidenceStore::Local { root } = self {
            let path = local_path(root, sha256);
            return match tokio::fs::try_exists(&path).await {
                Ok(true) => Ok(LocalContent::Stored(path)),
                _ => Err(missing()),
            };
        }
        let mut content = self.open(sha256).await?.ok_or_else(missing)?;
        let mut stager = Stager::new(staging_dir, u64::MAX).await?;
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let read = content
                .read(&mut buffer)
                .await
                .map_err(|e| anyhow::anyhow!("cannot read evidence {sha256}: {e}"))?;
            if read == 0 {
                break;
            }
            stager.write(&buffer[..read]).await?;
        }
        Ok(LocalContent::Copy(stager.finish().await?))
    }

    /// SHA-256 of what is stored under `sha256` now; `None` when it is missing.
    pub async fn hash_stored(&self, sha256: &str) -> Result<Option<String>> {
        let Some(mut content) = self.open(sha256).await? else {
            return Ok(None);
        };
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let read = content
                .read(&mut buffer)
                .await
                .map_err(|e| anyhow::anyhow!("cannot read evidence {sha256}: {e}"))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        Ok(Some(hex::encode(hasher.finalize())))
    }
}

fn check_hash_form(sha256: &str) -> Result<()> {
    if sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(anyhow::anyhow!("stored evidence hash '{sha256}' is not a SHA-256 in lower-case hex").into())
    }
}

/// Path of the content with hash `sha256` in a local store; the hash is checked to be hex, so
/// it never leaves `root`.
pub fn local_path(root: &Path, sha256: &str) -> PathBuf {
    root.join(&sha256[..2]).join(sha256)
}

fn object_path(prefix: &ObjectPath, sha256: &str) -> ObjectPath {
    prefix.child(&sha256[..2]).child(sha256)
}

/// Asks the kernel to start writing bytes `from..to` of `file` to disk without waiting for it.
/// Left alone, the kernel collects a large file's pages in memory and then makes the writer
/// wait while it writes them all. Writing as the file grows makes the final `fsync` short.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, from: u64, to: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(length)) = (i64::try_from(from), i64::try_from(to - from)) else {
        return;
    };
    // SAFETY: the descriptor belongs to `file`, which outlives the call. The call only starts
    // I/O; a failure is left to the final fsync, which reports it.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, length, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File, _from: u64, _to: u64) {}

/// Stored content as a file on local disk; see [`EvidenceStore::local_copy`].
pub enum LocalContent {
    /// The file of a local store, which must not be changed.
    Stored(PathBuf),
    /// A copy of content from an object store.
    Copy(StagedFile),
}

impl LocalContent {
    pub fn path(&self) -> &Path {
        match self {
            LocalContent::Stored(path) => path,
            LocalContent::Copy(staged) => staged.path(),
        }
    }
}

/// A received file on local disk with its hash, removed on drop unless kept.
pub struct StagedFile {
    file: tempfile::NamedTempFile,
    pub sha256: String,
    pub size: u64,
    /// First bytes of the content, for media type detection.
    pub head: Vec<u8>,
}

impl StagedFile {
    /// Returns the path of the staged file, for reading it before it is kept.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

/// Writes a file to the staging directory while hashing it and counting its size.
pub struct Stager {
    file: tempfile::NamedTempFile,
    output: tokio::fs::File,
    hasher: Sha256,
    size: u64,
    limit: u64,
    head: Vec<u8>,
}

impl Stager {
    /// Starts a staging file; writing more than `limit` bytes fails with 413.
    pub async fn new(staging_dir: &Path, limit: u64) -> Result<Stager> {
        tokio::fs::create_dir_all(staging_dir)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", staging_dir.display()))?;
        let file = tempfile::Builder::new()
            .prefix("evidence-")
            .tempfile_in(staging_dir)
            .map_err(|e| anyhow::anyhow!("cannot create a staging file: {e}"))?;
        let output = tokio::fs::File::from_std(
            file.reopen()
                .map_err(|e| anyhow::anyhow!("cannot open the staging file: {e}"))?,
        );
        Ok(Stager {
            file,
            output,
            hasher: Sha256::new(),
            size: 0,
            limit,
            head: Vec::new(),
        })
    }

    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(Error::PayloadTooLarge {
                limit_mb: self.limit / (1024 * 1024),
            });
        }
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        self.output
            .write_all(chunk)
            .await
            .map_err(|e| anyhow::anyhow!("cannot write evidence to the staging file: {e}"))?;
        Ok(())
    }

    pub async fn finish(mut self) -> Result<StagedFile> {
        self.output
            .flush()
            .await
            .map_err(|e| anyhow::anyhow!("cannot write evidence to the staging file: {e}"))?;
        self.output
            .sync_all()
            .await
            .map_err(|e| anyhow::anyhow!("cannot write evidence to the staging file: {e}"))?;
        Ok(StagedFile {
            file: self.file,
            sha256: hex::encode(self.hasher.finalize()),
            size: self.size,
            head: self.head,
        })
    }
}

/// Staging file written from a blocking thread, without a size limit, for content that the
/// caller hashes. The import copies a trail file on one thread while another hashes and reads
/// it, so that each file is read once for both the import and the evidence store.
pub struct StagingCopy {
    file: tempfile::NamedTempFile,
    output: std::io::BufWriter<std::fs::File>,
    size: u64,
    /// Bytes whose write to disk has been started; see [`start_writeback`].
    writeback_started: u64,
    head: Vec<u8>,
}

/// Bytes written between two calls of [`start_writeback`].
const WRITEBACK_STEP: u64 = 8 * 1024 * 1024;

impl StagingCopy {
    pub fn new(staging_dir: &Path) -> std::io::Result<StagingCopy> {
        std::fs::create_dir_all(staging_dir)?;
        let file = tempfile::Builder::new().prefix("evidence-").tempfile_in(staging_dir)?;
        let output = std::io::BufWriter::with_capacity(CHUNK, file.reopen()?);
        Ok(StagingCopy {
            file,
            output,
            size: 0,
            writeback_started: 0,
            head: Vec::new(),
        })
    }

    pub fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        self.size += chunk.len() as u64;
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.output.write_all(chunk)?;
        let written = self.size - self.output.buffer().len() as u64;
        if written - self.writeback_started >= WRITEBACK_STEP {
            start_writeback(self.output.get_ref(), self.writeback_started, written);
            self.writeback_started = written;
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Flushes the file to disk and returns it with `sha256`, the hash that the caller computed
    /// over the same bytes.
    pub fn finish(self, sha256: String) -> std::io::Result<StagedFile> {
        let output = self.output.into_inner().map_err(|e| e.into_error())?;
        output.sync_all()?;
        Ok(StagedFile {
            file: self.file,
            sha256,
            size: self.size,
            head: self.head,
        })
    }
}

/// Age after which an unchanged staging or upload file counts as left over from an import or
/// upload that a crash or restart interrupted. A running import writes its files all the time.
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// Removes the entries of `dir` that were not changed for `older_than`: files, and directories
/// whose files were not changed either. Returns how many were removed. A missing `dir` has none.
pub fn remove_stale_entries(dir: &Path, older_than: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let changed = |path: &Path| std::fs::metadata(path).and_then(|metadata| metadata.modified()).ok();
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let mut newest = changed(&path);
        if path.is_dir() {
            for inner in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                newest = newest.max(changed(&inner.path()));
            }
        }
        let stale = newest.and_then(|time| time.elapsed().ok()).is_some_and(|age| age > older_than);
        if !stale {
            continue;
        }
        let result = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        match result {
            Ok(()) => removed += 1,
            Err(error) => tracing::warn!(path = %path.display(), %error, "cannot remove a stale staging file"),
        }
    }
    removed
}

/// Media type read from the first bytes of a file: magic numbers first, then text forms.
pub fn detect_media_type(head: &[u8]) -> &'static str {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type();
    }
    if head.is_empty() {
        return "application/octet-stream";
    }
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // The head may end inside a multi-byte character.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
        Err(_) => return "application/octet-stream",
    };
    if text.contains('\0') {
        return "application/octet-stream";
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        "application/json"
    } else if trimmed.starts_with("<?xml") {
        "application/xml"
    } else if trimmed.to_ascii_lowercase().starts_with("<!doctype html") || trimmed.to_ascii_lowercase().starts_with("<html") {
        "text/html"
    } else {
        "text/plain"
    }
}

/// Media type a file name claims through its extension; `None` for unknown extensions.
pub fn claimed_media_type(name: &str) -> Option<&'static str> {
    let extension = Path::new(name).extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "json" | "ndjson" | "jsonl" => "application/json",
        "txt" | "log" | "csv" | "md" | "eml" => "text/plain",
        "xml" => "application/xml",
        "html" | "htm" => "text/html",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "gz" => "application/gzip",
        "zip" => "application/zip",
        "tar" => "application/x-tar",
        "exe" | "dll" => "application/vnd.microsoft.portable-executable",
        _ => return None,
    })
}

/// Tells whether a detected type fits a claimed one. Text forms fit each other, because a log
/// named `.txt` that contains JSON is still a text log.
pub fn media_types_agree(claimed: &str, detected: &str) -> bool {
    let textual = |t: &str| t.starts_with("text/") || t == "application/json" || t == "application/xml";
    claimed == detected || (textual(claimed) && textual(detected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_entries_removed_fresh_kept() {
        let dir = tempfile::tempdir().unwrap();
        let old = std::time::SystemTime::now() - STALE_AFTER * 2;
        let stale_file = dir.path().join("evidence-old");
        std::fs::File::create(&stale_file).unwrap().set_modified(old).unwrap();
        let stale_upload = dir.path().join("import-old");
        std::fs::create_dir(&stale_upload).unwrap();
        std::fs::File::create(stale_upload.join("0.upload")).unwrap().set_modified(old).unwrap();
        std::fs::File::open(&stale_upload).unwrap().set_modified(old).unwrap();
        let fresh_file = dir.path().join("evidence-new");
        std::fs::write(&fresh_file, b"being written").unwrap();
        let fresh_upload = dir.path().join("import-new");
        std::fs::create_dir(&fresh_upload).unwrap();
        std::fs::write(fresh_upload.join("0.upload"), b"being written").unwrap();

        assert_eq!(remove_stale_entries(dir.path(), STALE_AFTER), 2);
        assert!(!stale_file.exists());
        assert!(!stale_upload.exists());
        assert!(fresh_file.exists());
        assert!(fresh_upload.exists());
        assert_eq!(remove_stale_entries(&dir.path().join("missing"), STALE_AFTER), 0);
    }

    #[test]
    fn detects_media_types_from_content() {
        assert_eq!(detect_media_type(b"%PDF-1.4\n"), "application/pdf");
        assert_eq!(detect_media_type(&[0x1f, 0x8b, 8, 0]), "application/gzip");
        assert_eq!(detect_media_type(b"  {\"Records\": []}"), "application/json");
        assert_eq!(detect_media_type(b"plain words"), "text/plain");
        assert_eq!(detect_media_type(b"a\0b"), "application/octet-stream");
        assert_eq!(detect_media_type("caf\u{e9}".as_bytes()[..4].as_ref()), "text/plain");
    }

    #[test]
    fn extension_claims_are_compared_with_content() {
        assert_eq!(claimed_media_type("report.PDF"), Some("application/pdf"));
        assert_eq!(claimed_media_type("no-extension"), None);
        assert!(media_types_agree("text/plain", "application/json"));
        assert!(!media_types_agree("application/pdf", "application/vnd.microsoft.portable-executable"));
    }

    #[test]
    fn hash_form_keeps_paths_inside_the_store() {
        assert!(check_hash_form("../../etc/passwd").is_err());
        assert!(check_hash_form(&"A".repeat(64)).is_err());
        assert!(check_hash_form(&"a".repeat(64)).is_ok());
    }
}
