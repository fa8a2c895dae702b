//! Authorization matrix: every route of the API, taken from the router, against every kind of
//! caller. A route added without an entry in `expectation` fails this test.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{expect_status, new_client, spawn_app, Backend, Session, TestApp};
use crate::on_both_backends;

on_both_backends!(authorization_matrix);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Caller {
    Anonymous,
    /// Administrator who is not a member of the case.
    Admin,
    Lead,
    Analyst,
    Viewer,
    /// Analyst who is not a member of the case.
    Outsider,
    Manager,
    /// Stakeholder account invited to the case, with no section shared.
    Stakeholder,
}

const CALLERS: [Caller; 8] = [
    Caller::Anonymous,
    Caller::Admin,
    Caller::Lead,
    Caller::Analyst,
    Caller::Viewer,
    Caller::Outsider,
    Caller::Manager,
    Caller::Stakeholder,
];

/// Which callers a route admits.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Everyone, signed in or not.
    Public,
    /// Every signed-in user.
    SignedIn,
    /// Administrators only.
    AdminOnly,
    /// Users who may open cases.
    CaseCreators,
    /// Members, and managers for cases that are not restricted. Stakeholders read the
    /// overview only.
    CaseRead { overview: bool },
    /// Members whose role may write.
    CaseWrite,
    /// Leads of the case.
    CaseLead,
    /// Leads of the case and administrators.
    CaseLeadOrAdmin,
    /// Members, managers, and administrators.
    CaseReadOrAdmin,
    /// Every signed-in user except stakeholders.
    Staff,
}

