//! Builds the browser app and assembles the site directory the server serves.
//!
//! Layout of the site directory:
//! - `index.html`: the page every app route returns, copied from `static/index.html`;
//! - `pkg/`: `rekey_frontend.js` and `rekey_frontend_bg.wasm` from wasm-bindgen;
//! - `static/`: a copy of the workspace's `static/` without `index.html`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const CRATE_NAME: &str = "rekey-frontend";
/// File cargo writes for the binary crate: named after the crate, hyphen included.
const WASM_FILE: &str = "rekey-frontend.wasm";
/// Stem of the generated bindings, as `index.html` and `boot.js` load them.
const ARTIFACT_STEM: &str = "rekey_frontend";
/// Cargo profile of release builds, defined in the workspace `Cargo.toml`.
const RELEASE_PROFILE: &str = "wasm-release";
/// Environment variable that overrides where the site directory is written.
const SITE_DIR_VAR: &str = "REKEY_SITE_DIR";

/// Builds the browser app, generates its JavaScript bindings and assembles the site directory.
///
/// The wasm is built with the `wasm-release` profile when `release` is set, else with `dev`.
/// The site goes to `<workspace>/target/site`, or to `$REKEY_SITE_DIR` when that is set. Its
/// `pkg/` and `static/` are replaced, so no file of an earlier build stays behind. Returns the
/// site directory.
pub fn build(workspace: &Path, release: bool) -> anyhow::Result<PathBuf> {
    let wasm = build_wasm(workspace, release)?;
    let site = site_dir(workspace);
    fs::create_dir_all(&site)
        .with_context(|| format!("failed to create the site directory {}", site.display()))?;

    let pkg = site.join("pkg");
    remove_dir_if_present(&pkg)?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .out_name(ARTIFACT_STEM)
        .web(true)?
        .typescript(false)
        .debug(!release)
        .generate(&pkg)
        .with_context(|| {
            format!(
                "failed to generate JavaScript bindings for {} into {}",
                wasm.display(),
                pkg.display()
            )
        })?;

    let source_static = workspace.join("static");
    let index = source_static.join("index.html");
    fs::copy(&index, site.join("index.html"))
        .with_context(|| format!("failed to copy {} into the site", index.display()))?;

    let site_static = site.join("static");
    remove_dir_if_present(&site_static)?;
    copy_dir(&source_static, &site_static, &[index.as_path()])?;

    for required in [
        site.join("index.html"),
        pkg.join(format!("{ARTIFACT_STEM}.js")),
        pkg.join(format!("{ARTIFACT_STEM}_bg.wasm")),
    ] {
        if !required.is_file() {
            bail!("the site is incomplete: {} is missing", required.display());
        }
    }
    Ok(site)
}

/// Runs `cargo build` for the wasm target and returns the path of the compiled module.
fn build_wasm(workspace: &Path, release: bool) -> anyhow::Result<PathBuf> {
    // `CARGO` is set when this runs under `cargo run`, so the same toolchain builds the app.
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace).args([
        "build",
        "--package",
        CRATE_NAME,
        "--target",
        WASM_TARGET,
    ]);
    if release {
        command.args(["--profile", RELEASE_PROFILE]);
    }
    let status = command
        .status()
        .with_context(|| format!("failed to start {command:?}"))?;
    if !status.success() {
        bail!("building {CRATE_NAME} for {WASM_TARGET} failed ({status})");
    }

    // Cargo puts the dev profile in `debug/` and any custom profile in a folder of its name.
    let profile_dir = if release { RELEASE_PROFILE } else { "debug" };
    let wasm = target_dir(workspace)
        .join(WASM_TARGET)
        .join(profile_dir)
        .join(WASM_FILE);
    if !wasm.is_file() {
        bail!(
            "cargo reported success but {} does not exist; if the target directory is set \
             somewhere other than CARGO_TARGET_DIR, set CARGO_TARGET_DIR to it",
            wasm.display()
        );
    }
    Ok(wasm)
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, relative to the workspace when it is a
/// relative path, else `<workspace>/target`.
// NOTE: a `build.target-dir` in a Cargo config file is not read here.
fn target_dir(workspace: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace.join(dir),
        _ => workspace.join("target"),
    }
}

fn site_dir(workspace: &Path) -> PathBuf {
    match env::var_os(SITE_DIR_VAR) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace.join("target").join("site"),
    }
}

fn remove_dir_if_present(dir: &Path) -> anyhow::Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("failed to remove {}", dir.display())),
    }
}

/// Copies the directory tree `from` to `to`, leaving out the files in `skip`.
fn copy_dir(from: &Path, to: &Path, skip: &[&Path]) -> anyhow::Result<()> {
    fs::create_dir_all(to).with_context(|| format!("failed to create {}", to.display()))?;
    let entries =
        fs::read_dir(from).with_context(|| format!("failed to read {}", from.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("failed to read {}", from.display()))?;
        let source = entry.path();
        let destination = to.join(entry.file_name());
        if skip.contains(&source.as_path()) {
            continue;
        }
        let file_type = entry
            .file_type()
            .with_context(|| format!("failed to read the type of {}", source.display()))?;
        if file_type.is_dir() {
            copy_dir(&source, &destination, skip)?;
        } else {
            fs::copy(&source, &destination).with_context(|| {
                format!(
                    "failed to copy {} to {}",
                    source.display(),
                    destination.display()
                )
            })?;
        }
    }
    Ok(())
}
