//! `cargo xtask bench`: the trail import against jq and a bare serde_json pass, on synthetic
//! CloudTrail files of the sizes given.
//!
//! Each tool runs as a child process, so its wall time and peak resident set size (from
//! `wait4`) are its own. The trail file is read from the page cache by every tool, because the
//! generator has just written it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{cargo, run_command, setup};

const DEFAULT_SIZE: &str = "1GB";

/// The jq program that makes the import's selection: the leaked key's calls at or after the
/// compromise time. CloudTrail writes `eventTime` in UTC with `Z`, so comparing text orders it.
const JQ_FILTER: &str = "select(.userIdentity.accessKeyId == $key and .eventTime >= $since)";

/// Access key id that the generator gives the leaked credential; see `bench/src/main.rs`.
const LEAKED_KEY: &str = "AKIAQBENCHLEAKED0001";

/// Number of times each tool runs per size; the results show the median wall time.
const RUNS: usize = 3;

/// Wall time and peak memory of one child process.
struct Measurement {
    wall: Duration,
    peak_rss_kib: i64,
    stdout: String,
}

struct Row {
    bytes: u64,
    events: u64,
    expected_matches: u64,
    rekey: Measurement,
    /// The import with a compromise time after the last event, so it reads and keeps nothing.
    rekey_reading: Measurement,
    jq: Measurement,
    serde: Measurement,
    /// A hashed, durable copy of the file, which keeping it as evidence needs at least.
    copy: Measurement,
}

/// Parses `--size` values such as `10MB`, `100MB` or `1GB` (decimal units), comma-separated or
/// repeated.
fn parse_sizes(flags: &[String]) -> Result<Vec<u64>> {
    let mut texts = Vec::new();
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        let value = match flag.strip_prefix("--size=") {
            Some(value) => value.to_owned(),
            None if flag == "--size" => flags
                .next()
                .cloned()
                .context("--size needs a value such as 100MB")?,
            None => bail!("unknown bench flag {flag}; use --size SIZE[,SIZE...]"),
        };
        texts.extend(value.split(',').map(str::to_owned));
    }
    if texts.is_empty() {
        texts.push(DEFAULT_SIZE.to_owned());
    }
    texts.iter().map(|text| parse_size(text)).collect()
}

fn parse_size(text: &str) -> Result<u64> {
    let upper = text.trim().to_ascii_uppercase();
    let (number, unit) = match upper.find(|c: char| !c.is_ascii_digit()) {
        Some(index) => upper.split_at(index),
        None => (upper.as_str(), ""),
    };
    let multiplier = match unit {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => bail!("--size {text}: unknown unit {unit}; use B, KB, MB or GB, such as 100MB"),
    };
    let number: u64 = number
        .parse()
        .with_context(|| format!("--size {text}: expected a whole number and a unit, such as 100MB"))?;
    if number == 0 {
        bail!("--size {text}: the size must be at least 1 byte");
    }
    Ok(number * multiplier)
}

pub fn bench(workspace: &Path, flags: &[String]) -> Result<()> {
    let sizes = parse_sizes(flags)?;
    run_command(cargo().current_dir(workspace).args(["build", "--release", "-p", "rekey-server", "--bin", "rekey"]))?;
    run_command(cargo().current_dir(workspace).args(["build", "--release", "-p", "rekey-bench"]))?;
    let jq = setup::ensure_program("jq", "jq")?;

    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let release = target_dir.join("release");
    let work = target_dir.join("bench");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;

    let mut rows = Vec::new();
    for bytes in sizes {
        let row = bench_size(&release, &jq, &work, bytes);
        // Remove the trail and the database even when a tool failed.
        let _ = std::fs::remove_file(work.join("trail.jsonl"));
        let _ = std::fs::remove_dir_all(work.join("data"));
        let _ = std::fs::remove_file(work.join("stdout.txt"));
        rows.push(row?);
    }
    print_report(&jq, &rows)
}