/// Returns the rule of each route. A route without an entry fails the test.
fn expectation(method: &Method, path: &str) -> Rule {
    let m = method.as_str();
    match (m, path) {
        ("GET", "/status") => Rule::Public,
        ("POST", "/session") => Rule::Public,
        ("GET", "/session") => Rule::SignedIn,
        // Logging out without a session has nothing to end and returns 204 all the same.
        ("DELETE", "/session") => Rule::Public,
        ("GET", "/cases") => Rule::SignedIn,
        ("POST", "/cases") => Rule::CaseCreators,
        ("GET", "/cases/{number}") => Rule::CaseRead { overview: true },
        ("POST", "/cases/{number}/phase") | ("PATCH", "/cases/{number}") => Rule::CaseWrite,
        ("GET", "/cases/{number}/credentials" | "/cases/{number}/imports" | "/cases/{number}/findings") => {
            Rule::CaseRead { overview: false }
        }
        ("POST", "/cases/{number}/credentials" | "/cases/{number}/imports") => Rule::CaseWrite,
        ("GET", "/cases/{number}/stakeholders" | "/cases/{number}/notifications") => Rule::CaseRead { overview: false },
        ("POST", "/cases/{number}/stakeholders") => Rule::CaseWrite,
        ("GET", "/cases/{number}/members") => Rule::CaseReadOrAdmin,
        ("POST", "/cases/{number}/members") | ("DELETE", "/cases/{number}/members/{user_id}") => Rule::CaseLeadOrAdmin,
        ("GET" | "POST", "/cases/{number}/invitations") => Rule::CaseLead,
        ("GET", "/invitations/{token}") | ("POST", "/invitations/{token}/accept") => Rule::Public,
        ("GET" | "POST", "/users") | ("PATCH", "/users/{id}") => Rule::AdminOnly,
        ("GET", "/audit" | "/audit/verify") => Rule::AdminOnly,
        ("GET", "/cases/{number}/audit") => Rule::CaseLead,
        ("POST", "/account/password") => Rule::SignedIn,
        ("GET", "/account/sessions" | "/account/tokens") => Rule::SignedIn,
        ("DELETE", "/account/sessions/{id}" | "/account/tokens/{id}") => Rule::SignedIn,
        ("POST", "/account/tokens") => Rule::SignedIn,
        ("POST", "/account/totp/setup" | "/account/totp/enable" | "/account/totp/disable") => Rule::SignedIn,
        ("GET", "/cases/{number}/containment" | "/cases/{number}/impacts" | "/cases/{number}/resources") => {
            Rule::CaseRead { overview: false }
        }
        ("GET", "/cases/{number}/tasks" | "/cases/{number}/phase-changes" | "/cases/{number}/timeline") => {
            Rule::CaseRead { overview: false }
        }
        ("POST", "/cases/{number}/credentials/{id}/status" | "/cases/{number}/credentials/{id}/containment-actions") => {
            Rule::CaseWrite
        }
        ("PATCH", "/cases/{number}/containment-actions/{id}" | "/cases/{number}/recovery-actions/{id}") => Rule::CaseWrite,
        ("POST", "/cases/{number}/impacts" | "/cases/{number}/resources" | "/cases/{number}/timeline") => Rule::CaseWrite,
        ("PUT", "/cases/{number}/impacts/{id}" | "/cases/{number}/resources/{id}") => Rule::CaseWrite,
        ("POST", "/cases/{number}/resources/{id}/recovery-actions") | ("PATCH", "/cases/{number}/tasks/{id}") => {
            Rule::CaseWrite
        }
        ("GET", "/playbooks" | "/playbooks/{id}") | ("GET" | "PUT", "/preferences") => Rule::SignedIn,
        ("POST", "/playbooks") | ("PUT", "/playbooks/{id}") => Rule::AdminOnly,
        ("GET" | "POST", "/rules") | ("POST", "/rules/{id}/enable" | "/rules/{id}/disable") => Rule::AdminOnly,
        ("POST", "/cases/{number}/credentials/{id}/confirm") => Rule::CaseWrite,
        ("GET", "/cases/{number}/communications" | "/cases/{number}/legal-clocks" | "/cases/{number}/status-updates") => {
            Rule::CaseRead { overview: false }
        }
        ("GET", "/cases/{number}/status-schedule" | "/cases/{number}/stakeholders/{id}/notifications") => {
            Rule::CaseRead { overview: false }
        }
        ("POST", "/cases/{number}/communications" | "/cases/{number}/legal-clocks" | "/cases/{number}/status-updates") => {
            Rule::CaseWrite
        }
        ("POST", "/cases/{number}/legal-clocks/{id}/met" | "/cases/{number}/severity") => Rule::CaseWrite,
        ("POST", "/cases/{number}/notifications/{id}/retry") | ("PUT", "/cases/{number}/stakeholders/{id}/subscriptions") => {
            Rule::CaseWrite
        }
        ("GET", "/status-updates/overdue") => Rule::SignedIn,
        ("POST", "/admin/test-email") => Rule::AdminOnly,
        ("GET", "/cases/{number}/evidence" | "/cases/{number}/evidence/{id}" | "/cases/{number}/evidence/{id}/content") => {
            Rule::CaseRead { overview: false }
        }
        ("POST", "/cases/{number}/evidence" | "/cases/{number}/evidence/{id}/verify" | "/cases/{number}/evidence/{id}/links") => {
            Rule::CaseWrite
        }
        ("DELETE", "/cases/{number}/evidence/{id}/links/{kind}/{target_id}") => Rule::CaseWrite,
        ("PUT", "/cases/{number}/evidence/{id}/legal-hold") => Rule::CaseLead,
        ("GET", "/cases/{number}/report" | "/cases/{number}/report/markdown" | "/cases/{number}/report/pdf") => {
            Rule::CaseRead { overview: false }
        }
        ("GET", "/cases/{number}/lessons") => Rule::CaseRead { overview: false },
        ("PUT", "/cases/{number}/lessons" | "/cases/{number}/improvements/{id}") | ("POST", "/cases/{number}/improvements") => {
            Rule::CaseWrite
        }
        ("GET", "/dashboard") => Rule::Staff,
        ("POST", "/cases/{number}/report/send") => Rule::CaseLead,
        ("GET", "/cases/{number}/imports/running") => Rule::CaseRead { overview: false },
        _ => panic!("no authorization entry for {m} /api/v1{path}; add one to `expectation`"),
    }
}

fn admitted(rule: Rule, caller: Caller) -> bool {
    use Caller::*;
    match rule {
        Rule::Public => true,
        Rule::SignedIn => caller != Anonymous,
        Rule::AdminOnly => caller == Admin,
        Rule::CaseCreators => matches!(caller, Admin | Lead | Analyst | Viewer | Outsider),
        Rule::CaseRead { overview } => {
            matches!(caller, Lead | Analyst | Viewer | Manager) || (overview && caller == Stakeholder)
        }
        Rule::CaseWrite => matches!(caller, Lead | Analyst),
        Rule::CaseLead => caller == Lead,
        Rule::CaseLeadOrAdmin => matches!(caller, Lead | Admin),
        Rule::CaseReadOrAdmin => matches!(caller, Lead | Analyst | Viewer | Manager | Admin),
        Rule::Staff => !matches!(caller, Anonymous | Stakeholder),
    }
}

