//! Confirmation of leaked credentials, which re-analyses the case's kept trail events.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use rekey_types::CredentialConfirmation;

use crate::api::cases::CaseRef;
use crate::auth::User;
use crate::derived::confirm_credential;
use crate::error::{Json, Result};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/cases/{number}/credentials/{id}/confirm", post(confirm))
}

/// Confirms a credential, such as one proposed from the trail, and links the calls it made.
async fn confirm(
    State(state): State<AppState>,
    user: User,
    Path((number, id)): Path<(i64, i64)>,
) -> Result<Json<CredentialConfirmation>> {
    let case = CaseRef::load(&state, &user, number).await?;
    Ok(Json(confirm_credential(&state.db, case, user.0.id, id).await?))
}
