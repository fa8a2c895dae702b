//! Stakeholder invitations. A case lead invites someone by email, and the single-use,
//! expiring link lets them create a stakeholder account. That account reads the shared
//! sections of that case only.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rekey_types::{
    case_reference, validate_email, AcceptInvitation, Invitation, InvitationPreview, NewInvitation,
    UserRole, SHAREABLE_SECTIONS,
};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::api::cases::LeadCase;
use crate::audit::{self, Actor};
use crate::auth::{self, User};
use crate::db::{now_millis, optional_time_column, time_column};
use crate::error::{Error, Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/cases/{number}/invitations", get(list_invitations).post(invite))
        .route("/invitations/{token}", get(preview))
        .route("/invitations/{token}/accept", post(accept))
}

const DEFAULT_HOURS: u32 = 72;
const MAX_HOURS: u32 = 14 * 24;

fn sections_from_text(text: &str) -> Vec<String> {
    text.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn invitation_from_row(row: &AnyRow) -> Result<Invitation> {
    Ok(Invitation {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        sections: sections_from_text(&row.try_get::<String, _>("shared_sections")?),
        invited_by: row.try_get("invited_by_name")?,
        created_at: time_column(row, "created_at")?,
        expires_at: time_column(row, "expires_at")?,
        accepted_at: optional_time_column(row, "accepted_at")?,
        link: None,
    })
}

const INVITATION_SELECT: &str = "SELECT i.id, i.name, i.email, i.shared_sections, i.created_at, i.expires_at, \
    i.accepted_at, u.display_name AS invited_by_name FROM case_invitations i JOIN users u ON u.id = i.invited_by";

async fn list_invitations(
    State(state): State<AppState>,
    LeadCase(case): LeadCase,
) -> Result<Json<Vec<Invitation>>> {
    let sql = format!("{INVITATION_SELECT} WHERE i.case_id = $1 ORDER BY i.id DESC");
    let rows = sqlx::query(&sql).bind(case.id).fetch_all(&state.db.pool).await?;
    Ok(Json(rows.iter().map(invitation_from_row).collect::<Result<_>>()?))
}

fn validate_sections(sections: &[String]) -> Result<String> {
    for section in sections {
        if !SHAREABLE_SECTIONS.contains(&section.as_str()) {
            return Err(Error::invalid(
                "sections",
                format!("'{section}' is not a case section; choose from {}", SHAREABLE_SECTIONS.join(", ")),
            ));
        }
    }
    Ok(sections.join(","))
}

async fn invite(
    State(state): State<AppState>,
    user: User,
    LeadCase(case): LeadCase,
    Json(input): Json<NewInvitation>,
) -> Result<(StatusCode, Json<Invitation>)> {
    let number = case.number;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "name is missing or longer than 200 characters"));
    }
    crate::api::cases::plain_text("name", name, false)?;
    let email = input.email.trim().to_lowercase();
    validate_email(&email).map_err(|message| Error::invalid("email", message))?;
    let sections = validate_sections(&input.sections)?;
    let hours = input.expires_in_hours.unwrap_or(DEFAULT_HOURS);
    if !(1..=MAX_HOURS).contains(&hours) {
        return Err(Error::invalid("expires_in_hours", format!("expires_in_hours must be between 1 and {MAX_HOURS}")));
    }

    let token = auth::new_session_token();
    let now = now_millis();
    let link = format!("{}/invitations/{token}", state.settings.public_url());
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO case_invitations (case_id, name, email, token_hash, shared_sections, invited_by, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(case.id)
    .bind(name)
    .bind(&email)
    .bind(auth::token_hash(&token))
    .bind(&sections)
    .bind(user.id())
    .bind(now)
    .bind(now + i64::from(hours) * 3600 * 1000)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let reference = case_reference(number);
    let body = format!(
        "{} invited you to follow case {reference} in Rekey as a stakeholder.\n\n\
         Accept the invitation and choose a password here (the link works once and expires in {hours} hours):\n\
         {link}\n\nIf you did not expect this email, ignore it.\n",
        crate::mail::redact(&user.account.display_name)
    );
    crate::mail::enqueue_email(&mut tx, Some(case.id), &email, &format!("[{reference}] Invitation to follow a case"), &body)
        .await?;
    let event = audit::Event::new("stakeholder_invited", "invitation")
        .entity(id)
        .case(case.id)
        .details(json!({"email": email, "sections": input.sections, "expires_in_hours": hours}));
    audit::append(&mut tx, &Actor::user(&user), event).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    tracing::info!(case = number, invitation = id, by = user.id(), "stakeholder invited");

    let sql = format!("{INVITATION_SELECT} WHERE i.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_one(&state.db.pool).await?;
    let mut invitation = invitation_from_row(&row)?;
    invitation.link = Some(link);
    Ok((StatusCode::CREATED, Json(invitation)))
}

/// Finds an open invitation by its token. Expired, used and unknown tokens all give 404.
async fn open_invitation(state: &AppState, token: &str) -> Result<AnyRow> {
    let sql = "SELECT i.id, i.case_id, i.name, i.email, i.shared_sections, i.expires_at, c.number, \
        u.display_name AS invited_by_name FROM case_invitations i JOIN users u ON u.id = i.invited_by \
        JOIN cases c ON c.id = i.case_id WHERE i.token_hash = $1 AND i.accepted_at IS NULL AND i.expires_at > $2";
    sqlx::query(sql)
        .bind(auth::token_hash(token))
        .bind(now_millis())
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(Error::NotFound("invitation (it may have expired or been used already)"))
}

async fn preview(State(state): State<AppState>, Path(token): Path<String>) -> Result<Json<InvitationPreview>> {
    let row = open_invitation(&state, &token).await?;
    Ok(Json(InvitationPreview {
        case_reference: case_reference(row.try_get("number")?),
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        invited_by: row.try_get("invited_by_name")?,
        expires_at: time_column(&row, "expires_at")?,
    }))
}

async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Json(input): Json<AcceptInvitation>,
) -> Result<Response> {
    if !headers.contains_key(auth::CSRF_HEADER) {
        return Err(Error::Forbidden(
            "missing X-Requested-With header; state-changing requests must send it".to_string(),
        ));
    }
    let row = open_invitation(&state, &token).await?;
    let invitation_id: i64 = row.try_get("id")?;
    let case_id: i64 = row.try_get("case_id")?;
    let name: String = row.try_get("name")?;
    let email: String = row.try_get("email")?;
    let sections: String = row.try_get("shared_sections")?;

    // Claim the invitation first: of two concurrent accepts, only one updates the row.
    let now = now_millis();
    let claimed = sqlx::query(
        "UPDATE case_invitations SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(invitation_id)
    .execute(&state.db.pool)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(Error::NotFound("invitation (it may have expired or been used already)"));
    }
    let user_id = match auth::create_user(&state.db, input.username.trim(), &name, Some(&email), UserRole::Stakeholder, &input.password).await {
        Ok(id) => id,
        Err(error) => {
            // The account could not be made, so the link stays usable for another try.
            sqlx::query("UPDATE case_invitations SET accepted_at = NULL WHERE id = $1")
                .bind(invitation_id)
                .execute(&state.db.pool)
                .await?;
            return Err(error);
        }
    };

    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE case_invitations SET accepted_user_id = $1 WHERE id = $2")
        .bind(user_id)
        .bind(invitation_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO case_members (case_id, user_id, role, added_by, added_at, shared_sections) \
         SELECT $1, $2, 'viewer', invited_by, $3, $4 FROM case_invitations WHERE id = $5",
    )
    .bind(case_id)
    .bind(user_id)
    .bind(now)
    .bind(&sections)
    .bind(invitation_id)
    .execute(&mut *tx)
    .await?;
    let actor = Actor {
        id: Some(user_id),
        name: input.username.trim().to_string(),
        client_address: None,
    };
    let event = audit::Event::new("invitation_accepted", "invitation").entity(invitation_id).case(case_id);
    audit::append(&mut tx, &actor, event).await?;
    tx.commit().await?;
    tracing::info!(invitation = invitation_id, user = user_id, "invitation accepted");

    let client = auth::ClientInfo {
        address: None,
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
    };
    let session = auth::create_session(&state, user_id, &client).await?;
    let user = rekey_types::CurrentUser {
        id: user_id,
        username: input.username.trim().to_string(),
        display_name: name,
        role: UserRole::Stakeholder,
        totp_enabled: false,
    };
    let cookie = auth::session_cookie(&session, &state);
    Ok(([(header::SET_COOKIE, cookie)], Json(user)).into_response())
}
