//! The one retry policy. A failure is put in a class; each class has its own rule:
//!
//! - `Throttled` (429) and `Transient` (5xx, 408, no answer): up to `max_attempts`, honouring
//!   `Retry-After` (seconds or HTTP-date), else exponential backoff with jitter.
//! - `Busy` (another operation in progress, a resource still being deleted): wait and retry
//!   until the deadline.
//! - Busy and propagating answers are waits for Azure to finish something whose length nobody
//!   knows: each pause is at most a quarter of the time waited so far (and at least `base`), so
//!   the wait never overshoots the moment Azure is done by more than a quarter, where plain
//!   doubling overshoots by up to the whole wait.
//! - `Propagating` (an answer that only means Azure has not caught up yet: a principal not yet
//!   replicated, a data role not yet effective, a host not yet started): retried until the
//!   propagation window passes.
//! - `Fatal`: returned at once.
//!
//! Time is tokio's, so tests can run the whole policy on a paused clock.

use crate::error::{Error, Origin};
use crate::Notify;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Throttled,
    Transient,
    Busy,
    Propagating,
    Fatal,
}

/// A factor in [0.5, 1.0) that spreads backoffs; injectable so tests are exact.
#[derive(Clone)]
pub struct Jitter(Arc<dyn Fn() -> f64 + Send + Sync>);

impl Jitter {
    pub fn random() -> Self {
        Self(Arc::new(|| {
            rand::Rng::gen_range(&mut rand::thread_rng(), 0.5..1.0)
        }))
    }
    pub fn fixed(factor: f64) -> Self {
        Self(Arc::new(move || factor))
    }
    fn factor(&self) -> f64 {
        (self.0)().clamp(0.0, 1.0)
    }
}

impl std::fmt::Debug for Jitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Jitter")
    }
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max_backoff: Duration,
    /// No call is retried past this, whatever its class.
    pub deadline: Duration,
    /// How long an eventually consistent answer is waited out.
    pub propagation_window: Duration,
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base: Duration::from_millis(250),
            max_backoff: Duration::from_secs(20),
            deadline: Duration::from_secs(15 * 60),
            propagation_window: Duration::from_secs(5 * 60),
            jitter: Jitter::random(),
        }
    }
}

/// ARM busy codes: the resource is in another operation's hands for now.
const BUSY_CODES: &[&str] = &[
    "AnotherOperationInProgress",
    "OperationInProgress",
    "ResourceGroupBeingDeleted",
    "StorageAccountIsNotProvisioned",
    "ContainerBeingDeleted",
    "ScopeLocked",
];

/// The default class of a failure; callers add their own `Propagating` cases.
pub fn classify(error: &Error) -> Class {
    match error.origin {
        Origin::Connection => Class::Transient,
        Origin::Http(429) => Class::Throttled,
        Origin::Http(408 | 500..=599) => Class::Transient,
        Origin::Http(409)
            if BUSY_CODES
                .iter()
                .any(|c| error.code.eq_ignore_ascii_case(c)) =>
        {
            Class::Busy
        }
        // App Service answers 409 Conflict "... another operation is in progress" on sites/plans.
        Origin::Http(409)
            if error.code.eq_ignore_ascii_case("Conflict")
                && error
                    .message
                    .to_ascii_lowercase()
                    .contains("operation is in progress") =>
        {
            Class::Busy
        }
        _ => Class::Fatal,
    }
}

/// `Retry-After` as delta-seconds (fractions accepted) or an HTTP-date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(at.timestamp().max(0) as u64);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// What one retrying call is: for messages, and extra classes it knows about.
pub struct Attempting<'a> {
    pub what: &'a str,
    /// Overrides the default class for failures this call knows to be temporary.
    pub classify: &'a (dyn Fn(&Error) -> Option<Class> + Send + Sync),
    pub notify: &'a Notify,
}

pub fn no_override(_: &Error) -> Option<Class> {
    None
}

/// Answers that only mean Azure has not caught up yet with a write we made. Each is retried
/// for the propagation window by the calls that can meet it, and only by those.
pub mod eventual {
    use crate::error::{Error, Origin};

    /// One kind of answer that means Azure has not caught up: how to recognise it, what it
    /// waits for, and what the user can do when it outlasts the propagation window.
    pub struct Eventual {
        pub matches: fn(&Error) -> bool,
        pub waiting_for: &'static str,
        pub remedy: &'static str,
    }

