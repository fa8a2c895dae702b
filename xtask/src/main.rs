//! Workspace tasks: `cargo xtask run`, `cargo xtask test`, `cargo xtask bench`,
//! `cargo xtask build-frontend`.
//!
//! Each task installs what it needs that Cargo does not: the wasm32 target, and for the tests
//! Chromium with ChromeDriver, an SMTP server (Python's aiosmtpd) and, when none answers on
//! 127.0.0.1:5432, a throwaway PostgreSQL server.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

mod bench;
mod frontend;
mod postgres;
mod setup;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  run [--dev] [-- ARGS]   build the browser app and the server, then start `rekey serve ARGS`
  test [-- ARGS]          run every test (SQLite, PostgreSQL, SMTP, headless Chromium);
                          ARGS go to `cargo test`, such as a test name filter
  bench [--size SIZE[,SIZE...]]
                          time the trail import against jq and a bare serde_json pass on
                          synthetic CloudTrail files of SIZE (such as 10MB, 1GB; default 1GB)
  build-frontend [--release]
                          build the browser app into target/site";

fn main() {
    if let Err(error) = run_task() {
        eprintln!("xtask: {error:#}");
        std::process::exit(1);
    }
}

fn run_task() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let (flags, passthrough) = split_passthrough(&rest);
    let workspace = workspace_root();
    match task.as_str() {
        "run" => run(&workspace, flags.iter().any(|f| f == "--dev"), passthrough),
        "test" => test(&workspace, passthrough),
        "bench" => bench::bench(&workspace, &flags),
        "build-frontend" => {
            setup::ensure_wasm_target()?;
            let site = frontend::build(&workspace, flags.iter().any(|f| f == "--release"))?;
            println!("browser app built in {}", site.display());
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

/// Splits arguments at `--` into task flags and arguments passed through.
fn split_passthrough(args: &[String]) -> (Vec<String>, Vec<String>) {
    match args.iter().position(|a| a == "--") {
        Some(index) => (args[..index].to_vec(), args[index + 1..].to_vec()),
        None => (args.to_vec(), Vec::new()),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
}

/// Runs a command, failing with its description when it does not succeed.
pub fn run_command(command: &mut Command) -> Result<()> {
    let description = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("cannot start {description}"))?;
    if !status.success() {
        bail!("{description} failed with {status}");
    }
    Ok(())
}

fn run(workspace: &Path, dev: bool, serve_args: Vec<String>) -> Result<()> {
    setup::ensure_wasm_target()?;
    let site = frontend::build(workspace, !dev)?;
    let mut build = cargo();
    build.current_dir(workspace).args(["build", "-p", "rekey-server", "--bin", "rekey"]);
    if !dev {
        build.arg("--release");
    }
    run_command(&mut build)?;

    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let binary = target_dir.join(if dev { "debug" } else { "release" }).join("rekey");
    let mut serve = Command::new(&binary);
    serve
        .current_dir(workspace)
        .arg("serve")
        .args(serve_args)
        .env("REKEY_SITE_DIR", &site);
    run_command(&mut serve)
}

fn test(workspace: &Path, test_args: Vec<String>) -> Result<()> {
    setup::ensure_wasm_target()?;
    let site = frontend::build(workspace, false)?;
    let browser = setup::ensure_browser()?;
    setup::ensure_smtp_server()?;
    let postgres = postgres::test_server()?;

    let mut command = cargo();
    command
        .current_dir(workspace)
        .args(["test", "--workspace", "--exclude", "rekey-frontend"])
        .args(&test_args)
        .env("REKEY_TEST_SITE_DIR", &site)
        .env("REKEY_TEST_POSTGRES_URL", postgres.url())
        .env("REKEY_TEST_CHROMIUM", &browser.chromium)
        .env("REKEY_TEST_CHROMEDRIVER", &browser.chromedriver);
    let result = run_command(&mut command);
    drop(postgres);
    result
}
