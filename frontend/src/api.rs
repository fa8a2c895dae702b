//! Client of the Rekey REST API under `/api/v1`.
//!
//! Requests go to the page's own origin, so the browser sends the session cookie. Every request
//! carries `X-Requested-With: rekey`, which the server requires on state-changing requests as
//! protection against cross-site request forgery.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_net::http::{Request, RequestBuilder, Response};
use rekey_types::{
    Case, CommunicationEntry, Credential, CurrentUser, ErrorBody, ErrorDetail, Finding, LegalClock,
    LoginRequest, NewCase, NewCommunication, NewCredential, NewLegalClock, NewStakeholder,
    NewStatusUpdate, Notification, OverdueUpdate, PhaseChange, ServerStatus, Stakeholder,
    StatusUpdate, SubscriptionsUpdate, TestEmailRequest, TestEmailResult, TrailImport, UpdateSchedule,
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

pub async fn imports(number: i64) -> ApiResult<Vec<TrailImport>> {
    get(&case_url(number, "/imports")).await
}

/// Uploads trail files as `multipart/form-data`, each under the field name `files`.
pub async fn import_trail(number: i64, files: &[File]) -> ApiResult<TrailImport> {
    let form = FormData::new().map_err(|_| {
        ApiError::invalid(
            "files",
            "This browser cannot build a file upload (FormData).",
        )
    })?;
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
