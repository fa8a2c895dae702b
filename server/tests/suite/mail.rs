//! Email through a real SMTP server process (Python's aiosmtpd writing to a Maildir).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_status, spawn_app_with, wait_for, Backend, TestApp};
use crate::trail_fixtures::{records_file, standard_events, COMPROMISE_TIME, LEAKED_KEY};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// An aiosmtpd process that stores every received message as a file in a Maildir.
pub struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    pub fn start(port: u16, maildir: &Path) -> SmtpServer {
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 -m aiosmtpd starts; `cargo xtask test` installs aiosmtpd");
        let server = SmtpServer {
            child,
            port,
            maildir: maildir.to_path_buf(),
        };
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&self) {
        let address = format!("127.0.0.1:{}", self.port).parse().unwrap();
        for _ in 0..150 {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the SMTP server did not listen on port {} within 15 s", self.port);
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Every message received so far, as text with quoted-printable bodies decoded.
    pub fn messages(&self) -> Vec<String> {
        read_maildir(&self.maildir)
            .iter()
            .map(|message| decode_quoted_printable(message))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_maildir(maildir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    let mut messages: Vec<(std::time::SystemTime, String)> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let modified = entry.metadata().ok()?.modified().ok()?;
            Some((modified, std::fs::read_to_string(entry.path()).ok()?))
        })
        .collect();
    messages.sort();
    messages.into_iter().map(|(_, text)| text).collect()
}

/// Decodes quoted-printable soft line breaks and `=XX` escapes anywhere in the text, so checks
/// see the words as written. Header text is left as it is unless it holds such an escape.
pub fn decode_quoted_printable(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let rest = &bytes[index..];
        if rest.starts_with(b"=\r\n") {
            index += 3;
        } else if rest.starts_with(b"=\n") {
            index += 2;
        } else if rest.len() >= 3 && rest[0] == b'=' && rest[1].is_ascii_hexdigit() && rest[2].is_ascii_hexdigit() {
            let hex = std::str::from_utf8(&rest[1..3]).unwrap();
            decoded.push(u8::from_str_radix(hex, 16).unwrap());
            index += 3;
        } else {
            decoded.push(rest[0]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Value of a header in a raw message, with folded lines joined.
pub fn header(message: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}: ");
    let mut lines = message.lines().skip_while(|line| !line.starts_with(&prefix));
    let mut value = lines.next()?.strip_prefix(&prefix)?.to_string();
    for continuation in lines.take_while(|line| line.starts_with([' ', '\t'])) {
        value.push(' ');
        value.push_str(continuation.trim_start());
    }
    Some(value)
}

pub async fn app_with_mail(backend: Backend, port: u16) -> TestApp {
    app_with_mail_and(backend, port, |_| {}).await
}

/// Starts a test app that mails through the SMTP server on `port`, with further settings from `adjust`.
pub async fn app_with_mail_and(backend: Backend, port: u16, adjust: impl FnOnce(&mut rekey::config::Settings)) -> TestApp {
    spawn_app_with(backend, |settings| {
        settings.smtp_host = "127.0.0.1".to_string();
        settings.smtp_port = port;
        settings.smtp_security = rekey::config::SmtpSecurity::None;
        settings.mail_from = "Rekey <rekey@rekey.test>".to_string();
        adjust(settings);
    })
    .await
}

pub async fn notification_states(app: &TestApp, case: i64) -> Vec<serde_json::Value> {
    let list = app.get_json(&format!("/api/v1/cases/{case}/notifications")).await;
    list.as_array().unwrap().clone()
}

async fn mail_delivery_survives_outage(backend: Backend) {
    let temp = tempfile::tempdir().unwrap();
    let maildir = temp.path().join("maildir");
    let port = free_port();
    let smtp = SmtpServer::start(port, &maildir);
    let app = app_with_mail(backend, port).await;
    app.login_admin().await;

    let body = json!({
        "title": format!("Key and secret {SECRET} pasted in chat"),
        "summary": format!("The secret {SECRET} was in the paste."),
        "severity": "P1",
        "detection_source": "anonymous_report",
        "compromise_time": COMPROMISE_TIME,
    });
    let case = expect_status(app.post("/api/v1/cases", &body).await, StatusCode::CREATED).await;
    let case = case["number"].as_i64().unwrap();
    app.add_access_key(case, LEAKED_KEY).await;
    for (name, email, role) in [("Dana", "dana@example.com", "legal"), ("Chris", "chris@example.com", "communications")] {
        let body = json!({"name": name, "email": email, "role": role});
        expect_status(app.post(&format!("/api/v1/cases/{case}/stakeholders"), &body).await, StatusCode::CREATED).await;
    }

    // A phase change mails every stakeholder.
    let body = json!({"phase": "containment", "force": true, "reason": "playbook tasks not part of this test"});
    let moved = app.post(&format!("/api/v1/cases/{case}/phase"), &body).await;
    expect_status(moved, StatusCode::OK).await;
    let messages = wait_for("two phase-change emails", Duration::from_secs(20), || async {
        let messages = smtp.messages();
        (messages.len() >= 2).then_some(messages)
    })
    .await;
    assert_eq!(messages.len(), 2);
    let mut recipients: Vec<String> = messages.iter().map(|m| header(m, "To").unwrap()).collect();
    recipients.sort();
    assert_eq!(recipients, ["chris@example.com", "dana@example.com"]);
    for message in &messages {
        let subject = header(message, "Subject").unwrap();
        assert!(subject.contains("[RK-1]"), "{subject}");
        assert!(subject.contains("Containment"), "{subject}");
        assert_eq!(header(message, "From").as_deref(), Some("Rekey <rekey@rekey.test>"));
        assert!(message.contains("http://rekey.test/cases/1"), "link missing:\n{message}");
        assert!(!message.contains(SECRET), "secret in email:\n{message}");
        assert!(!message.contains("wJalrXUtnFEMI"), "part of the secret in email:\n{message}");
        assert!(message.contains("[REDACTED]"), "{message}");
    }
    // The worker marks an email sent just after the SMTP server accepts it.
    wait_for("both emails marked sent", Duration::from_secs(15), || async {
        let states = notification_states(&app, case).await;
        states.iter().all(|n| n["status"] == "sent").then_some(())
    })
    .await;

    // With the server down, a change waits in the outbox and is retried.
    smtp.stop();
    let upload = app.upload(case, &[("trail.json", records_file(&standard_events()))]).await;
    expect_status(upload, StatusCode::CREATED).await;
    wait_for("three failed delivery attempts each", Duration::from_secs(30), || async {
        let states = notification_states(&app, case).await;
        let retrying = states
            .iter()
            .filter(|n| n["status"] == "queued" && n["attempts"].as_i64().unwrap() >= 3)
            .count();
        (retrying == 2).then_some(())
    })
    .await;
    let states = notification_states(&app, case).await;
    assert!(states.iter().any(|n| n["last_error"].is_string()), "{states:?}");

    // Back up on the same port: the queued emails arrive, once each.
    let smtp = SmtpServer::start(port, &maildir);
    let messages = wait_for("the emails queued during the outage", Duration::from_secs(30), || async {
        let messages = smtp.messages();
        (messages.len() >= 4).then_some(messages)
    })
    .await;
    let findings_mails: Vec<&String> = messages
        .iter()
        .filter(|m| header(m, "Subject").is_some_and(|s| s.contains("eradication finding")))
        .collect();
    assert_eq!(findings_mails.len(), 2);
    assert!(findings_mails[0].contains("CreateUser"), "{}", findings_mails[0]);
    wait_for("every notification sent", Duration::from_secs(10), || async {
        let states = notification_states(&app, case).await;
        states.iter().all(|n| n["status"] == "sent").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 4, "no email sent twice");
    let mut ids = message_ids(&messages);
    ids.dedup();
    assert_eq!(ids.len(), 4, "Message-IDs: {ids:?}");
}

/// Message-ID headers of the messages, sorted.
pub fn message_ids(messages: &[String]) -> Vec<String> {
    let mut ids: Vec<String> = messages
        .iter()
        .map(|message| header(message, "Message-ID").expect("every email has a Message-ID"))
        .collect();
    ids.sort();
    ids
}

/// Points a test app at an SMTP port and gives up on an email after `max_attempts`.
async fn app_with_mail_attempts(backend: Backend, port: u16, max_attempts: u32) -> TestApp {
    spawn_app_with(backend, |settings| {
        settings.smtp_host = "127.0.0.1".to_string();
        settings.smtp_port = port;
        settings.smtp_security = rekey::config::SmtpSecurity::None;
        settings.mail_from = "Rekey <rekey@rekey.test>".to_string();
        settings.mail_max_attempts = max_attempts;
    })
    .await
}

pub async fn add_stakeholder(app: &TestApp, case: i64, name: &str, email: &str, role: &str) -> i64 {
    let body = json!({"name": name, "email": email, "role": role});
    let response = app.post(&format!("/api/v1/cases/{case}/stakeholders"), &body).await;
    let stakeholder = expect_status(response, StatusCode::CREATED).await;
    stakeholder["id"].as_i64().unwrap()
}

pub async fn change_phase(app: &TestApp, case: i64, phase: &str) {
    let body = json!({"phase": phase, "force": true, "reason": "moving on for the test"});
    let response = app.post(&format!("/api/v1/cases/{case}/phase"), &body).await;
    expect_status(response, StatusCode::OK).await;
}

async fn failed_email_retried_now(backend: Backend) {
    let temp = tempfile::tempdir().unwrap();
    let maildir = temp.path().join("maildir");
    let port = free_port();
    let app = app_with_mail_attempts(backend, port, 2).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let dana = add_stakeholder(&app, case, "Dana", "dana@example.com", "legal").await;
    let chris = add_stakeholder(&app, case, "Chris", "chris@example.com", "communications").await;

    // No SMTP server listens yet, so both emails use up their two attempts.
    change_phase(&app, case, "containment").await;
    let states = wait_for("two failed emails", Duration::from_secs(20), || async {
        let states = notification_states(&app, case).await;
        states.iter().all(|n| n["status"] == "failed").then_some(states)
    })
    .await;
    assert_eq!(states.len(), 2);
    for state in &states {
        assert_eq!(state["attempts"], 2, "{state}");
        assert!(state["last_error"].is_string(), "{state}");
        assert!(state["last_attempt_at"].is_string(), "{state}");
        assert!(state["next_attempt_at"].is_null(), "{state}");
    }

    // The delivery log of one stakeholder lists only that stakeholder's email.
    let log = app.get_json(&format!("/api/v1/cases/{case}/stakeholders/{dana}/notifications")).await;
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["recipient"], "dana@example.com");
    assert_eq!(log[0]["stakeholder_id"], dana);

    // "Retry now" after the server is back delivers Dana's email once; Chris's stays failed.
    let smtp = SmtpServer::start(port, &maildir);
    let dana_email = log[0]["id"].as_i64().unwrap();
    let retried = app
        .post(&format!("/api/v1/cases/{case}/notifications/{dana_email}/retry"), &json!({}))
        .await;
    let retried = expect_status(retried, StatusCode::OK).await;
    assert_eq!(retried["status"], "queued");
    let messages = wait_for("the retried email", Duration::from_secs(20), || async {
        let messages = smtp.messages();
        (!messages.is_empty()).then_some(messages)
    })
    .await;
    assert_eq!(header(&messages[0], "To").as_deref(), Some("dana@example.com"));
    let dana_state = wait_for("the retried email marked sent", Duration::from_secs(10), || async {
        let log = app.get_json(&format!("/api/v1/cases/{case}/stakeholders/{dana}/notifications")).await;
        let state = log[0].clone();
        (state["status"] == "sent").then_some(state)
    })
    .await;
    assert_eq!(dana_state["attempts"], 3);
    let history = dana_state["history"].as_array().unwrap();
    let outcomes: Vec<&str> = history.iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["failed", "failed", "sent"]);
    assert!(history[0]["detail"].as_str().unwrap().len() > 0, "{}", history[0]);
    assert!(history[2]["detail"].as_str().unwrap().starts_with("250"), "{}", history[2]);
    assert!(dana_state["sent_at"].is_string(), "{dana_state}");
    let chris_log = app.get_json(&format!("/api/v1/cases/{case}/stakeholders/{chris}/notifications")).await;
    assert_eq!(chris_log[0]["status"], "failed");

    // A sent email cannot be retried, and an unknown one is not found.
    let again = app
        .post(&format!("/api/v1/cases/{case}/notifications/{dana_email}/retry"), &json!({}))
        .await;
    let conflict = expect_status(again, StatusCode::CONFLICT).await;
    assert!(conflict["error"]["message"].as_str().unwrap().contains("already sent"), "{conflict}");
    let unknown = app.post(&format!("/api/v1/cases/{case}/notifications/999999/retry"), &json!({})).await;
    expect_status(unknown, StatusCode::NOT_FOUND).await;
    let unknown = app.get(&format!("/api/v1/cases/{case}/stakeholders/999999/notifications")).await;
    expect_status(unknown, StatusCode::NOT_FOUND).await;

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1, "only the retried email is sent");
}

crate::on_both_backends!(failed_email_retried_now);

/// Two Rekey instances on one PostgreSQL database, each with its own outbox worker, deliver
/// every email exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_send_each_email_once() {
    let temp = tempfile::tempdir().unwrap();
    let maildir = temp.path().join("maildir");
    let port = free_port();
    let first = app_with_mail(Backend::Postgres, port).await;
    let mut settings = (*first.state.settings).clone();
    settings.listen = "127.0.0.1:0".parse().unwrap();
    let second = rekey::build(settings).await.expect("second instance builds");
    let (_stop_second, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(second.serve(async {
        let _ = stopped.await;
    }));

    // The emails queue while no SMTP server listens, so both workers find them all due at once
    // when it starts.
    first.login_admin().await;
    let case = first.create_case(COMPROMISE_TIME).await;
    let recipients = 8;
    for index in 0..recipients {
        let email = format!("person{index}@example.com");
        add_stakeholder(&first, case, &format!("Person {index}"), &email, "technical").await;
    }
    for phase in ["containment", "eradication", "recovery", "post_incident"] {
        change_phase(&first, case, phase).await;
    }
    let expected = recipients * 4;
    let smtp = SmtpServer::start(port, &maildir);

    wait_for("every email marked sent", Duration::from_secs(60), || async {
        let states = notification_states(&first, case).await;
        let sent = states.iter().filter(|n| n["status"] == "sent").count();
        (sent == expected).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), expected, "each email delivered once");
    let mut ids = message_ids(&messages);
    ids.dedup();
    assert_eq!(ids.len(), expected, "Message-IDs: {ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_delivery_survives_outage_sqlite() {
    mail_delivery_survives_outage(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_delivery_survives_outage_postgres() {
    mail_delivery_survives_outage(Backend::Postgres).await;
}
