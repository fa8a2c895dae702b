//! Helpers of `cargo xtask bench`: a generator of synthetic CloudTrail files, the setup of a
//! fresh SQLite data directory with one case, and a bare serde_json pass that sets the speed
//! floor the import is compared with.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
        Command::SerdePass { file, since } => {
            let (events, matched) = serde_pass::count_matches(&file, &since)?;
            println!("events={events}");
            println!("matched={matched}");
            Ok(())
        }
    }
}
