//! Confirmation of leaked credentials, which reads the case's kept trail files again for their calls.

use axum::extract::{Path, State};
use axum::routing::post;
use rekey_types::CredentialConfirmation;

use crate::api::cases::CaseRef;
use crate::auth::User;
use crate::derived::confirm_credential;
use crate::import::Importer;
use crate::error::{Json, Result};
use crate::api::Routes;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new().route("/cases/{number}/credentials/{id}/confirm", post(confirm))
}

/// Confirms a credential, such as one proposed from the trail, and links the calls it made.
async fn confirm(
    State(state): State<AppState>,
    user: User,
    case: CaseRef,
    Path((_, id)): Path<(i64, i64)>,
) -> Result<Json<CredentialConfirmation>> {
    let confirmer = Importer::from_user(&user);
    let confirmation = confirm_credential(&state.db, &state.settings, &state.evidence, case, &confirmer, id).await?;
    state.mail_wakeup.notify_one();
    Ok(Json(confirmation))
}
