//! Playbook templates, checklist tasks and phase changes through the API.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_status, new_client, spawn_app, Backend, Session, TestApp};
use crate::on_both_backends;

on_both_backends!(
    new_case_gets_playbook_tasks,
    task_progress_records_who_and_when,
    task_skip_requires_reason,
    task_invalid_input_names_field,
    task_stale_version_conflicts,
    task_of_other_case_not_found,
    phase_change_blocked_by_open_tasks,
    phase_change_jump_checks_skipped_phases,
    phase_change_back_needs_no_force,
    phase_force_needs_lead_or_admin,
    playbook_edit_by_admin_only,
    playbook_invalid_input_names_field,
    playbook_stale_version_conflicts,
);

const COMPROMISE_TIME: &str = "2023-07-10T12:20:00Z";

async fn tasks(app: &TestApp, case: i64) -> Vec<Value> {
    let tasks = app.get_json(&format!("/api/v1/cases/{case}/tasks")).await;
    tasks.as_array().unwrap().clone()
}

async fn patch_task(app: &TestApp, case: i64, task: i64, body: Value) -> reqwest::Response {
    app.request(Method::PATCH, &format!("/api/v1/cases/{case}/tasks/{task}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Sets a task's status, failing the test unless the update succeeds.
async fn set_status(app: &TestApp, case: i64, task: &Value, status: &str) -> Value {
    let mut body = json!({"version": task["version"], "status": status});
    if status == "skipped" {
        body["skip_reason"] = json!("not applicable to this case");
    }
    let response = patch_task(app, case, task["id"].as_i64().unwrap(), body).await;
    expect_status(response, StatusCode::OK).await
}

async fn change_phase(app: &TestApp, case: i64, body: Value) -> reqwest::Response {
    app.post(&format!("/api/v1/cases/{case}/phase"), &body)
        .await
}

async fn current_phase(app: &TestApp, case: i64) -> String {
    let case = app.get_json(&format!("/api/v1/cases/{case}")).await;
    case["phase"].as_str().unwrap().to_string()
}

async fn new_case_gets_playbook_tasks(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let tasks = tasks(&app, case).await;

    assert_eq!(tasks.len(), 18);
    let count = |phase: &str| tasks.iter().filter(|task| task["phase"] == phase).count();
    assert_eq!(count("identification"), 8);
    assert_eq!(count("containment"), 2);
    assert_eq!(count("eradication"), 4);
    assert_eq!(count("recovery"), 1);
    assert_eq!(count("post_incident"), 3);
    assert_eq!(tasks[0]["title"], "Record how the incident was detected");
    assert_eq!(tasks[17]["title"], "Review lessons learned");
    assert!(tasks.iter().all(|task| task["status"] == "todo"));
    assert!(tasks.iter().all(|task| task["version"] == 1));
    assert!(tasks.iter().all(|task| task["finished_by"].is_null()));
}

async fn task_progress_records_who_and_when(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let task = tasks(&app, case).await[0].clone();
    let id = task["id"].as_i64().unwrap();

    let body = json!({"version": 1, "status": "in_progress", "assignee": "admin", "due_at": "2023-07-10T16:00:00+02:00"});
    let started = expect_status(patch_task(&app, case, id, body).await, StatusCode::OK).await;
    assert_eq!(started["status"], "in_progress");
    assert_eq!(started["version"], 2);
    assert_eq!(started["assignee"], "admin");
    assert_eq!(started["assignee_name"], "Administrator");
    assert_eq!(started["due_at"], "2023-07-10T14:00:00Z");
    assert!(started["finished_at"].is_null());

    let done = set_status(&app, case, &started, "done").await;
    assert_eq!(done["version"], 3);
    assert_eq!(done["finished_by"], "Administrator");
    assert!(done["finished_at"].is_string());
    assert_eq!(
        done["assignee"], "admin",
        "fields not sent stay as they are"
    );

    let reopened = set_status(&app, case, &done, "todo").await;
    assert!(reopened["finished_by"].is_null());
    assert!(reopened["finished_at"].is_null());

    let body = json!({"version": reopened["version"], "assignee": "", "due_at": ""});
    let cleared = expect_status(patch_task(&app, case, id, body).await, StatusCode::OK).await;
    assert!(cleared["assignee"].is_null());
    assert!(cleared["due_at"].is_null());
}

async fn task_skip_requires_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let id = tasks(&app, case).await[5]["id"].as_i64().unwrap();

    let missing = patch_task(&app, case, id, json!({"version": 1, "status": "skipped"})).await;
    let error = expect_status(missing, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "skip_reason");
    let blank = patch_task(
        &app,
        case,
        id,
        json!({"version": 1, "status": "skipped", "skip_reason": "  "}),
    )
    .await;
    expect_status(blank, StatusCode::UNPROCESSABLE_ENTITY).await;
    let unchanged = &tasks(&app, case).await[5];
    assert_eq!(unchanged["status"], "todo");
    assert_eq!(unchanged["version"], 1);

    let body = json!({"version": 1, "status": "skipped", "skip_reason": "no application was down"});
    let skipped = expect_status(patch_task(&app, case, id, body).await, StatusCode::OK).await;
    assert_eq!(skipped["status"], "skipped");
    assert_eq!(skipped["skip_reason"], "no application was down");
    assert_eq!(skipped["finished_by"], "Administrator");

    let body = json!({"version": 2, "assignee": "admin"});
    let assigned = expect_status(patch_task(&app, case, id, body).await, StatusCode::OK).await;
    assert_eq!(
        assigned["skip_reason"], "no application was down",
        "reason kept while skipped"
    );

    let reopened = set_status(&app, case, &assigned, "in_progress").await;
    assert!(reopened["skip_reason"].is_null());
}

async fn task_invalid_input_names_field(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let id = tasks(&app, case).await[0]["id"].as_i64().unwrap();
    let cases = [
        (
            "due_at",
            json!({"version": 1, "due_at": "2023-07-10T16:00:00"}),
            "no time zone",
        ),
        (
            "due_at",
            json!({"version": 1, "due_at": "tomorrow"}),
            "RFC 3339",
        ),
        (
            "assignee",
            json!({"version": 1, "assignee": "nobody"}),
            "no active user 'nobody'",
        ),
        (
            "status",
            json!({"version": 1, "status": "finished"}),
            "unknown variant",
        ),
        ("version", json!({"status": "done"}), "missing field"),
        (
            "title",
            json!({"version": 1, "title": "renamed"}),
            "unknown field",
        ),
        (
            "skip_reason",
            json!({"version": 1, "status": "skipped", "skip_reason": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}),
            "never stores secrets",
        ),
    ];
    for (field, body, expected) in cases {
        let response = patch_task(&app, case, id, body.clone()).await;
        let error = expect_status(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error["error"]["field"], field, "{body}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{field}: {message}");
    }
    let task = &tasks(&app, case).await[0];
    assert_eq!(task["version"], 1, "invalid updates change nothing");
    assert!(task["due_at"].is_null());
}

async fn task_stale_version_conflicts(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let id = tasks(&app, case).await[0]["id"].as_i64().unwrap();

    let first = patch_task(&app, case, id, json!({"version": 1, "status": "done"})).await;
    expect_status(first, StatusCode::OK).await;
    let second = patch_task(
        &app,
        case,
        id,
        json!({"version": 1, "status": "in_progress"}),
    )
    .await;
    let error = expect_status(second, StatusCode::CONFLICT).await;
    assert_eq!(error["error"]["code"], "stale_version");
    assert_eq!(error["error"]["field"], "version");
    assert_eq!(error["error"]["current_version"], 2);
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("reload"));

    let task = &tasks(&app, case).await[0];
    assert_eq!(task["status"], "done", "the stale save overwrote nothing");

    let concurrent =
        (0..4).map(|_| patch_task(&app, case, id, json!({"version": 2, "status": "todo"})));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(concurrent)
        .await
        .iter()
        .map(|response| response.status())
        .collect();
    let succeeded = statuses
        .iter()
        .filter(|status| **status == StatusCode::OK)
        .count();
    assert_eq!(succeeded, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
}

async fn task_of_other_case_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let first = app.create_case(COMPROMISE_TIME).await;
    let second = app.create_case(COMPROMISE_TIME).await;
    let id = tasks(&app, first).await[0]["id"].as_i64().unwrap();

    let response = patch_task(&app, second, id, json!({"version": 1, "status": "done"})).await;
    expect_status(response, StatusCode::NOT_FOUND).await;
    let response = patch_task(&app, 99, id, json!({"version": 1, "status": "done"})).await;
    expect_status(response, StatusCode::NOT_FOUND).await;
    assert_eq!(tasks(&app, first).await[0]["status"], "todo");
}

async fn phase_change_blocked_by_open_tasks(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;

    let blocked = change_phase(&app, case, json!({"phase": "containment"})).await;
    let error = expect_status(blocked, StatusCode::CONFLICT).await;
    assert_eq!(error["error"]["field"], "force");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("8 task(s) of Identification are still open"),
        "{message}"
    );
    assert!(message.contains("Set the compromise time"), "{message}");

    let no_reason = change_phase(&app, case, json!({"phase": "containment", "force": true})).await;
    let error = expect_status(no_reason, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "reason");
    assert_eq!(current_phase(&app, case).await, "identification");
    assert_eq!(
        app.get_json(&format!("/api/v1/cases/{case}/phase-changes"))
            .await,
        json!([])
    );

    let body =
        json!({"phase": "containment", "force": true, "reason": "key is live; contain first"});
    expect_status(change_phase(&app, case, body).await, StatusCode::OK).await;
    assert_eq!(current_phase(&app, case).await, "containment");

    for task in tasks(&app, case)
        .await
        .iter()
        .filter(|task| task["phase"] == "containment")
    {
        set_status(&app, case, task, "done").await;
    }
    let unforced = change_phase(&app, case, json!({"phase": "eradication"})).await;
    expect_status(unforced, StatusCode::OK).await;

    let changes = app
        .get_json(&format!("/api/v1/cases/{case}/phase-changes"))
        .await;
    assert_eq!(changes.as_array().unwrap().len(), 2);
    assert_eq!(changes[0]["from_phase"], "identification");
    assert_eq!(changes[0]["to_phase"], "containment");
    assert_eq!(changes[0]["forced"], true);
    assert_eq!(changes[0]["reason"], "key is live; contain first");
    assert_eq!(changes[0]["open_tasks"], 8);
    assert_eq!(changes[0]["changed_by"], "Administrator");
    assert_eq!(changes[1]["forced"], false);
    assert_eq!(changes[1]["open_tasks"], 0);
}

