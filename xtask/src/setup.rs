//! Installs the tools the build and the tests need when they are missing.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Result};

use crate::run_command;

/// Adds the wasm32 target through rustup unless it is installed.
pub fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(output) if String::from_utf8_lossy(&output.stdout).contains("wasm32-unknown-unknown") => Ok(()),
        Ok(_) => run_command(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"])),
        Err(_) => {
            eprintln!("xtask: rustup not found; assuming the wasm32-unknown-unknown target is installed");
            Ok(())
        }
    }
}

pub struct Browser {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Installs Debian packages with apt-get, which needs root.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    if !is_root() {
        bail!(
            "missing packages {}; install them with: sudo apt-get install {}",
            packages.join(" "),
            packages.join(" ")
        );
    }
    eprintln!("xtask: installing {} with apt-get", packages.join(" "));
    run_command(Command::new("apt-get").args(["update", "-qq"]))?;
    run_command(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Finds `program` on the PATH, installing the Debian package `package` when it is missing.
pub fn ensure_program(program: &str, package: &str) -> Result<PathBuf> {
    if let Some(path) = find_program(&[program]) {
        return Ok(path);
    }
    apt_install(&[package])?;
    find_program(&[program]).ok_or_else(|| anyhow::anyhow!("{program} still missing after installing {package}"))
}

/// Finds Chromium and ChromeDriver, installing Debian's packages when they are missing.
pub fn ensure_browser() -> Result<Browser> {
    let find = || {
        Some(Browser {
            chromium: find_program(&["chromium", "chromium-browser", "google-chrome"])?,
            chromedriver: find_program(&["chromedriver"])?,
        })
    };
    if let Some(browser) = find() {
        return Ok(browser);
    }
    apt_install(&["chromium", "chromium-driver"])?;
    find().ok_or_else(|| anyhow::anyhow!("chromium or chromedriver still missing after installing them"))
}

/// Makes Python's aiosmtpd importable; the mail tests run it as a real SMTP server.
pub fn ensure_smtp_server() -> Result<()> {
    let importable = || {
        Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|status| status.success())
            .unwrap_or(false)
    };
    if importable() {
        return Ok(());
    }
    eprintln!("xtask: installing aiosmtpd with pip");
    let pip = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "aiosmtpd==1.4.6"])
        .status();
    if pip.map(|s| s.success()).unwrap_or(false) && importable() {
        return Ok(());
    }
    apt_install(&["python3-aiosmtpd"])?;
    if !importable() {
        bail!("python3 cannot import aiosmtpd; install it with: python3 -m pip install aiosmtpd");
    }
    Ok(())
}
