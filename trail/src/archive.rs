//! Trail files inside zip archives and directory trees, as downloaded from a log bucket.

use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};

use zip::ZipArchive;

use crate::event::Event;
use crate::read::{
    describe_limit, read_events_with, FileSummary, LimitedReader, ReadError, ReadFailure,
    ReadOptions,
};

/// Signatures that start a zip archive: a local file header, or the end of central directory
/// record alone for an archive with no entries.
const ZIP_SIGNATURES: [[u8; 4]; 2] = [*b"PK\x03\x04", *b"PK\x05\x06"];

/// Returns whether `head`, the first bytes of a file, starts a zip archive.
pub fn is_zip(head: &[u8]) -> bool {
    ZIP_SIGNATURES
        .iter()
        .any(|signature| head.starts_with(signature))
}

/// Returns whether a trail file at this path, relative to an archive or directory root, is
/// skipped: hidden files, macOS resource forks under `__MACOSX`, and the files under
/// `CloudTrail-Digest`, which hold hashes of the log files rather than events.
pub fn is_skipped(relative_path: &str) -> bool {
    relative_path.split(['/', '\\']).any(|component| {
        component.starts_with('.') || component == "__MACOSX" || component == "CloudTrail-Digest"
    })
}

/// Reads every trail file in a zip archive, in archive order, calling `on_event` for each event.
///
/// Each entry is read like a file by [`read_events`], so entries may be gzip-compressed and in any
/// form. Errors name the entry as `ARCHIVE/ENTRY`. Directories and the entries that
/// [`is_skipped`] matches are passed over. Returns the name and summary of each entry read.
///
/// # Errors
/// `ReadFailure::Read` when the archive is not a valid zip file, an entry is encrypted or uses an
/// unsupported compression method, or an entry cannot be read as a trail file.
pub fn read_zip<R: Read + Seek, E>(
    archive_name: &str,
    input: R,
    on_event: impl FnMut(Event) -> Result<(), E>,
) -> Result<Vec<(String, FileSummary)>, ReadFailure<E>> {
    read_zip_with(archive_name, input, ReadOptions::default(), on_event)
}

/// Reads every trail file in a zip archive like [`read_zip`], with the limits of `options`.
///
/// # Errors
/// Those of [`read_zip`], and `ReadFailure::Read` when an entry decompresses, or says in its
/// header that it decompresses, to more than [`ReadOptions::max_decompressed_bytes`].
pub fn read_zip_with<R: Read + Seek, E>(
    archive_name: &str,
    input: R,
    options: ReadOptions,
    mut on_event: impl FnMut(Event) -> Result<(), E>,
) -> Result<Vec<(String, FileSummary)>, ReadFailure<E>> {
    let mut archive = ZipArchive::new(input).map_err(|error| ReadError {
        file: archive_name.to_owned(),
        line: None,
        column: None,
        message: format!("invalid zip archive: {error}"),
    })?;

    let mut summaries = Vec::new();
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(|error| ReadError {
            file: format!("{archive_name} entry {}", index + 1),
            line: None,
            column: None,
            message: format!("cannot read the zip entry: {error}"),
        })?;
        let entry_name = entry
            .name()
            .map(|name| name.into_owned())
            .unwrap_or_else(|_| format!("entry {}", index + 1));
        if entry.is_dir() || is_skipped(&entry_name) {
            continue;
        }
        let file_name = format!("{archive_name}/{entry_name}");
        let limit = options.max_decompressed_bytes;
        if entry.size() > limit {
            return Err(ReadError {
                file: file_name,
                line: None,
                column: None,
                message: format!(
                    "the zip entry's decompressed size of {} bytes is larger than the limit of \
                     {}; if this is a real trail file, raise the max_decompressed_mb setting",
                    entry.size(),
                    describe_limit(limit)
                ),
            }
            .into());
        }
        // The header's size may be false, so the stream is limited too.
        let entry = LimitedReader::new(entry, limit);
        let summary = read_events_with(&file_name, entry, options.clone(), &mut on_event)?;
        summaries.push((file_name, summary));
    }
    Ok(summaries)
}

