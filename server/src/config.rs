//! Settings, read in layers: built-in defaults, then an optional TOML file, then `REKEY_*`
//! environment variables (and `DATABASE_URL`), then command-line flags.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// A value that must not appear in logs or debug output, such as a password.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Protection of the SMTP connection.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain SMTP, allowed only to a server on this machine.
    None,
    /// Plain connection upgraded with STARTTLS before anything is sent.
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address and port the HTTP server listens on.
    pub listen: SocketAddr,
    /// URL people use to reach Rekey; links in emails point here, and an `https` URL marks the
    /// session cookie Secure. Empty means `http://` followed by `listen`.
    pub public_url: String,
    /// Directory for the SQLite database and other files Rekey keeps.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means `rekey.db` in `data_dir`.
    pub database_url: String,
    /// Directory with the built browser app (`index.html`, `pkg/`, `static/`).
    pub site_dir: PathBuf,
    /// Password for the first admin account, used only when no user exists yet.
    pub admin_password: Option<Secret>,
    /// Hours a login session lasts at most.
    pub session_hours: u32,
    /// Minutes without a request after which a session ends.
    pub session_idle_minutes: u32,
    /// Administrators may use admin functions only after enabling two-factor authentication.
    pub require_totp_for_admins: bool,
    /// Largest trail upload accepted, in megabytes, for all files of one request together.
    pub max_upload_mb: u64,
    /// Maximum decompressed size of one gzip file or zip entry in a trail import, in megabytes.
    pub max_decompressed_mb: u64,
    /// Largest evidence file accepted, in megabytes. A larger upload is refused with 413
    /// before the rest of its body is read.
    pub max_evidence_mb: u64,
    /// Object store for evidence files, such as `s3://bucket/prefix` (credentials and endpoint
    /// from the `AWS_*` variables) or `file:///srv/rekey-evidence`; empty means the
    /// `evidence` directory in `data_dir`.
    pub evidence_store_url: String,
    /// SMTP server host name; empty means mail is not configured and stays in the outbox.
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: SmtpSecurity,
    pub smtp_username: String,
    pub smtp_password: Option<Secret>,
    /// Sender address of notification emails.
    pub mail_from: String,
    /// Milliseconds before the first retry of a failed email; each later retry waits twice as
    /// long, up to `mail_retry_max_ms`.
    pub mail_retry_base_ms: u64,
    pub mail_retry_max_ms: u64,
    /// Attempts after which an email is marked failed and no longer retried.
    pub mail_max_attempts: u32,
    /// Seconds between status updates to stakeholders of a case of severity P1 to P4; 0 means
    /// the severity has no cadence.
    pub status_cadence_p1_seconds: u64,
    pub status_cadence_p2_seconds: u64,
    pub status_cadence_p3_seconds: u64,
    pub status_cadence_p4_seconds: u64,
    /// Log output: `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// Minutes to watch the trail after a credential's last containment action before it
    /// counts as verified.
    pub verification_window_minutes: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: String::new(),
            data_dir: PathBuf::from("rekey-data"),
            database_url: String::new(),
            site_dir: PathBuf::from("target/site"),
            admin_password: None,
            session_hours: 12,
            session_idle_minutes: 120,
            require_totp_for_admins: false,
            max_upload_mb: 2048,
            max_decompressed_mb: rekey_trail::DEFAULT_MAX_DECOMPRESSED_BYTES / (1024 * 1024),
            max_evidence_mb: 4096,
            evidence_store_url: String::new(),
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: String::new(),
            smtp_password: None,
            mail_from: "Rekey <rekey@localhost>".to_string(),
            mail_retry_base_ms: 5_000,
            mail_retry_max_ms: 600_000,
            mail_max_attempts: 12,
            status_cadence_p1_seconds: 30 * 60,
            status_cadence_p2_seconds: 2 * 60 * 60,
            status_cadence_p3_seconds: 24 * 60 * 60,
            status_cadence_p4_seconds: 0,
            log_format: LogFormat::Text,
            verification_window_minutes: 30,
        }
    }
}