async fn phase_change_jump_checks_skipped_phases(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    for task in tasks(&app, case)
        .await
        .iter()
        .filter(|task| task["phase"] == "identification")
    {
        set_status(&app, case, task, "done").await;
    }

    let jump = change_phase(&app, case, json!({"phase": "recovery"})).await;
    let error = expect_status(jump, StatusCode::CONFLICT).await;
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("6 task(s) of Containment and Eradication are still open"),
        "{message}"
    );
    assert!(message.contains("Disable each leaked credential"), "{message}");
    assert_eq!(current_phase(&app, case).await, "identification");
}

async fn phase_change_back_needs_no_force(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let case = app.create_case(COMPROMISE_TIME).await;
    let body = json!({"phase": "containment", "force": true, "reason": "contain first"});
    expect_status(change_phase(&app, case, body).await, StatusCode::OK).await;

    let back = change_phase(&app, case, json!({"phase": "identification"})).await;
    expect_status(back, StatusCode::OK).await;
    let changes = app
        .get_json(&format!("/api/v1/cases/{case}/phase-changes"))
        .await;
    assert_eq!(changes[1]["forced"], false);
}

/// Marks every open task of `phase` done as `session`.
async fn finish_phase_as(session: &Session, case: i64, phase: &str) {
    let tasks = expect_status(session.get(&format!("/api/v1/cases/{case}/tasks")).await, StatusCode::OK).await;
    for task in tasks.as_array().unwrap().iter().filter(|task| task["phase"] == phase) {
        let body = json!({"version": task["version"], "status": "done"});
        let path = format!("/api/v1/cases/{case}/tasks/{}", task["id"]);
        let response = session.request(Method::PATCH, &path).json(&body).send().await.unwrap();
        expect_status(response, StatusCode::OK).await;
    }
}