/// Lists the files under `root` in path order, recursively, leaving out the paths that
/// [`is_skipped`] matches. Symbolic links to directories are not followed, so a link cycle
/// cannot make the walk endless.
///
/// # Errors
/// The I/O error of a directory that cannot be listed, with its path.
pub fn trail_files_in(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let entries = std::fs::read_dir(&directory).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot list {}: {error}", directory.display()),
            )
        })?;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap_or(&path);
            if is_skipped(&relative.to_string_lossy()) {
                continue;
            }
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                pending.push(path);
            } else if file_type.is_file() || path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use flate2::write::GzEncoder;
    use flate2::Compression;
    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipWriter};

    use super::*;

    fn record(id: &str) -> String {
        format!(
            r#"{{"eventID":"{id}","eventTime":"2023-07-10T12:21:05Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser"}}"#
        )
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            if name.ends_with('/') {
                writer
                    .add_directory(*name, SimpleFileOptions::default())
                    .unwrap();
                continue;
            }
            let options =
                SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
            writer.start_file(*name, options).unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn read_zip_ids(archive: Vec<u8>) -> Result<(Vec<String>, Vec<String>), ReadError> {
        let mut ids = Vec::new();
        let result = read_zip("logs.zip", Cursor::new(archive), |event| {
            ids.push(event.event_id);
            Ok::<(), ()>(())
        });
        match result {
            Ok(summaries) => Ok((ids, summaries.into_iter().map(|(name, _)| name).collect())),
            Err(ReadFailure::Read(error)) => Err(error),
            Err(ReadFailure::Callback(())) => unreachable!("the callback never fails"),
        }
    }

    #[test]
    fn zip_detected_by_signature() {
        assert!(is_zip(b"PK\x03\x04rest"));
        assert!(is_zip(b"PK\x05\x06"));
        assert!(!is_zip(b"PK"));
        assert!(!is_zip(b"{\"Records\":[]}"));
        assert!(!is_zip(&gzip(b"{}")));
    }

    #[test]
    fn zip_entries_in_every_form() {
        let archive = zip_of(&[
            ("AWSLogs/", Vec::new()),
            (
                "AWSLogs/a.json.gz",
                gzip(format!(r#"{{"Records":[{}]}}"#, record("a")).as_bytes()),
            ),
            ("AWSLogs/b.json", format!("{}\n", record("b")).into_bytes()),
            ("c.json", format!("[{}]", record("c")).into_bytes()),
        ]);
        let (ids, names) = read_zip_ids(archive).unwrap();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(
            names,
            [
                "logs.zip/AWSLogs/a.json.gz",
                "logs.zip/AWSLogs/b.json",
                "logs.zip/c.json"
            ]
        );
    }

    #[test]
    fn zip_skips_digests_and_hidden_files() {
        let archive = zip_of(&[
            (
                "AWSLogs/1/CloudTrail-Digest/d.json.gz",
                gzip(br#"{"awsAccountId":"1","digestStartTime":"x"}"#),
            ),
            ("__MACOSX/._a.json", b"\x00\x05\x16\x07".to_vec()),
            (".DS_Store", b"\x00\x00\x00\x01Bud1".to_vec()),
            ("a.json", record("a").into_bytes()),
        ]);
        let (ids, names) = read_zip_ids(archive).unwrap();
        assert_eq!(ids, ["a"]);
        assert_eq!(names, ["logs.zip/a.json"]);
    }

    #[test]
    fn zip_empty_archive() {
        let (ids, names) = read_zip_ids(zip_of(&[])).unwrap();
        assert!(ids.is_empty());
        assert!(names.is_empty());
    }

    #[test]
    fn zip_entry_error_names_entry() {
        let archive = zip_of(&[
            ("a.json", record("a").into_bytes()),
            (
                "dir/b.json",
                format!("{}\n{{oops}}\n", record("b")).into_bytes(),
            ),
        ]);
        let error = read_zip_ids(archive).unwrap_err();
        assert_eq!(error.file, "logs.zip/dir/b.json");
        assert_eq!(error.line, Some(2));
        assert!(error.message.starts_with("invalid JSON"), "{error}");
    }

    fn read_zip_limited(archive: Vec<u8>, limit: u64) -> Result<usize, ReadError> {
        let options = ReadOptions {
            max_decompressed_bytes: limit,
            ..ReadOptions::default()
        };
        let mut count = 0;
        let result = read_zip_with("logs.zip", Cursor::new(archive), options, |_| {
            count += 1;
            Ok::<(), ()>(())
        });
        match result {
            Ok(_) => Ok(count),
            Err(ReadFailure::Read(error)) => Err(error),
            Err(ReadFailure::Callback(())) => unreachable!("the callback never fails"),
        }
    }

    #[test]
    fn zip_entry_over_limit_rejected() {
        let data = format!("{}\n{}\n", record("a"), record("b")).into_bytes();
        let size = data.len() as u64;
        let archive = zip_of(&[("big.json", data)]);
        let error = read_zip_limited(archive.clone(), size - 1).unwrap_err();
        assert_eq!(error.file, "logs.zip/big.json");
        assert_eq!(
            error.message,
            format!(
                "the zip entry's decompressed size of {size} bytes is larger than the limit of \
                 {} bytes; if this is a real trail file, raise the max_decompressed_mb setting",
                size - 1
            )
        );
        assert_eq!(read_zip_limited(archive, size), Ok(2));
    }

    #[test]
    fn zip_gzip_entry_over_limit_rejected() {
        let data = format!("{}\n{}\n", record("a"), record("b"));
        let archive = zip_of(&[("a.json.gz", gzip(data.as_bytes()))]);
        let error = read_zip_limited(archive, data.len() as u64 - 1).unwrap_err();
        assert_eq!(error.file, "logs.zip/a.json.gz");
        assert!(
            error.message.starts_with("the decompressed content is larger than the limit"),
            "{error}"
        );
    }

    #[test]
    fn zip_invalid_archive_rejected() {
        let mut archive = zip_of(&[("a.json", record("a").into_bytes())]);
        archive.truncate(archive.len() - 10);
        let error = read_zip_ids(archive).unwrap_err();
        assert_eq!(error.file, "logs.zip");
        assert!(error.message.starts_with("invalid zip archive"), "{error}");
    }

    #[test]
    fn skipped_paths() {
        let cases = [
            ("a.json.gz", false),
            ("AWSLogs/1/CloudTrail/us-east-1/a.json.gz", false),
            ("AWSLogs/1/CloudTrail-Digest/us-east-1/a.json.gz", true),
            (".hidden.json", true),
            ("dir/.git/config", true),
            ("__MACOSX/a.json", true),
            ("dir\\CloudTrail-Digest\\a.json", true),
        ];
        for (path, expected) in cases {
            assert_eq!(is_skipped(path), expected, "{path}");
        }
    }

    #[test]
    fn directory_tree_listed_in_order() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        let paths = [
            "b/2.json",
            "a.json",
            "b/1/x.json.gz",
            "CloudTrail-Digest/d.json",
            ".hidden",
        ];
        for path in paths {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, b"{}").unwrap();
        }
        let files = trail_files_in(root).unwrap();
        let relative: Vec<_> = files
            .iter()
            .map(|file| {
                file.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(relative, ["a.json", "b/1/x.json.gz", "b/2.json"]);
    }

    #[test]
    fn directory_missing_reported() {
        let error = trail_files_in(Path::new("/nonexistent/rekey-trail-test")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot list /nonexistent/rekey-trail-test"),
            "{error}"
        );
    }
}
