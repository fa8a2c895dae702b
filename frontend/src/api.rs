//! Client of the Rekey REST API under `/api/v1`.
//!
//! Requests go to the page's own origin, so the browser sends the session cookie. Every request
//! carries `X-Requested-With: rekey`, which the server requires on state-changing requests as
//! protection against cross-site request forgery.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_net::http::{Request, RequestBuilder, Response};
use rekey_types::{
    AcceptInvitation, ApiToken, Case, CaseMember, CreatedApiToken, CreatedUser, Credential,
    CurrentUser, ErrorBody, ErrorDetail, Finding, Invitation, InvitationPreview, LoginRequest,
    NewApiToken, NewCase, NewCaseMember, NewCredential, NewInvitation, NewStakeholder, NewUser,
    Notification, PasswordChange, PhaseChange, ServerStatus, SessionInfo, Stakeholder, TrailImport,
    UserAccount, UserUpdate,
    Task, TaskUpdate,
};
use rekey_types::{
    CommunicationEntry, LegalClock, NewCommunication, NewLegalClock, NewStatusUpdate, OverdueUpdate,
    StatusUpdate, SubscriptionsUpdate, TestEmailRequest, TestEmailResult, UpdateSchedule,
};
use rekey_types::{
    AffectedResource, ContainmentAction, CredentialContainment, CredentialStatusUpdate,
    ImpactInput, ImpactRecord, NewContainmentAction, NewRecoveryAction, RecoveryAction,
    NewTimelineEntry, PlaybookInput, PlaybookTemplate, Preferences, RecoveryActionUpdate,
    ResourceInput, TimelineEntry,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use web_sys::{File, FormData};

const CSRF_HEADER: &str = "X-Requested-With";
const CSRF_VALUE: &str = "rekey";

/// A failed API request: the server's error body, or one made up here for a network failure
/// or a response that is not an `ErrorBody`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status; `None` when no response arrived.
    pub status: Option<u16>,
    pub detail: ErrorDetail,
}

impl ApiError {
    fn network(error: gloo_net::Error) -> Self {
        ApiError {
            status: None,
            detail: ErrorDetail {
                code: "network".to_string(),
                message: format!(
                    "The request to the Rekey server failed ({error}). Check the connection \
                     and that the server is running, then try again."
                ),
                field: None,
                current_version: None,
            },
        }
    }

