//! The PostgreSQL server the tests use: the one named by `REKEY_TEST_POSTGRES_URL`, else one
//! listening on 127.0.0.1:5432, else a throwaway server started in a temporary directory.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::run_command;
use crate::setup::apt_install;

/// URL of the database the tests connect to first; each test then creates its own database.
const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub enum TestServer {
    /// A server someone else runs.
    Existing(String),
    /// A server this process started; stopped on drop.
    Throwaway { url: String, data_dir: PathBuf, bin_dir: PathBuf, owner: Option<String> },
}

impl TestServer {
    pub fn url(&self) -> &str {
        match self {
            TestServer::Existing(url) => url,
            TestServer::Throwaway { url, .. } => url,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let TestServer::Throwaway { data_dir, bin_dir, owner, .. } = self {
            let pg_ctl = bin_dir.join("pg_ctl");
            let data = data_dir.join("data");
            let mut stop = as_owner(owner.as_deref(), &pg_ctl);
            stop.args(["stop", "-m", "fast", "-D"]).arg(&data);
            if let Err(error) = run_command(&mut stop) {
                eprintln!("xtask: could not stop the test PostgreSQL: {error:#}");
            }
            let _ = std::fs::remove_dir_all(&data_dir);
        }
    }
}

pub fn test_server() -> Result<TestServer> {
    if let Ok(url) = std::env::var("REKEY_TEST_POSTGRES_URL") {
        return Ok(TestServer::Existing(url));
    }
    let local: SocketAddr = "127.0.0.1:5432".parse().expect("valid address");
    if TcpStream::connect_timeout(&local, Duration::from_secs(2)).is_ok() {
        eprintln!("xtask: using the PostgreSQL server on 127.0.0.1:5432; each test creates and drops its own database");
        return Ok(TestServer::Existing(LOCAL_URL.to_string()));
    }
    eprintln!("xtask: no PostgreSQL on 127.0.0.1:5432; starting a throwaway server");
    start_throwaway()
}

/// Directory with initdb and pg_ctl: on PATH, or Debian's versioned directory.
fn find_bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|dir| dir.join("initdb").is_file()) {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|dir| dir.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Builds a command that runs as `owner` when given, because PostgreSQL refuses to run as root.
fn as_owner(owner: Option<&str>, program: &Path) -> Command {
    match owner {
        Some(user) => {
            let mut command = Command::new("runuser");
            command.args(["-u", user, "--"]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn start_throwaway() -> Result<TestServer> {
    let bin_dir = match find_bin_dir() {
        Some(dir) => dir,
        None => {
            apt_install(&["postgresql"])?;
            find_bin_dir().context("initdb not found after installing postgresql")?
        }
    };
    let owner = is_root().then(|| "postgres".to_string());
    let data_dir = std::env::temp_dir().join(format!("rekey-test-pg-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    if let Some(user) = &owner {
        run_command(Command::new("chown").args(["-R", user]).arg(&data_dir))?;
    }
    let data = data_dir.join("data");
    let port = free_port()?;

    let mut initdb = as_owner(owner.as_deref(), &bin_dir.join("initdb"));
    initdb
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "-D"])
        .arg(&data);
    run_command(initdb.stdout(std::process::Stdio::null()))?;

    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
        data_dir.display()
    );
    let mut start = as_owner(owner.as_deref(), &bin_dir.join("pg_ctl"));
    start
        .args(["start", "-w", "-o", &options, "-l"])
        .arg(data_dir.join("server.log"))
        .arg("-D")
        .arg(&data);
    run_command(start.stdout(std::process::Stdio::null()))?;

    let server = TestServer::Throwaway {
        url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        data_dir,
        bin_dir,
        owner,
    };
    wait_for_port(port)?;
    Ok(server)
}

fn wait_for_port(port: u16) -> Result<()> {
    let address: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("the test PostgreSQL did not accept connections on port {port} within 30 s")
}