    /// Every eventual answer, so a give-up message can say what was waited for.
    pub const ALL: &[Eventual] = &[
        Eventual {
            matches: principal_not_replicated,
            waiting_for: "Entra ID to replicate the new principal to Azure role-based access control",
            remedy: "replication usually takes seconds but can take minutes in a large tenant: run again later",
        },
        Eventual {
            matches: host_starting,
            waiting_for: "the Functions host to start again after the change to the site",
            remedy: "a host that never starts has a failing handler or setting: read the app's log stream or Application Insights, fix it, and run again",
        },
        Eventual {
            matches: webhook_not_ready,
            waiting_for: "the function's webhook to answer Event Grid's validation handshake",
            remedy: "check that the function app is running and its blob trigger is registered (`provision verify` names the failing stage), then run again",
        },
        Eventual {
            matches: graph_object_not_replicated,
            waiting_for: "Microsoft Graph to replicate the new directory object",
            remedy: "Graph replication usually takes seconds: run again later",
        },
        Eventual {
            matches: data_role_not_effective,
            waiting_for: "the new storage data role assignment to take effect",
            remedy: "data roles can take up to 10 minutes to apply; if it lasts longer, check that the identity holds a Storage Blob Data role on the account (`provision drift` shows a missing role assignment), then run again",
        },
        Eventual {
            matches: host_without_data_roles,
            waiting_for: "the function app's identity to read its storage after a restart",
            remedy: "check the app's role assignments on the raw and functions accounts (`provision drift`), then run again: each run restarts the app",
        },
        Eventual {
            matches: blobs_key_not_reported,
            waiting_for: "the Functions host to register its blob trigger and report its blobs_extension key",
            remedy: "a host that never reports it did not start the package or registers no EventGrid blob trigger: check `provision verify` and the app's logs, then run again",
        },
        Eventual {
            matches: deployment_role_not_effective,
            waiting_for: "the site identity's role on the deployment container to take effect for One Deploy",
            remedy: "check the site identity's Storage Blob Data Owner role on the functions account (`provision drift`), then run again",
        },
        Eventual {
            matches: access_policy_not_effective,
            waiting_for: "the container's new stored access policy to take effect (up to 30 seconds)",
            remedy: "if the SAS is still refused, the policy was changed by hand: run `provision drift --fix`",
        },
    ];

