//! How the emulator is set up: identities it knows, realism controls, and where it keeps things.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// A client application the token endpoint accepts (a service principal in Graph).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppRegistration {
    pub client_id: String,
    /// Object id of the app's service principal in the directory.
    pub object_id: String,
    pub display_name: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredential>,
}

/// Workload identity federation: an external token with these claims may be exchanged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FederatedCredential {
    pub issuer: String,
    pub subject: String,
    pub audience: String,
}

/// Per-operation long-running durations, in emulated seconds (scaled by `time_scale`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyProfile {
    /// Delay before every response, in milliseconds of real time (already scaled).
    pub request_ms: u64,
    pub storage_create_s: f64,
    pub workspace_create_s: f64,
    pub plan_create_s: f64,
    pub site_create_s: f64,
    pub resource_group_delete_s: f64,
    pub workspace_delete_s: f64,
    pub system_topic_create_s: f64,
    pub event_subscription_create_s: f64,
}

impl LatencyProfile {
    /// Durations close to what Azure shows for these operations (see docs/local-cloud.md).
    pub fn azure_like() -> Self {
        Self {
            request_ms: 80,
            storage_create_s: 20.0,
            workspace_create_s: 8.0,
            plan_create_s: 10.0,
            site_create_s: 25.0,
            resource_group_delete_s: 30.0,
            workspace_delete_s: 5.0,
            system_topic_create_s: 6.0,
            event_subscription_create_s: 8.0,
        }
    }
    /// Instant apart from the LRO shape itself (at least one 202 poll still happens).
    pub fn fast() -> Self {
        Self {
            request_ms: 0,
            storage_create_s: 0.3,
            workspace_create_s: 0.2,
            plan_create_s: 0.2,
            site_create_s: 0.3,
            resource_group_delete_s: 0.3,
            workspace_delete_s: 0.2,
            system_topic_create_s: 0.1,
            event_subscription_create_s: 0.1,
        }
    }
}

/// Seeded fault injection applied in front of the ARM and Graph routes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FaultConfig {
    pub seed: u64,
    /// Probability of a 429 with Retry-After.
    pub throttle_rate: f64,
    pub retry_after_s: u64,
    /// Probability of a 500 or 503.
    pub server_error_rate: f64,
    /// Probability of closing the connection without an answer.
    pub drop_rate: f64,
    /// Probability that a long-running operation ends Failed.
    pub lro_failure_rate: f64,
    /// Only requests whose method is in this list are faulted (empty = all).
    #[serde(default)]
    pub methods: Vec<String>,
}

impl FaultConfig {
    pub fn is_active(&self) -> bool {
        self.throttle_rate > 0.0
            || self.server_error_rate > 0.0
            || self.drop_rate > 0.0
            || self.lro_failure_rate > 0.0
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmulatorConfig {
    pub tenant_id: String,
    pub subscription_id: String,
    pub apps: Vec<AppRegistration>,
    /// Seconds of emulated time per second of real time is `1/time_scale`: 0.01 makes a 20 s LRO last 0.2 s.
    pub time_scale: f64,
    pub latency: LatencyProfile,
    pub faults: FaultConfig,
    /// Azure's awkward behaviours; all on unless a test turns some off.
    pub behaviours: crate::behaviours::Behaviours,
    /// A principal younger than this is unknown to ARM unless principalType is given.
    pub principal_replication: Duration,
    pub token_lifetime: Duration,
    /// The azurite-blob executable; each storage account gets its own instance.
    pub azurite_blob_bin: PathBuf,
    /// Where Azurite instances and site packages live.
    pub data_dir: PathBuf,
    pub request_log: Option<PathBuf>,
    pub state_file: Option<PathBuf>,
}

pub const DEFAULT_TENANT: &str = "72f988bf-0000-4000-8000-00000000e001";
pub const DEFAULT_SUBSCRIPTION: &str = "00000000-0000-4000-8000-0000000000a1";
pub const DEPLOYER_CLIENT_ID: &str = "11111111-0000-4000-8000-000000000001";
pub const DEPLOYER_OBJECT_ID: &str = "11111111-0000-4000-8000-0000000000f1";
pub const DEPLOYER_SECRET: &str = "local-cloud-deployer-secret";
pub const OIDC_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub const OIDC_SUBJECT: &str = "repo:superhero/dataflow:environment:prod";
pub const OIDC_AUDIENCE: &str = "api://AzureADTokenExchange";

impl EmulatorConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            tenant_id: DEFAULT_TENANT.into(),
            subscription_id: DEFAULT_SUBSCRIPTION.into(),
            apps: vec![AppRegistration {
                client_id: DEPLOYER_CLIENT_ID.into(),
                object_id: DEPLOYER_OBJECT_ID.into(),
                display_name: "superhero-deployer".into(),
                client_secret: Some(DEPLOYER_SECRET.into()),
                federated_credentials: vec![FederatedCredential {
                    issuer: OIDC_ISSUER.into(),
                    subject: OIDC_SUBJECT.into(),
                    audience: OIDC_AUDIENCE.into(),
                }],
            }],
            time_scale: 0.01,
            latency: LatencyProfile::fast(),
            faults: FaultConfig::default(),
            behaviours: crate::behaviours::Behaviours::default(),
            principal_replication: Duration::from_secs(2),
            token_lifetime: Duration::from_secs(3599),
            azurite_blob_bin: default_azurite_bin(),
            data_dir,
            request_log: None,
            state_file: None,
        }
    }

    /// Converts emulated seconds into real time.
    pub fn scaled(&self, emulated_seconds: f64) -> Duration {
        Duration::from_secs_f64((emulated_seconds * self.time_scale).max(0.0))
    }
}

/// `$AZURITE_BLOB_BIN`, else the project's cached install, else `PATH` (the test kit's lookup).
pub fn default_azurite_bin() -> PathBuf {
    test_kit::Tool::Azurite.expected_path()
}