    /// Builds an error for input rejected before any request is sent.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: None,
            detail: ErrorDetail {
                code: "invalid".to_string(),
                message: message.into(),
                field: Some(field.to_string()),
                current_version: None,
            },
        }
    }

    pub fn message(&self) -> &str {
        &self.detail.message
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

thread_local! {
    // The browser runs the app on one thread, so a thread-local is the app-wide handler.
    static UNAUTHORIZED_HANDLER: RefCell<Option<Rc<dyn Fn()>>> = const { RefCell::new(None) };
}

/// Sets what happens when a request returns 401 Unauthorized: the app sends the user to the
/// login page. Login itself does not call it, because there 401 means a wrong password.
pub fn set_unauthorized_handler(handler: impl Fn() + 'static) {
    UNAUTHORIZED_HANDLER.with(|slot| *slot.borrow_mut() = Some(Rc::new(handler)));
}

fn notify_unauthorized() {
    // Clone the handler out first, so it may itself call `set_unauthorized_handler`.
    let handler = UNAUTHORIZED_HANDLER.with(|slot| slot.borrow().clone());
    if let Some(handler) = handler {
        handler();
    }
}

fn with_csrf(builder: RequestBuilder) -> RequestBuilder {
    builder.header(CSRF_HEADER, CSRF_VALUE)
}

/// Sends a request and turns a non-2xx response into an `ApiError`.
async fn send(request: Request, redirect_on_unauthorized: bool) -> ApiResult<Response> {
    let response = request.send().await.map_err(ApiError::network)?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    if status == 401 && redirect_on_unauthorized {
        notify_unauthorized();
    }
    let detail = match response.json::<ErrorBody>().await {
        Ok(body) => body.error,
        Err(_) => ErrorDetail {
            code: format!("http_{status}"),
            message: format!(
                "The server returned HTTP {status} {} without an error message.",
                response.status_text()
            ),
            field: None,
            current_version: None,
        },
    };
    Err(ApiError {
        status: Some(status),
        detail,
    })
}

async fn read_json<T: DeserializeOwned>(response: Response) -> ApiResult<T> {
    let status = response.status();
    response.json::<T>().await.map_err(|error| ApiError {
        status: Some(status),
        detail: ErrorDetail {
            code: "invalid_response".to_string(),
            message: format!(
                "The server's response could not be read ({error}). The app and the server \
                 may be different versions: reload the page."
            ),
            field: None,
            current_version: None,
        },
    })
}

fn request_error(error: gloo_net::Error) -> ApiError {
    ApiError {
        status: None,
        detail: ErrorDetail {
            code: "invalid_request".to_string(),
            message: format!("The request could not be built: {error}"),
            field: None,
            current_version: None,
        },
    }
}

async fn get<T: DeserializeOwned>(url: &str) -> ApiResult<T> {
    let request = with_csrf(Request::get(url))
        .build()
        .map_err(request_error)?;
    read_json(send(request, true).await?).await
}

async fn post_json<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> ApiResult<T> {
    let request = with_csrf(Request::post(url))
        .json(body)
        .map_err(request_error)?;
    read_json(send(request, true).await?).await
}

/// Sends a JSON body and expects no response body, such as 204 No Content.
async fn post_json_no_content<B: Serialize>(url: &str, body: &B) -> ApiResult<()> {
    let request = with_csrf(Request::post(url))
        .json(body)
        .map_err(request_error)?;
    send(request, true).await.map(|_| ())
}

async fn put_json<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> ApiResult<T> {
    let request = with_csrf(Request::put(url))
        .json(body)
        .map_err(request_error)?;
    read_json(send(request, true).await?).await
}

async fn patch_json<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> ApiResult<T> {
    let request = with_csrf(Request::patch(url))
        .json(body)
        .map_err(request_error)?;
    read_json(send(request, true).await?).await
}

async fn delete(url: &str) -> ApiResult<()> {
    let request = with_csrf(Request::delete(url))
        .build()
        .map_err(request_error)?;
    send(request, true).await.map(|_| ())
}

fn case_url(number: i64, rest: &str) -> String {
    format!("/api/v1/cases/{number}{rest}")
}

pub async fn status() -> ApiResult<ServerStatus> {
    get("/api/v1/status").await
}

/// Signs in. A wrong username or password comes back as an error with status 401 and the
/// server's generic message; it does not trigger the unauthorized handler.
pub async fn login(body: &LoginRequest) -> ApiResult<CurrentUser> {
    let request = with_csrf(Request::post("/api/v1/session"))
        .json(body)
        .map_err(request_error)?;
    read_json(send(request, false).await?).await
}

/// Fetches the signed-in user, or fails with status 401 when no user is signed in. Does not
/// trigger the unauthorized handler, so the caller decides whether to leave the current page.
pub async fn current_user() -> ApiResult<CurrentUser> {
    let request = with_csrf(Request::get("/api/v1/session"))
        .build()
        .map_err(request_error)?;
    read_json(send(request, false).await?).await
}

pub async fn logout() -> ApiResult<()> {
    let request = with_csrf(Request::delete("/api/v1/session"))
        .build()
        .map_err(request_error)?;
    send(request, false).await.map(|_| ())
}

pub async fn cases() -> ApiResult<Vec<Case>> {
    get("/api/v1/cases").await
}

pub async fn create_case(body: &NewCase) -> ApiResult<Case> {
    post_json("/api/v1/cases", body).await
}

pub async fn case(number: i64) -> ApiResult<Case> {
    get(&case_url(number, "")).await
}

pub async fn change_phase(number: i64, body: &PhaseChange) -> ApiResult<Case> {
    post_json(&case_url(number, "/phase"), body).await
}

pub async fn credentials(number: i64) -> ApiResult<Vec<Credential>> {
    get(&case_url(number, "/credentials")).await
}

pub async fn add_credential(number: i64, body: &NewCredential) -> ApiResult<Credential> {
    post_json(&case_url(number, "/credentials"), body).await
}

/// Confirms a credential and re-analyses the case's kept trail events for it.
pub async fn confirm_credential(number: i64, id: i64) -> ApiResult<rekey_types::CredentialConfirmation> {
    post_json(&case_url(number, &format!("/credentials/{id}/confirm")), &serde_json::json!({})).await
}

pub async fn imports(number: i64) -> ApiResult<Vec<TrailImport>> {
    get(&case_url(number, "/imports")).await
}

/// Uploads trail files as `multipart/form-data`, each under the field name `files`. With
/// `keep_readable`, damaged events are skipped and listed instead of failing the import.
pub async fn import_trail(number: i64, files: &[File], keep_readable: bool) -> ApiResult<TrailImport> {
    let form = FormData::new().map_err(|_| {
        ApiError::invalid(
            "files",
            "This browser cannot build a file upload (FormData).",
        )
    })?;
    if keep_readable {
        form.append_with_str("on_error", "keep_readable")
            .map_err(|_| ApiError::invalid("files", "This browser cannot build a file upload (FormData)."))?;
    }
    for file in files {
        form.append_with_blob_and_filename("files", file, &file.name())
            .map_err(|_| {
                ApiError::invalid(
                    "files",
                    format!("The file {} could not be read.", file.name()),
                )
            })?;
    }
    // The browser sets the multipart Content-Type with its boundary for a FormData body.
    let request = with_csrf(Request::post(&case_url(number, "/imports")))
        .body(form)
        .map_err(request_error)?;
    read_json(send(request, true).await?).await
}

pub async fn findings(number: i64) -> ApiResult<Vec<Finding>> {
    get(&case_url(number, "/findings")).await
}

pub async fn stakeholders(number: i64) -> ApiResult<Vec<Stakeholder>> {
    get(&case_url(number, "/stakeholders")).await
}

pub async fn add_stakeholder(number: i64, body: &NewStakeholder) -> ApiResult<Stakeholder> {
    post_json(&case_url(number, "/stakeholders"), body).await
}

pub async fn notifications(number: i64) -> ApiResult<Vec<Notification>> {
    get(&case_url(number, "/notifications")).await
}

pub async fn members(number: i64) -> ApiResult<Vec<CaseMember>> {
    get(&case_url(number, "/members")).await
}

/// Adds a member, or changes the role of an existing one. Returns all members of the case.
pub async fn add_member(number: i64, body: &NewCaseMember) -> ApiResult<Vec<CaseMember>> {
    post_json(&case_url(number, "/members"), body).await
}

/// Removes a member. Removing the last lead fails with status 409.
pub async fn remove_member(number: i64, user_id: i64) -> ApiResult<()> {
    delete(&case_url(number, &format!("/members/{user_id}"))).await
}

/// Lists the invitations of a case; only leads of the case may, others get 403.
pub async fn invitations(number: i64) -> ApiResult<Vec<Invitation>> {
    get(&case_url(number, "/invitations")).await
}

/// Invites a stakeholder by email. The response is the only place the invitation's link appears.
pub async fn invite(number: i64, body: &NewInvitation) -> ApiResult<Invitation> {
    post_json(&case_url(number, "/invitations"), body).await
}

fn invitation_url(token: &str, rest: &str) -> String {
    format!(
        "/api/v1/invitations/{}{rest}",
        js_sys::encode_uri_component(token)
    )
}

/// Fetches what an invitation link offers. Needs no session, so a 401 does not trigger the
/// unauthorized handler. Fails with status 404 when the link is unknown, expired or used.
pub async fn invitation_preview(token: &str) -> ApiResult<InvitationPreview> {
    let request = with_csrf(Request::get(&invitation_url(token, "")))
        .build()
        .map_err(request_error)?;
    read_json(send(request, false).await?).await
}

/// Accepts an invitation: creates the stakeholder account and signs it in, replacing any session
/// of this browser. Fails with 404 when the link expired or was used, 409 when the username is
/// taken and 422 for an invalid username or password.
pub async fn accept_invitation(token: &str, body: &AcceptInvitation) -> ApiResult<CurrentUser> {
    let request = with_csrf(Request::post(&invitation_url(token, "/accept")))
        .json(body)
        .map_err(request_error)?;
    read_json(send(request, false).await?).await
}

/// Changes the signed-in user's password. The server ends all their other sessions.
pub async fn change_password(body: &PasswordChange) -> ApiResult<()> {
    post_json_no_content("/api/v1/account/password", body).await
}

pub async fn sessions() -> ApiResult<Vec<SessionInfo>> {
    get("/api/v1/account/sessions").await
}

pub async fn end_session(id: i64) -> ApiResult<()> {
    delete(&format!("/api/v1/account/sessions/{id}")).await
}

pub async fn tokens() -> ApiResult<Vec<ApiToken>> {
    get("/api/v1/account/tokens").await
}

/// Creates an API token. The response is the only place its secret appears.
pub async fn create_token(body: &NewApiToken) -> ApiResult<CreatedApiToken> {
    post_json("/api/v1/account/tokens", body).await
}

pub async fn revoke_token(id: i64) -> ApiResult<()> {
    delete(&format!("/api/v1/account/tokens/{id}")).await
}

pub async fn users() -> ApiResult<Vec<UserAccount>> {
    get("/api/v1/users").await
}

pub async fn create_user(body: &NewUser) -> ApiResult<CreatedUser> {
    post_json("/api/v1/users", body).await
}

pub async fn update_user(id: i64, body: &UserUpdate) -> ApiResult<UserAccount> {
    patch_json(&format!("/api/v1/users/{id}"), body).await
}

pub async fn tasks(number: i64) -> ApiResult<Vec<Task>> {
    get(&case_url(number, "/tasks")).await
}

pub async fn update_task(number: i64, task_id: i64, body: &TaskUpdate) -> ApiResult<Task> {
    patch_json(&case_url(number, &format!("/tasks/{task_id}")), body).await
}

pub async fn containment(number: i64) -> ApiResult<Vec<CredentialContainment>> {
    get(&case_url(number, "/containment")).await
}

pub async fn change_credential_status(
    number: i64,
    credential_id: i64,
    body: &CredentialStatusUpdate,
) -> ApiResult<CredentialContainment> {
    post_json(&case_url(number, &format!("/credentials/{credential_id}/status")), body).await
}

pub async fn add_containment_action(
    number: i64,
    credential_id: i64,
    body: &NewContainmentAction,
) -> ApiResult<ContainmentAction> {
    let path = format!("/credentials/{credential_id}/containment-actions");
    post_json(&case_url(number, &path), body).await
}

pub async fn impacts(number: i64) -> ApiResult<Vec<ImpactRecord>> {
    get(&case_url(number, "/impacts")).await
}

pub async fn add_impact(number: i64, body: &ImpactInput) -> ApiResult<ImpactRecord> {
    post_json(&case_url(number, "/impacts"), body).await
}

pub async fn resources(number: i64) -> ApiResult<Vec<AffectedResource>> {
    get(&case_url(number, "/resources")).await
}

pub async fn add_resource(number: i64, body: &ResourceInput) -> ApiResult<AffectedResource> {
    post_json(&case_url(number, "/resources"), body).await
}

pub async fn replace_resource(
    number: i64,
    resource_id: i64,
    body: &ResourceInput,
) -> ApiResult<AffectedResource> {
    put_json(&case_url(number, &format!("/resources/{resource_id}")), body).await
}

pub async fn add_recovery_action(
    number: i64,
    resource_id: i64,
    body: &NewRecoveryAction,
) -> ApiResult<RecoveryAction> {
    let path = format!("/resources/{resource_id}/recovery-actions");
    post_json(&case_url(number, &path), body).await
}

pub async fn update_recovery_action(
    number: i64,
    action_id: i64,
    body: &RecoveryActionUpdate,
) -> ApiResult<RecoveryAction> {
    patch_json(&case_url(number, &format!("/recovery-actions/{action_id}")), body).await
}

pub async fn timeline(number: i64) -> ApiResult<Vec<TimelineEntry>> {
    get(&case_url(number, "/timeline")).await
}

pub async fn add_timeline_entry(number: i64, body: &NewTimelineEntry) -> ApiResult<TimelineEntry> {
    post_json(&case_url(number, "/timeline"), body).await
}

pub async fn preferences() -> ApiResult<Preferences> {
    get("/api/v1/preferences").await
}

pub async fn save_preferences(body: &Preferences) -> ApiResult<Preferences> {
    put_json("/api/v1/preferences", body).await
}

pub async fn playbooks() -> ApiResult<Vec<PlaybookTemplate>> {
    get("/api/v1/playbooks").await
}

pub async fn create_playbook(body: &PlaybookInput) -> ApiResult<PlaybookTemplate> {
    post_json("/api/v1/playbooks", body).await
}

pub async fn replace_playbook(id: i64, body: &PlaybookInput) -> ApiResult<PlaybookTemplate> {
    put_json(&format!("/api/v1/playbooks/{id}"), body).await
}

pub async fn retry_notification(number: i64, id: i64) -> ApiResult<Notification> {
    post_json(&case_url(number, &format!("/notifications/{id}/retry")), &()).await
}

pub async fn status_updates(number: i64) -> ApiResult<Vec<StatusUpdate>> {
    get(&case_url(number, "/status-updates")).await
}

pub async fn post_status_update(number: i64, body: &NewStatusUpdate) -> ApiResult<StatusUpdate> {
    post_json(&case_url(number, "/status-updates"), body).await
}

pub async fn status_schedule(number: i64) -> ApiResult<UpdateSchedule> {
    get(&case_url(number, "/status-schedule")).await
}

pub async fn overdue_updates() -> ApiResult<Vec<OverdueUpdate>> {
    get("/api/v1/status-updates/overdue").await
}

pub async fn communications(number: i64) -> ApiResult<Vec<CommunicationEntry>> {
    get(&case_url(number, "/communications")).await
}

pub async fn record_communication(number: i64, body: &NewCommunication) -> ApiResult<CommunicationEntry> {
    post_json(&case_url(number, "/communications"), body).await
}

pub async fn legal_clocks(number: i64) -> ApiResult<Vec<LegalClock>> {
    get(&case_url(number, "/legal-clocks")).await
}

pub async fn add_legal_clock(number: i64, body: &NewLegalClock) -> ApiResult<LegalClock> {
    post_json(&case_url(number, "/legal-clocks"), body).await
}

pub async fn mark_legal_clock_met(number: i64, id: i64) -> ApiResult<LegalClock> {
    post_json(&case_url(number, &format!("/legal-clocks/{id}/met")), &()).await
}

pub async fn send_test_email(body: &TestEmailRequest) -> ApiResult<TestEmailResult> {
    post_json("/api/v1/admin/test-email", body).await
}

pub async fn update_subscriptions(
    number: i64,
    stakeholder: i64,
    body: &SubscriptionsUpdate,
) -> ApiResult<Stakeholder> {
    let url = case_url(number, &format!("/stakeholders/{stakeholder}/subscriptions"));
    let request = with_csrf(Request::put(&url)).json(body).map_err(request_error)?;
    read_json(send(request, true).await?).await
}

pub async fn evidence(number: i64) -> ApiResult<Vec<rekey_types::Evidence>> {
    get(&case_url(number, "/evidence")).await
}

/// Opens one piece of evidence with its chain of custody; the server records the view.
pub async fn evidence_detail(number: i64, id: i64) -> ApiResult<rekey_types::EvidenceDetail> {
    get(&case_url(number, &format!("/evidence/{id}"))).await
}

/// Address of the evidence file's download, which the server re-hashes before serving.
pub fn evidence_content_url(number: i64, id: i64) -> String {
    case_url(number, &format!("/evidence/{id}/content"))
}

/// Uploads one evidence file as `multipart/form-data` with its description and source.
pub async fn upload_evidence(
    number: i64,
    file: &File,
    description: &str,
    source: &str,
) -> ApiResult<rekey_types::Evidence> {
    let form = FormData::new()
        .map_err(|_| ApiError::invalid("file", "This browser cannot build a file upload (FormData)."))?;
    let appended = form
        .append_with_str("description", description)
        .and_then(|_| form.append_with_str("source", source))
        .and_then(|_| form.append_with_blob_and_filename("file", file, &file.name()));
    appended.map_err(|_| ApiError::invalid("file", format!("The file {} could not be read.", file.name())))?;
    let request = with_csrf(Request::post(&case_url(number, "/evidence")))
        .body(form)
        .map_err(request_error)?;
    read_json(send(request, true).await?).await
}

pub async fn verify_evidence(number: i64, id: i64) -> ApiResult<rekey_types::EvidenceCheck> {
    post_json(&case_url(number, &format!("/evidence/{id}/verify")), &()).await
}

pub async fn change_legal_hold(
    number: i64,
    id: i64,
    body: &rekey_types::LegalHoldChange,
) -> ApiResult<rekey_types::Evidence> {
    put_json(&case_url(number, &format!("/evidence/{id}/legal-hold")), body).await
}

pub async fn link_evidence(
    number: i64,
    id: i64,
    body: &rekey_types::EvidenceLink,
) -> ApiResult<rekey_types::Evidence> {
    post_json(&case_url(number, &format!("/evidence/{id}/links")), body).await
}

pub async fn report(number: i64) -> ApiResult<rekey_types::Report> {
    get(&case_url(number, "/report")).await
}

/// Address of a report export: `pdf` or `markdown`.
pub fn report_export_url(number: i64, format: &str) -> String {
    case_url(number, &format!("/report/{format}"))
}

pub async fn save_lessons(number: i64, body: &rekey_types::LessonsInput) -> ApiResult<rekey_types::LessonsLearned> {
    put_json(&case_url(number, "/lessons"), body).await
}

pub async fn add_improvement(
    number: i64,
    body: &rekey_types::ImprovementInput,
) -> ApiResult<rekey_types::LessonsLearned> {
    post_json(&case_url(number, "/improvements"), body).await
}

pub async fn update_improvement(
    number: i64,
    id: i64,
    body: &rekey_types::ImprovementInput,
) -> ApiResult<rekey_types::LessonsLearned> {
    put_json(&case_url(number, &format!("/improvements/{id}")), body).await
}

pub async fn dashboard() -> ApiResult<rekey_types::Dashboard> {
    get("/api/v1/dashboard").await
}

pub async fn integrity() -> ApiResult<rekey_types::IntegrityReport> {
    get("/api/v1/audit/verify").await
}

pub async fn audit_entries() -> ApiResult<Vec<rekey_types::AuditEntry>> {
    get("/api/v1/audit?limit=100").await
}

pub async fn totp_setup() -> ApiResult<rekey_types::TotpSetup> {
    post_json("/api/v1/account/totp/setup", &()).await
}

pub async fn totp_enable(body: &rekey_types::TotpConfirm) -> ApiResult<()> {
    post_json_no_content("/api/v1/account/totp/enable", body).await
}

pub async fn totp_disable(body: &rekey_types::TotpDisable) -> ApiResult<()> {
    post_json_no_content("/api/v1/account/totp/disable", body).await
}

pub async fn send_report(number: i64, body: &rekey_types::ReportSending) -> ApiResult<rekey_types::ReportSendResult> {
    post_json(&case_url(number, "/report/send"), body).await
}

pub async fn running_imports(number: i64) -> ApiResult<Vec<rekey_types::RunningImport>> {
    get(&case_url(number, "/imports/running")).await
}