    /// The eventual answer `e` is, if any.
    pub fn which(e: &Error) -> Option<&'static Eventual> {
        ALL.iter().find(|k| (k.matches)(e))
    }

    /// A role assignment for a principal Entra has not replicated to ARM yet (400
    /// `PrincipalNotFound`).
    pub fn principal_not_replicated(e: &Error) -> bool {
        e.is(400, "PrincipalNotFound")
    }

    /// The Functions host restarting after a write to the site or its settings: `listkeys` and
    /// `syncfunctiontriggers` answer 400 in App Service's shape, "Encountered an error
    /// (ServiceUnavailable) from host runtime." (azure-functions-core-tools#3008, azure-cli#20892).
    pub fn host_starting(e: &Error) -> bool {
        matches!(e.origin, Origin::Http(400 | 404 | 409 | 502 | 503))
            && e.message.to_ascii_lowercase().contains("from host runtime")
    }

    /// Event Grid could not complete the webhook handshake (the function's host not ready):
    /// the subscription PUT is long-running (EventGrid spec, `x-ms-long-running-operation`) and
    /// its async operation ends Failed, outer code `ResourceOperationFailure`, inner
    /// `Url validation` "Webhook validation handshake failed for …" (azure-cli#21006,
    /// MicrosoftDocs/azure-docs#107285). A synchronous 400 with that code is accepted too.
    pub fn webhook_not_ready(e: &Error) -> bool {
        e.origin == Origin::Operation && e.code.eq_ignore_ascii_case("Url validation")
            || e.status() == Some(400) && e.code.eq_ignore_ascii_case("Url validation")
    }

    /// Microsoft Graph has not replicated an object we just created: a `$ref` to it (or a bind
    /// of it) answers 404 `Request_ResourceNotFound` for seconds
    /// (hashicorp/terraform-provider-azuread#220, whose fix #290 waits for replication before
    /// adding owners and members; #283 retries member adds; pulumi/pulumi-azuread#2014). Only
    /// the calls that can meet lag use it; a wrong member id is caught by a read before them,
    /// so this does not hide typos.
    pub fn graph_object_not_replicated(e: &Error) -> bool {
        e.is(404, "Request_ResourceNotFound")
    }

    /// A data-plane role assignment not effective yet: storage answers 403
    /// `AuthorizationPermissionMismatch` (or `AuthorizationFailure`) for minutes.
    pub fn data_role_not_effective(e: &Error) -> bool {
        e.is(403, "AuthorizationPermissionMismatch") || e.is(403, "AuthorizationFailure")
    }

    /// A resource provider namespace registered moments ago: `registrationState` stays
    /// `Registering` for a minute or more, and writes to it answer 409
    /// `MissingSubscriptionRegistration` until it is `Registered` ("Azure resource providers and
    /// types", learn.microsoft.com; the error's shape: azure-sdk-for-node#2305).
    pub fn provider_registering(e: &Error) -> bool {
        e.code
            .eq_ignore_ascii_case("MissingSubscriptionRegistration")
            && matches!(e.origin, Origin::Operation | Origin::Http(409))
    }

    /// Our own label for a Functions host that is up but never registered its blob trigger: it
    /// started before its identity's data roles took effect and does not retry its storage until
    /// restarted (a data role takes minutes: terraform-provider-azurerm#6934).
    pub const HOST_WITHOUT_DATA_ROLES: &str = "HostStartedWithoutDataRoles";

    /// See [`HOST_WITHOUT_DATA_ROLES`]: waited out (with a restart per attempt) like a data role.
    pub fn host_without_data_roles(e: &Error) -> bool {
        e.origin == Origin::Operation && e.code == HOST_WITHOUT_DATA_ROLES
    }

    /// Our own label for a Functions host that answers `listkeys` without a `blobs_extension`
    /// system key yet: the key the Event Grid webhook URL carries only exists once the host has
    /// registered its blob trigger.
    pub const BLOBS_KEY_NOT_REPORTED: &str = "BlobsExtensionKeyNotReported";

    /// See [`BLOBS_KEY_NOT_REPORTED`]: waited out for the propagation window.
    pub fn blobs_key_not_reported(e: &Error) -> bool {
        e.origin == Origin::Operation && e.code == BLOBS_KEY_NOT_REPORTED
    }

    /// One Deploy's storage write refused while the Flex site identity's role on the deployment
    /// container is not effective yet: 400 `BlobUploadFailedException` (a storage 403), retried
    /// by the publishers that meet it (ZeroFailed.Deploy.Azure; azure-dev#4439).
    pub fn deployment_role_not_effective(e: &Error) -> bool {
        e.status() == Some(400) && e.message.contains("BlobUploadFailedException")
    }

    /// A SAS bound to a stored access policy set less than 30 s ago (Set Container ACL:
    /// "may take up to 30 seconds to take effect"): 403 `AuthenticationFailed`.
    pub fn access_policy_not_effective(e: &Error) -> bool {
        e.is(403, "AuthenticationFailed")
    }
}