/// Checks that an analyst member cannot force a phase change past open tasks, while a lead or an
/// administrator who is a member can. Any writer moves on once nothing is open.
async fn phase_force_needs_lead_or_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let lead = app.user_session("lead", "incident_lead").await;
    let analyst = app.user_session("ana", "analyst").await;
    let body = json!({"title": "Forced moves", "severity": "P2", "detection_source": "other", "compromise_time": COMPROMISE_TIME});
    let case = expect_status(lead.post("/api/v1/cases", &body).await, StatusCode::CREATED).await;
    let case = case["number"].as_i64().unwrap();
    let members = format!("/api/v1/cases/{case}/members");
    for username in ["ana", "admin"] {
        let member = json!({"username": username, "role": "analyst"});
        expect_status(lead.post(&members, &member).await, StatusCode::CREATED).await;
    }
    let phase_path = format!("/api/v1/cases/{case}/phase");
    let forced = json!({"phase": "containment", "force": true, "reason": "the analyst wants to move on"});

    let denied = expect_status(analyst.post(&phase_path, &forced).await, StatusCode::FORBIDDEN).await;
    let message = denied["error"]["message"].as_str().unwrap();
    assert!(message.contains("only a lead of the case or an administrator"), "{message}");
    let without_reason = json!({"phase": "containment", "force": true});
    expect_status(analyst.post(&phase_path, &without_reason).await, StatusCode::FORBIDDEN).await;
    let unforced = expect_status(analyst.post(&phase_path, &json!({"phase": "containment"})).await, StatusCode::CONFLICT).await;
    assert_eq!(unforced["error"]["field"], "force");
    assert_eq!(current_phase(&app, case).await, "identification");
    let changes = app.get_json(&format!("/api/v1/cases/{case}/phase-changes")).await;
    assert_eq!(changes, json!([]));
    let audit = expect_status(lead.get(&format!("/api/v1/cases/{case}/audit?limit=5")).await, StatusCode::OK).await;
    let denials: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["action"] == "access_denied" && entry["actor"] == "ana")
        .collect();
    assert_eq!(denials.len(), 2, "{audit:#}");

    // An administrator who is a member forces the move.
    expect_status(app.post(&phase_path, &forced).await, StatusCode::OK).await;
    assert_eq!(current_phase(&app, case).await, "containment");

    // With no task of containment open, the analyst moves on without force.
    finish_phase_as(&analyst, case, "containment").await;
    expect_status(analyst.post(&phase_path, &json!({"phase": "eradication"})).await, StatusCode::OK).await;
    assert_eq!(current_phase(&app, case).await, "eradication");

    // The lead forces the next move past the open eradication tasks.
    let forced = json!({"phase": "recovery", "force": true, "reason": "eradication continues in parallel"});
    expect_status(lead.post(&phase_path, &forced).await, StatusCode::OK).await;
    let changes = app.get_json(&format!("/api/v1/cases/{case}/phase-changes")).await;
    let forced: Vec<bool> = changes.as_array().unwrap().iter().map(|c| c["forced"].as_bool().unwrap()).collect();
    assert_eq!(forced, [true, false, true]);
}