/// Setting names, each read from the file as is and from the environment as `REKEY_<NAME>`.
const KEYS: &[&str] = &[
    "listen",
    "public_url",
    "data_dir",
    "database_url",
    "site_dir",
    "admin_password",
    "session_hours",
    "session_idle_minutes",
    "require_totp_for_admins",
    "max_upload_mb",
    "max_decompressed_mb",
    "max_evidence_mb",
    "evidence_store_url",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "smtp_password",
    "mail_from",
    "mail_retry_base_ms",
    "mail_retry_max_ms",
    "mail_max_attempts",
    "status_cadence_p1_seconds",
    "status_cadence_p2_seconds",
    "status_cadence_p3_seconds",
    "status_cadence_p4_seconds",
    "log_format",
    "verification_window_minutes",
];

/// Values given on the command line; each overrides every other layer.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// Reads the settings from all layers and checks them.
    ///
    /// `file` is the TOML file named by `--config`; without one, `rekey.toml` in the working
    /// directory is read when it exists.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));

        match file {
            Some(path) if !path.is_file() => {
                return Err(ConfigError(format!(
                    "configuration file {} not found; check the --config path",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file("rekey.toml")),
        }

        warn_unknown_env_vars();
        figment = figment
            .merge(Env::raw().only(&["DATABASE_URL"]).map(|_| "database_url".into()))
            .merge(Env::prefixed("REKEY_").only(KEYS));
        figment = figment.merge(Serialized::defaults(overrides));

        let settings: Settings = figment.extract().map_err(describe_figment_error)?;
        settings.check()?;
        Ok(settings)
    }

    /// Checks values that parse but cannot work.
    pub fn check(&self) -> Result<(), ConfigError> {
        let public_url = url::Url::parse(&self.public_url()).map_err(|_| {
            ConfigError(format!(
                "public_url '{}' is not a URL; use the form https://rekey.example.com",
                self.public_url
            ))
        })?;
        if !matches!(public_url.scheme(), "http" | "https") || public_url.host_str().is_none() {
            return Err(ConfigError(format!(
                "public_url '{}' must start with http:// or https://",
                self.public_url
            )));
        }
        let database_url = self.database_url();
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            return Err(ConfigError(format!(
                "database_url must start with sqlite: or postgres://, not '{}'",
                redact_url_password(&database_url)
            )));
        }
        if !(1..=10_080).contains(&self.verification_window_minutes) {
            return Err(ConfigError(
                "verification_window_minutes must be between 1 and 10080 (one week)".to_string(),
            ));
        }
        if self.session_hours == 0 {
            return Err(ConfigError(
                "session_hours must be at least 1".to_string(),
            ));
        }
        if self.session_idle_minutes == 0 {
            return Err(ConfigError(
                "session_idle_minutes must be at least 1".to_string(),
            ));
        }
        if self.max_upload_mb == 0 {
            return Err(ConfigError(
                "max_upload_mb must be at least 1".to_string(),
            ));
        }
        if self.max_decompressed_mb == 0 {
            return Err(ConfigError(
                "max_decompressed_mb must be at least 1".to_string(),
            ));
        }
        if self.max_evidence_mb == 0 {
            return Err(ConfigError(
                "max_evidence_mb must be at least 1".to_string(),
            ));
        }
        if self.mail_configured() {
            self.check_smtp()?;
        }
        Ok(())
    }

    fn check_smtp(&self) -> Result<(), ConfigError> {
        let local = matches!(self.smtp_host.as_str(), "localhost" | "127.0.0.1" | "::1");
        if self.smtp_security == SmtpSecurity::None && !local {
            return Err(ConfigError(format!(
                "smtp_security = none would send mail unencrypted to {}; use starttls or tls, \
                 or none only with smtp_host localhost",
                self.smtp_host
            )));
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError(format!(
                "mail_from '{}' is not an email address; use the form Rekey <rekey@example.com>",
                self.mail_from
            )));
        }
        if self.mail_max_attempts == 0 {
            return Err(ConfigError(
                "mail_max_attempts must be at least 1".to_string(),
            ));
        }
        Ok(())
    }

    /// Returns the time between status updates for a case of `severity`, or `None` when that
    /// severity has no cadence.
    pub fn status_cadence(&self, severity: rekey_types::Severity) -> Option<Duration> {
        use rekey_types::Severity;
        let seconds = match severity {
            Severity::P1 => self.status_cadence_p1_seconds,
            Severity::P2 => self.status_cadence_p2_seconds,
            Severity::P3 => self.status_cadence_p3_seconds,
            Severity::P4 => self.status_cadence_p4_seconds,
        };
        (seconds > 0).then(|| Duration::from_secs(seconds))
    }

    /// Returns the database URL, with the SQLite default filled in.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            let path = self.data_dir.join("rekey.db");
            format!("sqlite://{}?mode=rwc", path.display())
        } else {
            self.database_url.clone()
        }
    }

    /// Returns the URL people use, without a trailing slash.
    pub fn public_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_string()
        }
    }

    pub fn mail_configured(&self) -> bool {
        !self.smtp_host.is_empty()
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url().starts_with("https://")
    }

    pub fn session_lifetime(&self) -> Duration {
        Duration::from_secs(u64::from(self.session_hours) * 3600)
    }

    pub fn session_idle_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.session_idle_minutes) * 60)
    }

    /// Limits of reading one trail file, from `max_decompressed_mb`.
    pub fn trail_read_options(&self) -> rekey_trail::ReadOptions {
        rekey_trail::ReadOptions {
            max_decompressed_bytes: self.max_decompressed_mb.saturating_mul(1024 * 1024),
            ..rekey_trail::ReadOptions::default()
        }
    }

    pub fn max_evidence_bytes(&self) -> u64 {
        self.max_evidence_mb.saturating_mul(1024 * 1024)
    }

    pub fn max_upload_bytes(&self) -> usize {
        usize::try_from(self.max_upload_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }
}