/// Marks `Propagating` the failures `predicate` recognises.
pub fn propagating(
    predicate: fn(&Error) -> bool,
) -> impl Fn(&Error) -> Option<Class> + Send + Sync {
    move |e| predicate(e).then_some(Class::Propagating)
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`.
    pub fn delay(&self, attempt: u32, hint: Option<Duration>) -> Duration {
        if let Some(hint) = hint {
            return hint.min(self.max_backoff);
        }
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)))
            .min(self.max_backoff);
        exp.mul_f64(self.jitter.factor())
    }

    /// Runs `op` until it succeeds, fails fatally, or its class's limit passes.
    pub async fn run<T, F, Fut>(&self, call: Attempting<'_>, mut op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut propagating_since: Option<Instant> = None;
        loop {
            attempt += 1;
            let error = match op().await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let class = (call.classify)(&error).unwrap_or_else(|| classify(&error));
            let elapsed = started.elapsed();
            let give_up = match class {
                Class::Fatal => return Err(error),
                Class::Throttled | Class::Transient => attempt >= self.max_attempts,
                Class::Busy => elapsed >= self.deadline,
                Class::Propagating => {
                    let since = *propagating_since.get_or_insert_with(Instant::now);
                    since.elapsed() >= self.propagation_window
                }
            };
            if give_up || elapsed >= self.deadline {
                return Err(self.gave_up(error, class, elapsed, attempt));
            }
            let mut wait = self.delay(attempt, error.retry_after);
            if matches!(class, Class::Busy | Class::Propagating) && error.retry_after.is_none() {
                wait = wait.min(self.base.max(elapsed / 4));
            }
            (call.notify)(format!(
                "{} {}: {}; retrying in {:.1}s",
                describe(class),
                call.what,
                short(&error),
                wait.as_secs_f64()
            ));
            tokio::time::sleep(wait).await;
        }
    }
}

fn describe(class: Class) -> &'static str {
    match class {
        Class::Throttled => "throttled",
        Class::Transient => "transient failure",
        Class::Busy => "busy",
        Class::Propagating => "waiting for Azure to catch up with",
        Class::Fatal => "failed",
    }
}

fn short(error: &Error) -> String {
    match error.status() {
        Some(s) => format!("HTTP {s} {}", error.code),
        None => error.code.clone(),
    }
}

impl RetryPolicy {
    /// The last error, with what was waited for and what to do, so the user knows it was not a
    /// first-try failure and where to go from here.
    fn gave_up(&self, mut error: Error, class: Class, elapsed: Duration, attempts: u32) -> Error {
        let why = match (class, eventual::which(&error)) {
            (Class::Propagating, Some(kind)) => format!(
                "waited the propagation window ({:.0}s) for {}; {} (or wait longer: --propagation-window SECONDS)",
                self.propagation_window.as_secs_f64(),
                kind.waiting_for,
                kind.remedy
            ),
            (Class::Propagating, None) => format!(
                "Azure did not catch up within the propagation window ({:.0}s; wait longer: --propagation-window SECONDS)",
                self.propagation_window.as_secs_f64()
            ),
            (Class::Busy, _) => "the resource stayed busy until the deadline".to_string(),
            _ => "retries exhausted".to_string(),
        };
        error.message = format!(
            "{} (still failing after {attempts} attempts over {:.0}s: {why})",
            error.message,
            elapsed.as_secs_f64(),
        );
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Method;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn http(status: u16, code: &str) -> Error {
        Error::http(
            Method::GET,
            "/x",
            status,
            &format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#),
            None,
            None,
        )
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            jitter: Jitter::fixed(1.0),
            ..Default::default()
        }
    }

    #[test]
    fn retry_after_in_seconds_and_as_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:40:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn classes_follow_status_and_code() {
        assert_eq!(classify(&http(429, "TooManyRequests")), Class::Throttled);
        assert_eq!(classify(&http(503, "ServiceUnavailable")), Class::Transient);
        assert_eq!(
            classify(&http(409, "AnotherOperationInProgress")),
            Class::Busy
        );
        assert_eq!(classify(&http(409, "RoleAssignmentExists")), Class::Fatal);
        let app_service = Error::http(
            Method::PUT,
            "/s",
            409,
            r#"{"Code":"Conflict","Message":"Cannot modify this site because another operation is in progress. Details: Id: 1"}"#,
            None,
            None,
        );
        assert_eq!(classify(&app_service), Class::Busy);
        assert_eq!(
            classify(&http(400, "PrincipalNotFound")),
            Class::Fatal,
            "only the caller knows it may propagate"
        );
    }

    #[test]
    fn backoff_grows_and_honours_the_hint() {
        let p = policy();
        assert_eq!(p.delay(1, None), Duration::from_millis(250));
        assert_eq!(p.delay(3, None), Duration::from_secs(1));
        assert_eq!(p.delay(30, None), p.max_backoff);
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        let half = RetryPolicy {
            jitter: Jitter::fixed(0.5),
            ..Default::default()
        };
        assert_eq!(half.delay(1, None), Duration::from_millis(125));
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_at_the_servers_pace_then_succeeds() {
        let calls = AtomicU32::new(0);
        let notify: Notify = Arc::new(|_| {});
        let started = Instant::now();
        let result = policy()
            .run(
                Attempting {
                    what: "GET /x",
                    classify: &no_override,
                    notify: &notify,
                },
                || async {
                    if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                        let mut e = http(429, "TooManyRequests");
                        e.retry_after = Some(Duration::from_secs(4));
                        Err(e)
                    } else {
                        Ok(7)
                    }
                },
            )
            .await;
        assert_eq!(result.expect("succeeds"), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(started.elapsed(), Duration::from_secs(8));
    }

    #[tokio::test(start_paused = true)]
    async fn propagation_is_waited_out_for_the_window_and_no_longer() {
        let notify: Notify = Arc::new(|_| {});
        let p = RetryPolicy {
            propagation_window: Duration::from_secs(60),
            ..policy()
        };
        let started = Instant::now();
        let propagating = |e: &Error| (e.code == "PrincipalNotFound").then_some(Class::Propagating);
        let result: Result<(), Error> = p
            .run(
                Attempting {
                    what: "PUT role",
                    classify: &propagating,
                    notify: &notify,
                },
                || async { Err(http(400, "PrincipalNotFound")) },
            )
            .await;
        let error = result.expect_err("gives up");
        assert_eq!(error.code, "PrincipalNotFound", "the Azure code survives");
        assert!(
            error.message.contains("propagation window (60s)")
                && error
                    .message
                    .contains("Entra ID to replicate the new principal")
                && error.message.contains("run again later"),
            "says what it waited for, how long, and what to do: {}",
            error.message
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(60) && waited < Duration::from_secs(90),
            "{waited:?}"
        );
    }

    /// Azure catches up at an unknown moment (here 40 s in): the call notices within a quarter
    /// of the time waited, where doubling pauses (up to 20 s) would notice up to 20 s late.
    #[tokio::test(start_paused = true)]
    async fn a_wait_for_azure_overshoots_by_at_most_a_quarter() {
        let notify: Notify = Arc::new(|_| {});
        let started = Instant::now();
        let attempts = std::sync::Mutex::new(Vec::new());
        let busy = |e: &Error| (e.code == "AnotherOperationInProgress").then_some(Class::Busy);
        let propagating = |e: &Error| (e.code == "PrincipalNotFound").then_some(Class::Propagating);
        for (code, classify) in [
            (
                "AnotherOperationInProgress",
                &busy as &(dyn Fn(&Error) -> Option<Class> + Send + Sync),
            ),
            ("PrincipalNotFound", &propagating),
        ] {
            let began = Instant::now();
            attempts.lock().expect("attempts").clear();
            RetryPolicy {
                jitter: Jitter::fixed(1.0),
                ..Default::default()
            }
            .run(
                Attempting {
                    what: "PUT x",
                    classify,
                    notify: &notify,
                },
                || async {
                    attempts.lock().expect("attempts").push(began.elapsed());
                    if began.elapsed() < Duration::from_secs(40) {
                        Err(http(409, code))
                    } else {
                        Ok(())
                    }
                },
            )
            .await
            .expect("succeeds once Azure is done");
            let done = began.elapsed();
            assert!(
                done >= Duration::from_secs(40) && done <= Duration::from_secs(50),
                "{code}: noticed at {done:?}, Azure was done at 40 s"
            );
            let attempts = attempts.lock().expect("attempts").clone();
            for pair in attempts.windows(2) {
                let pause = pair[1] - pair[0];
                assert!(
                    // tokio's timer rounds a pause up to the next millisecond.
                    pause <= Duration::from_millis(250).max(pair[0] / 4) + Duration::from_millis(1),
                    "{code}: paused {pause:?} after waiting {:?}: {attempts:?}",
                    pair[0]
                );
            }
        }
        assert!(started.elapsed() < Duration::from_secs(101));
    }

    #[tokio::test(start_paused = true)]
    async fn fatal_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let notify: Notify = Arc::new(|_| {});
        let result: Result<(), Error> = policy()
            .run(
                Attempting {
                    what: "PUT x",
                    classify: &no_override,
                    notify: &notify,
                },
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(http(400, "InvalidTemplate"))
                },
            )
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_stop_after_max_attempts() {
        let calls = AtomicU32::new(0);
        let notify: Notify = Arc::new(|_| {});
        let p = RetryPolicy {
            max_attempts: 4,
            ..policy()
        };
        let result: Result<(), Error> = p
            .run(
                Attempting {
                    what: "GET x",
                    classify: &no_override,
                    notify: &notify,
                },
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(http(503, "ServiceUnavailable"))
                },
            )
            .await;
        assert!(result.expect_err("gives up").message.contains("4 attempts"));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }
}