/// Logs in a new analyst with its own client and returns that client.
async fn analyst_client(app: &TestApp) -> reqwest::Client {
    let password = "analyst password for tests";
    rekey::auth::create_user(
        &app.state.db,
        "ana",
        "Ana Analyst",
        None,
        rekey_types::UserRole::Analyst,
        password,
    )
    .await
    .unwrap();
    let client = new_client();
    let response = client
        .post(format!("{}/api/v1/session", app.base))
        .header("X-Requested-With", "rekey")
        .json(&json!({"username": "ana", "password": password}))
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::OK).await;
    client
}

fn two_step_playbook(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Response to a phished password",
        "is_default": true,
        "steps": [
            {"phase": "identification", "title": "Find the phished account"},
            {"phase": "containment", "title": "Reset the password", "description": "and end all sessions"},
        ],
    })
}

async fn playbook_edit_by_admin_only(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let builtin = app.get_json("/api/v1/playbooks").await;
    assert_eq!(builtin.as_array().unwrap().len(), 1);
    assert_eq!(builtin[0]["name"], "Credential leakage");
    assert_eq!(builtin[0]["is_default"], true);
    assert_eq!(builtin[0]["steps"].as_array().unwrap().len(), 18);

    let analyst = analyst_client(&app).await;
    let response = analyst
        .post(format!("{}/api/v1/playbooks", app.base))
        .header("X-Requested-With", "rekey")
        .json(&two_step_playbook("Phished password"))
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::FORBIDDEN).await;

    let response = app
        .post("/api/v1/playbooks", &two_step_playbook("Phished password"))
        .await;
    let created = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(created["steps"][1]["description"], "and end all sessions");
    let listed = app.get_json("/api/v1/playbooks").await;
    let defaults: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["is_default"] == true)
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["name"], "Phished password");

    let case = app.create_case(COMPROMISE_TIME).await;
    let tasks = tasks(&app, case).await;
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[1]["title"], "Reset the password");
    assert_eq!(tasks[1]["phase"], "containment");

    let duplicate = app
        .post("/api/v1/playbooks", &two_step_playbook("Phished password"))
        .await;
    let error = expect_status(duplicate, StatusCode::CONFLICT).await;
    assert_eq!(error["error"]["field"], "name");
}

