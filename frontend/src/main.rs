//! Rekey browser app: a client-side rendered Leptos app that talks to the server only through
//! the REST API under `/api/v1`. The server returns `index.html` for every app route.

mod account;
mod admin_users;
mod admin_mail;
mod api;
mod case;
mod case_list;
mod dashboard;
mod forms;
mod integrity;
mod invitation;
mod login;
mod new_case;
mod playbooks;
mod report;
mod time;
mod widgets;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, NavigateOptions};
use rekey_types::{CurrentUser, ServerStatus, UserRole};

/// App-wide state, provided as context.
#[derive(Clone, Copy)]
pub struct Session {
    /// The signed-in user; `None` before the session check returns and after logout.
    pub user: RwSignal<Option<CurrentUser>>,
    pub status: RwSignal<Option<ServerStatus>>,
    /// Time zone of the signed-in user's preferences, in which every time is shown; `None` for
    /// the browser's zone.
    pub time_zone: RwSignal<Option<String>>,
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

impl Session {
    /// Account role of the signed-in user, tracking changes; `None` before the session check
    /// returns.
    pub fn role(&self) -> Option<UserRole> {
        self.user.with(|user| user.as_ref().map(|user| user.role))
    }

    pub fn is_admin(&self) -> bool {
        self.role() == Some(UserRole::Admin)
    }
}

/// Path of the login page that brings the user back to the current page after signing in.
fn login_path_returning_here() -> String {
    let location = window().location();
    let current_path = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    if current_path == "/" || current_path.starts_with("/login") {
        "/login".to_string()
    } else {
        format!(
            "/login?next={}",
            js_sys::encode_uri_component(&current_path)
        )
    }
}

/// Tells whether the current page works without signing in: the login page and the page of an
/// invitation link, where a new stakeholder creates their account.
fn on_public_page() -> bool {
    window()
        .location()
        .pathname()
        .map(|path| path == "/login" || path.starts_with("/invitations/"))
        .unwrap_or(false)
}

/// Sets the document title to `<page> – Rekey`.
pub fn set_title(page: &str) {
    document().set_title(&format!("{page} – Rekey"));
}

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    let session = Session {
        user: RwSignal::new(None),
        status: RwSignal::new(None),
        time_zone: RwSignal::new(None),
    };
    provide_context(session);

    view! {
        <Router>
            <SessionGuard />
            <a class="skip-link" href="#main" rel="external">"Skip to main content"</a>
            <Header />
            <main id="main" tabindex="-1">
                <Routes fallback=NotFound>
                    <Route path=path!("/login") view=login::LoginPage />
                    <Route path=path!("/") view=case_list::CaseListPage />
                    <Route path=path!("/cases/new") view=new_case::NewCasePage />
                    <Route path=path!("/cases/:number") view=case::CasePage />
                    <Route path=path!("/cases/:number/report") view=report::ReportPage />
                    <Route path=path!("/dashboard") view=dashboard::DashboardPage />
                    <Route path=path!("/admin/integrity") view=integrity::IntegrityPage />
                    <Route path=path!("/account") view=account::AccountPage />
                    <Route path=path!("/admin/users") view=admin_users::UsersPage />
                    <Route path=path!("/invitations/:token") view=invitation::InvitationPage />
                    <Route path=path!("/playbooks") view=playbooks::PlaybooksPage />
                    <Route path=path!("/admin/mail") view=admin_mail::MailTestPage />
                </Routes>
            </main>
        </Router>
    }
}

/// Installs the handler that sends the user to the login page on 401, then loads the server
/// status and the signed-in user. Public pages stay where they are without a session.
#[component]
fn SessionGuard() -> impl IntoView {
    let session = use_session();
    let navigate = leptos_router::hooks::use_navigate();

    let navigate_to_login = navigate.clone();
    api::set_unauthorized_handler(move || {
        session.user.set(None);
        if !on_public_page() {
            navigate_to_login(&login_path_returning_here(), NavigateOptions::default());
        }
    });

    leptos::task::spawn_local(async move {
        // The status is only used for a notice, so a failure leaves the notice hidden.
        if let Ok(status) = api::status().await {
            session.status.set(Some(status));
        }
    });

    // Each sign-in loads the user's time zone; signing out returns to the browser's zone.
    Effect::new(move |previous: Option<Option<i64>>| {
        let user_id = session.user.with(|user| user.as_ref().map(|user| user.id));
        if user_id.is_none() {
            session.time_zone.set(None);
        } else if previous.flatten() != user_id {
            leptos::task::spawn_local(async move {
                // Without preferences, times stay in the browser's zone.
                if let Ok(preferences) = api::preferences().await {
                    session.time_zone.set(preferences.time_zone);
                }
            });
        }
        user_id
    });

    leptos::task::spawn_local(async move {
        match api::current_user().await {
            Ok(user) => session.user.set(Some(user)),
            Err(error) if error.status == Some(401) => {
                if !on_public_page() {
                    navigate(&login_path_returning_here(), NavigateOptions::default());
                }
            }
            // Any other failure shows up again, with its message, on the page's own requests.
            Err(_) => {}
        }
    });
}

#[component]
fn Header() -> impl IntoView {
    let session = use_session();
    let navigate = leptos_router::hooks::use_navigate();
    let logout_error = RwSignal::new(None::<String>);

    let log_out = move |_| {
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            match api::logout().await {
                Ok(()) => {
                    logout_error.set(None);
                    session.user.set(None);
                    navigate("/login", NavigateOptions::default());
                }
                Err(error) => logout_error.set(Some(error.message().to_string())),
            }
        });
    };

    let mail_missing = move || {
        session.status.with(|status| {
            status
                .as_ref()
                .is_some_and(|status| !status.mail_configured)
        })
    };

    view! {
        <header class="site-header">
            <div class="header-bar">
                <a class="product-name" href="/">"Rekey"</a>
                <a id="playbooks-link" class="header-link" href="/playbooks">"Playbooks"</a>
                {move || {
                    session
                        .user
                        .get()
                        .map(|user| {
                            let is_admin = user.role == UserRole::Admin;
                            view! {
                                <nav class="header-user" aria-label="Account">
                                    {is_admin.then(|| view! { <a id="nav-users" href="/admin/users">"Users"</a> })}
                                    {is_admin.then(|| view! {
                                        <a id="mail-settings" href="/admin/mail">"Mail settings"</a>
                                    })}
                                    {is_admin.then(|| view! { <a id="nav-integrity" href="/admin/integrity">"Integrity"</a> })}
                                    {(user.role != UserRole::Stakeholder).then(|| view! {
                                        <a id="nav-dashboard" href="/dashboard">"Dashboard"</a>
                                    })}
                                    <span id="current-user" title=user.username.clone()>
                                        {user.display_name.clone()}
                                    </span>
                                    <a id="nav-account" href="/account">"Account"</a>
                                    <button id="logout" type="button" class="secondary" on:click=log_out.clone()>
                                        "Log out"
                                    </button>
                                </nav>
                            }
                        })
                }}
            </div>
            <Show when=move || logout_error.with(Option::is_some)>
                <p class="notice error" role="alert">
                    "Logout failed: " {move || logout_error.get().unwrap_or_default()}
                </p>
            </Show>
            <Show when=mail_missing>
                <p id="mail-notice" class="notice">
                    "Mail is not configured: notifications wait in the outbox."
                </p>
            </Show>
        </header>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    set_title("Page not found");
    view! {
        <h1>"Page not found"</h1>
        <p>"There is no page at this address. " <a href="/">"Go to the case list"</a> "."</p>
    }
}
