//! Helpers of `cargo xtask bench`: a generator of synthetic CloudTrail files, the setup of a
//! fresh SQLite data directory with one case, and two floors the import is compared with: a bare
//! serde_json pass, and a hashed copy of the file such as the evidence store keeps.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod copy_hash;
mod generate;
mod serde_pass;
mod setup;

/// Access key id of the leaked credential in every generated trail.
pub const LEAKED_KEY: &str = "AKIAQBENCHLEAKED0001";

#[derive(Parser)]
#[command(name = "rekey-bench", about = "Benchmark helpers for the trail import")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a synthetic CloudTrail file, one event per line, and print its statistics.
    Generate {
        /// Size of the file in bytes; the last event may end a little past it.
        #[arg(long)]
        bytes: u64,
        /// File to write.
        #[arg(long)]
        output: PathBuf,
    },
    /// Create a SQLite database in DATA_DIR with case 1, its compromise time and the leaked key.
    Setup {
        #[arg(long)]
        data_dir: PathBuf,
        /// Compromise time of the case, RFC 3339.
        #[arg(long)]
        since: String,
    },
    /// Copy FILE into DIR while hashing it with SHA-256, then flush the copy to disk.
    CopyHash {
        file: PathBuf,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Deserialize every line into a typed struct and count the leaked key's calls since a time.
    SerdePass {
        file: PathBuf,
        /// Compromise time, RFC 3339 in UTC with `Z`, compared as text like the jq filter does.
        #[arg(long)]
        since: String,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Generate { bytes, output } => {
            let stats = generate::generate(&output, bytes)?;
            println!("events={}", stats.events);
            println!("bytes={}", stats.bytes);
            println!("since={}", stats.compromise_time);
            println!("leaked_since={}", stats.leaked_since);
            println!("after_end={}", stats.after_end);
            Ok(())
        }
        Command::Setup { data_dir, since } => setup::setup(&data_dir, &since),
        Command::CopyHash { file, dir } => {
            let (size, sha256) = copy_hash::copy_and_hash(&file, &dir)?;
            println!("bytes={size}");
            println!("sha256={sha256}");
            Ok(())
        }
        Command::SerdePass { file, since } => {
            let (events, matched) = serde_pass::count_matches(&file, &since)?;
            println!("events={events}");
            println!("matched={matched}");
            Ok(())
        }
    }
}