async fn playbook_invalid_input_names_field(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let cases = [
        (
            "name",
            json!({"name": " ", "steps": [{"phase": "recovery", "title": "t"}]}),
        ),
        ("steps", json!({"name": "n", "steps": []})),
        (
            "steps[1].title",
            json!({"name": "n", "steps": [{"phase": "recovery", "title": "t"}, {"phase": "recovery", "title": ""}]}),
        ),
        (
            "steps[0].phase",
            json!({"name": "n", "steps": [{"phase": "closed", "title": "t"}]}),
        ),
        (
            "steps[0].phase",
            json!({"name": "n", "steps": [{"phase": "later", "title": "t"}]}),
        ),
    ];
    for (field, body) in cases {
        let error = expect_status(
            app.post("/api/v1/playbooks", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    let listed = app.get_json("/api/v1/playbooks").await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "no playbook created by invalid input"
    );
}

async fn playbook_stale_version_conflicts(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let created = expect_status(
        app.post("/api/v1/playbooks", &two_step_playbook("Phished"))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/playbooks/{}", created["id"]);

    let mut edit = two_step_playbook("Phished password");
    let missing = app
        .request(Method::PUT, &path)
        .json(&edit)
        .send()
        .await
        .unwrap();
    let error = expect_status(missing, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["field"], "version");

    edit["version"] = json!(1);
    let saved = app
        .request(Method::PUT, &path)
        .json(&edit)
        .send()
        .await
        .unwrap();
    let saved = expect_status(saved, StatusCode::OK).await;
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["name"], "Phished password");

    edit["name"] = json!("Stale edit");
    let stale = app
        .request(Method::PUT, &path)
        .json(&edit)
        .send()
        .await
        .unwrap();
    let error = expect_status(stale, StatusCode::CONFLICT).await;
    assert_eq!(error["error"]["code"], "stale_version");
    assert_eq!(error["error"]["current_version"], 2);
    assert_eq!(app.get_json(&path).await["name"], "Phished password");
}
