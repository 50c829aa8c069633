//! Bearer token checks in front of ARM and Graph, answered in each API's own error shape.

use crate::error::{graph_error, ArmError};
use crate::state::Shared;
use crate::token::{Claims, TokenProblem, ARM_AUDIENCES, GRAPH_AUDIENCES};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub async fn arm_auth(State(state): State<Shared>, mut request: Request, next: Next) -> Response {
    match state
        .signer
        .verify(bearer(request.headers()).as_deref(), ARM_AUDIENCES)
    {
        Ok(claims) => {
            request.extensions_mut().insert::<Claims>(claims);
            next.run(request).await
        }
        Err(problem) => arm_auth_error(problem).into_response(),
    }
}

fn arm_auth_error(problem: TokenProblem) -> ArmError {
    let unauthorized =
        |code: &str, message: String| ArmError::new(StatusCode::UNAUTHORIZED, code, message);
    match problem {
        TokenProblem::Missing => unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.".into()),
        TokenProblem::Malformed => unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided in an invalid format.".into()),
        TokenProblem::BadSignature => unauthorized("InvalidAuthenticationToken", "The access token is invalid.".into()),
        TokenProblem::Expired { exp, now } => unauthorized(
            "ExpiredAuthenticationToken",
            format!("The access token expiry UTC time '{}' is earlier than current UTC time '{}'.", fmt_time(exp), fmt_time(now)),
        ),
        TokenProblem::WrongAudience(aud) => unauthorized(
            "InvalidAuthenticationTokenAudience",
            format!("The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."),
        ),
    }
}

fn fmt_time(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .map(|t| t.format("%m/%d/%Y %H:%M:%S").to_string())
        .unwrap_or_default()
}

pub async fn graph_auth(State(state): State<Shared>, mut request: Request, next: Next) -> Response {
    match state
        .signer
        .verify(bearer(request.headers()).as_deref(), GRAPH_AUDIENCES)
    {
        Ok(claims) => {
            request.extensions_mut().insert::<Claims>(claims);
            next.run(request).await
        }
        Err(problem) => {
            let message = match problem {
                TokenProblem::Missing => "Access token is empty.".to_string(),
                TokenProblem::Expired { .. } => {
                    "Lifetime validation failed, the token is expired.".to_string()
                }
                TokenProblem::WrongAudience(_) => {
                    "Access token validation failure. Invalid audience.".to_string()
                }
                _ => "Access token validation failure.".to_string(),
            };
            graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                &message,
            )
        }
    }
}