fn describe_figment_error(error: figment::Error) -> ConfigError {
    let messages: Vec<String> = error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{source}", e.kind)
            } else {
                format!("setting '{key}'{source}: {}", e.kind)
            }
        })
        .collect();
    ConfigError(messages.join("; "))
}

fn warn_unknown_env_vars() {
    for (name, _) in std::env::vars() {
        let Some(key) = name.strip_prefix("REKEY_") else {
            continue;
        };
        let key = key.to_ascii_lowercase();
        // REKEY_CONFIG names the file and REKEY_NEW_PASSWORD is read by `rekey user add`.
        let other_uses = ["config", "new_password"];
        if !KEYS.contains(&key.as_str()) && !key.starts_with("test_") && !other_uses.contains(&key.as_str()) {
            eprintln!("warning: ignoring unknown environment variable {name}");
        }
    }
}

/// Replaces the password in a URL with `***` so it can be printed.
pub fn redact_url_password(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_checks() {
        assert!(Settings::default().check().is_ok());
    }

    #[test]
    fn default_database_is_sqlite_in_data_dir() {
        let url = Settings::default().database_url();
        assert_eq!(url, "sqlite://rekey-data/rekey.db?mode=rwc");
    }

    #[test]
    fn secret_hidden_in_debug() {
        let settings = Settings {
            smtp_password: Some(Secret::new("hunter2hunter2")),
            ..Settings::default()
        };
        let printed = format!("{settings:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn plain_smtp_rejected_for_remote_host() {
        let settings = Settings {
            smtp_host: "mail.example.com".into(),
            smtp_security: SmtpSecurity::None,
            ..Settings::default()
        };
        let error = settings.check().unwrap_err().to_string();
        assert!(error.contains("smtp_security"), "{error}");
    }

    #[test]
    fn bad_public_url_named() {
        let settings = Settings {
            public_url: "rekey.example.com".into(),
            ..Settings::default()
        };
        let error = settings.check().unwrap_err().to_string();
        assert!(error.contains("public_url"), "{error}");
    }

    #[test]
    fn file_value_of_wrong_type_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rekey.toml");
        std::fs::write(&path, "session_hours = \"many\"\n").unwrap();
        let error = Settings::load(Some(&path), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("session_hours"), "{error}");
    }

    #[test]
    fn unknown_file_key_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rekey.toml");
        std::fs::write(&path, "smtp_hots = \"mail\"\n").unwrap();
        let error = Settings::load(Some(&path), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("smtp_hots"), "{error}");
    }

    #[test]
    fn flags_override_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rekey.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nsession_hours = 3\n").unwrap();
        let overrides = Overrides {
            listen: Some("127.0.0.1:9100".parse().unwrap()),
            ..Overrides::default()
        };
        let settings = Settings::load(Some(&path), &overrides).unwrap();
        assert_eq!(settings.listen.port(), 9100);
        assert_eq!(settings.session_hours, 3);
    }
}
