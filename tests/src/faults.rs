//! Azure-like latency and seeded faults in front of the ARM and Graph routes: 429 with
//! Retry-After, 500/503, and dropped connections, drawn from the emulator's seeded generator.

use crate::error::ArmError;
use crate::state::{lock, Shared};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;

pub async fn faults_and_latency(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let cfg = state.cfg();
    if cfg.latency.request_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(cfg.latency.request_ms)).await;
    }
    let faults = &cfg.faults;
    let applies = faults.methods.is_empty()
        || faults
            .methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(request.method().as_str()));
    if faults.is_active() && applies {
        let roll: f64 = lock(&state.rng).gen();
        if roll < faults.throttle_rate {
            return ArmError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "The request is being throttled as the limit has been reached for operation type - Write.",
            )
            .with_retry_after(faults.retry_after_s)
            .into_response();
        }
        let roll = roll - faults.throttle_rate;
        if roll < faults.server_error_rate {
            let (status, code) = if roll < faults.server_error_rate / 2.0 {
                (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
            };
            return ArmError::new(
                status,
                code,
                "Encountered internal server error. Please try again.",
            )
            .into_response();
        }
        if roll - faults.server_error_rate < faults.drop_rate {
            // Ends the connection task without a response, as a dropped TCP connection looks to a client.
            std::panic::resume_unwind(Box::new("injected connection drop"));
        }
    }
    next.run(request).await
}
