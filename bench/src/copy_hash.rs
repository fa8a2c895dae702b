//! The floor of keeping a trail file as evidence: one pass that hashes the file with SHA-256
//! and writes a copy, then waits until the copy is on disk. The import does the same for each
//! file it keeps, and this pass parses nothing.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use rekey::evidence::StagingCopy;
use sha2::{Digest, Sha256};

/// Copies `file` into a staging file in `dir` while hashing it; returns the size and hash.
pub fn copy_and_hash(file: &Path, dir: &Path) -> anyhow::Result<(u64, String)> {
    let mut input = File::open(file)?;
    let mut copy = StagingCopy::new(dir)?;
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; 1024 * 1024];
    loop {
        let count = input.read(&mut block)?;
        if count == 0 {
            break;
        }
        hasher.update(&block[..count]);
        copy.write(&block[..count])?;
    }
    let size = copy.size();
    let staged = copy.finish(hex::encode(hasher.finalize()))?;
    Ok((size, staged.sha256.clone()))
}