fn bench_size(release: &Path, jq: &Path, work: &Path, bytes: u64) -> Result<Row> {
    let helper = release.join("rekey-bench");
    let trail = work.join("trail.jsonl");
    let data = work.join("data");
    let _ = std::fs::remove_dir_all(&data);

    eprintln!("xtask: generating {bytes} bytes of CloudTrail events in {}", trail.display());
    let generated = measure(
        Command::new(&helper)
            .args(["generate", "--bytes", &bytes.to_string(), "--output"])
            .arg(&trail),
        work,
    )?;
    let events: u64 = stat(&generated.stdout, "events")?.parse()?;
    let since = stat(&generated.stdout, "since")?.to_owned();
    let expected_matches: u64 = stat(&generated.stdout, "leaked_since")?.parse()?;
    let after_end = stat(&generated.stdout, "after_end")?.to_owned();

    // The tools take turns, so that a slow spell of the shared machine falls on all of them.
    let mut runs: [Vec<Measurement>; 5] = Default::default();
    for round in 1..=RUNS {
        eprintln!("xtask: round {round} of {RUNS}: bare serde_json pass");
        let serde = measure(
            Command::new(&helper).args(["serde-pass", "--since", &since]).arg(&trail),
            work,
        )?;
        check_count("the serde pass", stat(&serde.stdout, "matched")?.parse()?, expected_matches)?;
        runs[0].push(serde);

        eprintln!("xtask: round {round} of {RUNS}: hashed copy of the file");
        let copy = measure(
            Command::new(&helper)
                .args(["copy-hash", "--dir"])
                .arg(work.join("copy"))
                .arg(&trail),
            work,
        )?;
        let _ = std::fs::remove_dir_all(work.join("copy"));
        runs[1].push(copy);

        eprintln!("xtask: round {round} of {RUNS}: rekey import-trail");
        let rekey = measure_import(release, &trail, &data, &since, work)?;
        check_count("rekey import-trail", matched_by_rekey(&rekey.stdout)?, expected_matches)?;
        std::fs::remove_dir_all(&data)?;
        runs[2].push(rekey);

        eprintln!("xtask: round {round} of {RUNS}: rekey import-trail with a compromise time after the last event");
        let rekey_reading = measure_import(release, &trail, &data, &after_end, work)?;
        check_count("rekey import-trail", matched_by_rekey(&rekey_reading.stdout)?, 0)?;
        std::fs::remove_dir_all(&data)?;
        runs[3].push(rekey_reading);

        eprintln!("xtask: round {round} of {RUNS}: jq");
        let jq_run = measure(
            Command::new(jq)
                .args(["-c", "--arg", "key", LEAKED_KEY, "--arg", "since", &since, JQ_FILTER])
                .arg(&trail),
            work,
        )?;
        check_count("jq", jq_run.stdout.lines().count() as u64, expected_matches)?;
        runs[4].push(jq_run);
    }
    let [serde, copy, rekey, rekey_reading, jq_run] = runs.map(median);

    Ok(Row {
        bytes,
        events,
        expected_matches,
        rekey,
        rekey_reading,
        jq: jq_run,
        serde,
        copy,
    })
}

/// Returns the run with the median wall time, with the highest peak RSS of all runs.
fn median(mut runs: Vec<Measurement>) -> Measurement {
    runs.sort_by_key(|run| run.wall);
    let peak_rss_kib = runs.iter().map(|run| run.peak_rss_kib).max().unwrap_or(0);
    let mut middle = runs.swap_remove(runs.len() / 2);
    middle.peak_rss_kib = peak_rss_kib;
    middle
}

/// Creates case 1 with compromise time `since` in a fresh data directory and measures
/// `rekey import-trail` of `trail` into it.
fn measure_import(release: &Path, trail: &Path, data: &Path, since: &str, work: &Path) -> Result<Measurement> {
    run_command(
        Command::new(release.join("rekey-bench"))
            .args(["setup", "--since", since, "--data-dir"])
            .arg(data),
    )?;
    measure(
        Command::new(release.join("rekey"))
            .arg("--data-dir")
            .arg(data)
            .args(["import-trail", "--case", "1"])
            .arg(trail)
            .env("RUST_LOG", "warn"),
        work,
    )
}

/// Returns the value of a `name=value` line of the helper's output.
fn stat<'a>(output: &'a str, name: &str) -> Result<&'a str> {
    output
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
        .with_context(|| format!("missing {name}= in the output: {output}"))
}

