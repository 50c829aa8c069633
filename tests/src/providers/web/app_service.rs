//! What every App Service write and read shares: the resource types, a site looked up or 404, the
//! error shape App Service answers with (top-level `Code`/`Message`), and the windows after a
//! write (`app_service_busy`, `host_not_ready`) during which it answers 409 or 400.

use crate::arm::path::ResourcePath;
use crate::error::ArmError;
use crate::state::{key, lock, Resource, Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio::time::Instant;

pub const PLAN: &str = "Microsoft.Web/serverfarms";
pub const SITE: &str = "Microsoft.Web/sites";

pub fn require_site(state: &Shared, parsed: &ResourcePath) -> Result<Resource, ArmError> {
    let id = parsed.resource_id(1);
    lock(&state.cloud).get(&id).cloned().ok_or_else(|| {
        ArmError::resource_not_found(
            SITE,
            &parsed.names().first().cloned().unwrap_or_default(),
            parsed.rg(),
        )
    })
}

pub fn app_service_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "Code": code, "Message": message, "Target": null,
        "Details": [{"Message": message}, {"Code": code}, {"ErrorEntity": {"Code": code, "Message": message}}],
        "Innererror": null,
    });
    (status, Json(body)).into_response()
}

fn until(map: &std::sync::Mutex<std::collections::HashMap<String, Instant>>, id: &str) -> bool {
    lock(map).get(&key(id)).is_some_and(|t| *t > Instant::now())
}

/// 409 while an earlier write to this site or plan is still being applied.
pub fn busy(state: &Shared, id: &str, what: &str) -> Option<Response> {
    until(&state.sites.busy_until, id).then(|| {
        app_service_error(
            StatusCode::CONFLICT,
            "Conflict",
            &format!(
                "Cannot modify this {what} because another operation is in progress. Details: Id: {}, OperationName: Update, RequestId: {}",
                uuid::Uuid::new_v4(),
                uuid::Uuid::new_v4()
            ),
        )
    })
}

/// 400 from the host runtime while the Functions host restarts after a write.
pub fn host_starting(state: &Shared, site_id: &str) -> Option<Response> {
    // The emulated host holds its table while it (re)starts a handler.
    let reconciling =
        state.cfg().behaviours.host_not_ready && state.sites.sites.try_lock().is_err();
    (reconciling || until(&state.sites.restarting_until, site_id)).then(|| {
        app_service_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Encountered an error (ServiceUnavailable) from host runtime.",
        )
    })
}

/// A write was accepted: the resource stays busy, and a site's host restarts.
pub fn written(state: &Shared, id: &str, site: bool) {
    let cfg = state.cfg();
    let b = &cfg.behaviours;
    let now = Instant::now();
    if b.app_service_busy {
        lock(&state.sites.busy_until).insert(key(id), now + cfg.scaled(b.app_service_busy_s));
    }
    if site && b.host_not_ready {
        lock(&state.sites.restarting_until).insert(key(id), now + cfg.scaled(b.host_restart_s));
    }
}
