//! Confirmation of leaked credentials, which reads the case's kept trail files again for their calls.

use axum::extract::{Path, State};
use axum::routing::post;
use rekey_types::CredentialConfirmation;

use crate::api::cases::CaseRef;
use crate::auth::User;
use crate::derived::confirm_credential;
use crate::import::Importer;
use crate::error::{Error, Json, Result};
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
    // An import that is running loaded the case's credentials when it started, so it would
    // leave out this credential's calls, and this confirmation cannot read its files yet.
    if !state.running_imports.of_case(case.id).is_empty() {
        tracing::info!(case = case.number, credential = id, "confirmation rejected while an import runs");
        return Err(Error::conflict(
            "imports",
            "an import of this case is running; confirm the credential once it has finished, so that \
             its calls in that import are added",
        ));
    }
    let confirmer = Importer::from_user(&user);
    let confirmation = confirm_credential(&state.db, &state.settings, &state.evidence, case, &confirmer, id).await?;
    state.mail_wakeup.notify_one();
    Ok(Json(confirmation))
}