/// Reads the matched count from "Imported into RK-1: N events read, M matched, …".
fn matched_by_rekey(output: &str) -> Result<u64> {
    let matched = output
        .split(", ")
        .find_map(|part| part.strip_suffix(" matched"))
        .with_context(|| format!("no matched count in the output of rekey import-trail: {output}"))?;
    Ok(matched.parse()?)
}

fn check_count(tool: &str, found: u64, expected: u64) -> Result<()> {
    if found != expected {
        bail!("{tool} selected {found} events, expected the {expected} calls of the leaked key");
    }
    Ok(())
}

/// Runs `command` to completion with its output in a file, returning its wall time, peak RSS
/// and output. Fails when it exits unsuccessfully.
fn measure(command: &mut Command, work: &Path) -> Result<Measurement> {
    let output_path = work.join("stdout.txt");
    let output = File::create(&output_path)?;
    let description = format!("{command:?}");
    // Write back what earlier steps left in the page cache, so that this tool does not wait
    // for it. SAFETY: sync takes no arguments and, per sync(2), always succeeds.
    unsafe { libc::sync() };
    let started = Instant::now();
    let child = command
        .stdout(Stdio::from(output))
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {description}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in, and the pid is our own unwaited child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    if waited != pid {
        bail!("wait4 failed for {description}: {}", std::io::Error::last_os_error());
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{description} failed with wait status {status}");
    }
    let stdout = std::fs::read_to_string(&output_path)?;
    Ok(Measurement {
        wall,
        // ru_maxrss is in KiB on Linux.
        peak_rss_kib: usage.ru_maxrss,
        stdout,
    })
}

fn print_report(jq: &Path, rows: &[Row]) -> Result<()> {
    println!("Machine: {}", machine_description());
    println!("jq: {}", version_of(Command::new(jq).arg("--version")));
    println!("rustc: {}", version_of(Command::new("rustc").arg("--version")));
    println!();
    print_timings(rows);
    println!();
    print_ratios(rows);
    Ok(())
}

fn print_timings(rows: &[Row]) {
    println!("| trail | events | tool | wall time | throughput | peak RSS |");
    println!("| ---: | ---: | --- | ---: | ---: | ---: |");
    for row in rows {
        let size = format_size(row.bytes);
        let runs = [
            ("Rekey import", &row.rekey),
            ("Rekey import, keeping nothing", &row.rekey_reading),
            ("jq", &row.jq),
            ("bare serde_json", &row.serde),
            ("hashed copy", &row.copy),
        ];
        for (tool, run) in runs {
            let seconds = run.wall.as_secs_f64();
            println!(
                "| {size} | {} | {tool} | {seconds:.2} s | {:.0} MB/s | {:.0} MiB |",
                row.events,
                row.bytes as f64 / 1e6 / seconds,
                run.peak_rss_kib as f64 / 1024.0
            );
        }
    }
}

fn print_ratios(rows: &[Row]) {
    println!("| trail | leaked-key calls | import | Rekey vs jq | Rekey vs bare serde_json | Rekey vs hashed copy |");
    println!("| ---: | ---: | --- | ---: | ---: | ---: |");
    for row in rows {
        for (import, run) in [("full", &row.rekey), ("keeping nothing", &row.rekey_reading)] {
            let rekey = run.wall.as_secs_f64();
            println!(
                "| {} | {} | {import} | {:.2}× the speed | {:.0} % of its speed | {:.0} % of its speed |",
                format_size(row.bytes),
                row.expected_matches,
                row.jq.wall.as_secs_f64() / rekey,
                100.0 * row.serde.wall.as_secs_f64() / rekey,
                100.0 * row.copy.wall.as_secs_f64() / rekey
            );
        }
    }
}

fn format_size(bytes: u64) -> String {
    if bytes >= 1_000_000_000 && bytes % 1_000_000_000 == 0 {
        format!("{} GB", bytes / 1_000_000_000)
    } else if bytes >= 1_000_000 {
        format!("{} MB", bytes / 1_000_000)
    } else {
        format!("{bytes} B")
    }
}

fn version_of(command: &mut Command) -> String {
    command
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|error| format!("unknown ({error})"))
}

/// Describes the CPU, core count and memory from /proc.
fn machine_description() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!("{model}, {cores} cores, {memory_gib:.0} GiB memory")
}