/// Tells whether a response means the caller was turned away: 401, 403, or the 404 that a
/// hidden case gives (as opposed to a 404 for a missing member or token).
async fn denied(response: reqwest::Response) -> (bool, String) {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let hidden_case = status == StatusCode::NOT_FOUND && text.contains("case not found");
    let denied = status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN || hidden_case;
    (denied, format!("{status} {text}"))
}

fn concrete(path: &str) -> String {
    path.replace("{number}", "1")
        .replace("{user_id}", "999")
        .replace("{id}", "999")
        .replace("{token}", "no-such-token")
        .replace("{kind}", "finding")
        .replace("{target_id}", "999")
}

async fn send(session: &Session, method: &Method, path: &str) -> reqwest::Response {
    let url = format!("/api/v1{}", concrete(path));
    let request = session.request(method.clone(), &url);
    let request = if path.ends_with("/imports") && method == Method::POST {
        let part = reqwest::multipart::Part::bytes(Vec::new()).file_name("empty.json");
        request.multipart(reqwest::multipart::Form::new().part("files", part))
    } else if method == Method::GET || method == Method::DELETE {
        request
    } else {
        request.json(&json!({}))
    };
    request.send().await.unwrap()
}

/// Creates the callers: a lead's case 1 with an analyst, a viewer and an invited stakeholder.
async fn callers(app: &TestApp) -> HashMap<Caller, Session> {
    app.login_admin().await;
    let mut sessions = HashMap::new();
    let lead = app.user_session("lead", "incident_lead").await;
    let body = json!({"title": "matrix", "severity": "P2", "detection_source": "other"});
    expect_status(lead.post("/api/v1/cases", &body).await, StatusCode::CREATED).await;
    for (name, role) in [("analyst", "analyst"), ("viewer", "viewer")] {
        let session = app.user_session(name, "analyst").await;
        let member = json!({"username": name, "role": role});
        expect_status(lead.post("/api/v1/cases/1/members", &member).await, StatusCode::CREATED).await;
        sessions.insert(if name == "analyst" { Caller::Analyst } else { Caller::Viewer }, session);
    }
    sessions.insert(Caller::Outsider, app.user_session("outsider", "analyst").await);
    sessions.insert(Caller::Manager, app.user_session("manager", "manager").await);

    let invite = json!({"name": "Dana", "email": "dana@example.com"});
    let invitation = expect_status(lead.post("/api/v1/cases/1/invitations", &invite).await, StatusCode::CREATED).await;
    let token = invitation["link"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let stakeholder = Session {
        base: app.base.clone(),
        client: new_client(),
    };
    let accept = json!({"username": "dana", "password": "dana's long password"});
    expect_status(stakeholder.post(&format!("/api/v1/invitations/{token}/accept"), &accept).await, StatusCode::OK).await;
    sessions.insert(Caller::Stakeholder, stakeholder);

    sessions.insert(Caller::Lead, lead);
    sessions.insert(Caller::Admin, app.session_for("admin", crate::helpers::ADMIN_PASSWORD).await);
    sessions.insert(
        Caller::Anonymous,
        Session {
            base: app.base.clone(),
            client: new_client(),
        },
    );
    sessions
}

async fn authorization_matrix(backend: Backend) {
    let app = spawn_app(backend).await;
    let sessions = callers(&app).await;
    let methods = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
    let mut checked = 0;
    let mut failures = Vec::new();

    for path in rekey::api::route_paths(&app.state) {
        for method in &methods {
            // The router returns 405 for a method that the path does not have.
            let probe = send(&sessions[&Caller::Anonymous], method, path).await;
            if probe.status() == StatusCode::METHOD_NOT_ALLOWED {
                continue;
            }
            let rule = expectation(method, path);
            for caller in CALLERS {
                // Logging out would end the session the rest of the matrix uses.
                if path == "/session" && method == Method::DELETE && caller != Caller::Anonymous {
                    continue;
                }
                let (was_denied, outcome) = denied(send(&sessions[&caller], method, path).await).await;
                let expected_denied = !admitted(rule, caller);
                checked += 1;
                if was_denied != expected_denied {
                    failures.push(format!(
                        "{method} /api/v1{path} as {caller:?}: expected {}, got {outcome}",
                        if expected_denied { "denied" } else { "admitted" }
                    ));
                }
            }
        }
    }
    assert!(checked > 150, "only {checked} checks ran; did the route list come back empty?");
    assert!(failures.is_empty(), "{} authorization mismatches:\n{}", failures.len(), failures.join("\n"));
}
