//! The resources an environment consists of. Each kind lives in its own file with its whole life:
//! what we want, how to read it, how it differs, how to create or update it, how to delete it.
//! Simple ARM kinds are declarations over one generic implementation (`tracked`). The engine only
//! sees the `Resource` trait and the list `all()` returns.

pub mod app_insights;
pub mod compare;
pub mod context;
pub mod event_subscription;
pub mod event_topic;
pub mod flex;
pub mod function_app;
pub mod function_package;
pub mod global_names;
pub mod key;
pub mod log_analytics;
pub mod registration;
pub mod resource_group;
pub mod role_assignment;
pub mod security_group;
pub mod service_plan;
pub mod storage_account;
pub mod storage_container;
pub mod tracked;

pub use compare::{action_for, delete_if_ours, diff_owned, failed_state, is_ours, merged_tags};
pub use context::{Ctx, Outputs, MANAGED_BY};
pub use key::Key;

use crate::arm::ArmError;
use crate::env::Environment;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

/// What a read found.
#[derive(Debug, Clone)]
pub enum Live {
    Absent,
    Present(Value),
}

impl Live {
    pub fn body(&self) -> Option<&Value> {
        match self {
            Live::Present(v) => Some(v),
            Live::Absent => None,
        }
    }
}

/// A read: what is there, and what it tells the resources that depend on it.
#[derive(Debug, Clone)]
pub struct Read {
    pub live: Live,
    pub outputs: Outputs,
}

impl Read {
    pub fn absent() -> Self {
        Self {
            live: Live::Absent,
            outputs: Outputs::default(),
        }
    }
}

/// One property that differs: where, what Azure has, what we want. Secrets are shown redacted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    pub property: String,
    pub live: Value,
    pub desired: Value,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    Create,
    Update { changes: Vec<Change> },
    Noop,
}

impl Action {
    pub fn is_change(&self) -> bool {
        !matches!(self, Action::Noop)
    }
    pub fn from_changes(changes: Vec<Change>) -> Self {
        if changes.is_empty() {
            Action::Noop
        } else {
            Action::Update { changes }
        }
    }
}

/// What a comparison found: the action, and notes for the user that are not drift.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    pub action: Action,
    pub notices: Vec<String>,
}

impl From<Action> for Diff {
    fn from(action: Action) -> Self {
        Self {
            action,
            notices: Vec::new(),
        }
    }
}

/// What an apply left: the resource's outputs as it now is, and notes for the user.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub outputs: Outputs,
    pub notices: Vec<String>,
}

impl From<Outputs> for Applied {
    fn from(outputs: Outputs) -> Self {
        Self {
            outputs,
            notices: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Deletion {
    Deleted,
    /// Not deleted, and why (not ours, or it holds something that is not).
    Kept(String),
}

impl Deletion {
    pub fn not_ours() -> Self {
        Deletion::Kept("not created by provision for this environment".into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(transparent)]
    Azure(#[from] ArmError),
    /// Another run holds the environment's lock (the message names it).
    #[error("{0}")]
    Locked(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, ResourceError>;

/// One resource of an environment. `inputs` are the outputs of everything it depends on, directly
/// or not; `diff` is pure, so a plan is a function of what was read.
pub trait Resource: Send + Sync {
    fn key(&self) -> Key;
    /// Human name of the kind, e.g. `storage account`.
    fn kind(&self) -> &'static str;
    /// The Azure name.
    fn name(&self, ctx: &Ctx) -> String;
    fn depends_on(&self) -> Vec<Key>;
    /// The dependency this resource lives in: when that is absent, so is this, without a read.
    fn contained_in(&self) -> Option<Key>;
    /// Besides its container, the resources whose outputs `read` uses: only these are read
    /// before it, so reads do not wait for the whole chain of creates.
    fn read_needs(&self) -> Vec<Key> {
        Vec::new()
    }
    fn read<'a>(&'a self, ctx: &'a Ctx, inputs: &'a Outputs) -> BoxFuture<'a, Result<Read>>;
    fn diff(&self, ctx: &Ctx, inputs: &Outputs, live: &Live) -> Diff;
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Applied>>;
    /// Deletes it if it is ours.
    fn delete<'a>(
        &'a self,
        ctx: &'a Ctx,
        inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Deletion>>;
    /// Resources deleted with their parent (containers with accounts) need no delete of their own.
    fn deleted_with_parent(&self) -> bool {
        false
    }
}

/// Every resource of an environment, in a stable order.
pub fn all(_env: &Environment) -> Vec<Box<dyn Resource>> {
    use role_assignment::{Principal, RoleAssignment, RoleDefinition as R};
    use storage_account::{AccountRole, StorageAccount};
    use storage_container::Container;
    use tracked::Tracked;
    let mut list: Vec<Box<dyn Resource>> = vec![
        Box::new(resource_group::ResourceGroup),
        Box::new(Tracked(log_analytics::LogAnalytics)),
        Box::new(Tracked(app_insights::AppInsights)),
        Box::new(Tracked(StorageAccount(AccountRole::Raw))),
        Box::new(Tracked(StorageAccount(AccountRole::Standard))),
        Box::new(Tracked(StorageAccount(AccountRole::Functions))),
    ];
    for container in [
        Container::Raw,
        Container::Standard,
        Container::Packages,
        Container::Locks,
    ] {
        list.push(Box::new(container));
    }
    list.push(Box::new(security_group::SecurityGroup));
    list.push(Box::new(Tracked(service_plan::PlanKind)));
    list.push(Box::new(function_app::FunctionApp));
    let grants = [
        (
            Principal::Group,
            AccountRole::Raw,
            R::BlobDataContributor,
            "group reads and writes raw",
        ),
        (
            Principal::Group,
            AccountRole::Standard,
            R::BlobDataContributor,
            "group reads and writes standard",
        ),
        (
            Principal::FunctionApp,
            AccountRole::Raw,
            R::BlobDataOwner,
            "blob trigger reads raw",
        ),
        (
            Principal::FunctionApp,
            AccountRole::Raw,
            R::QueueDataContributor,
            "blob trigger poison queue on raw",
        ),
        (
            Principal::FunctionApp,
            AccountRole::Standard,
            R::BlobDataContributor,
            "handler writes standard",
        ),
        (
            Principal::FunctionApp,
            AccountRole::Functions,
            R::BlobDataOwner,
            "host storage and package",
        ),
        (
            Principal::FunctionApp,
            AccountRole::Functions,
            R::QueueDataContributor,
            "host storage queues",
        ),
        (
            Principal::FunctionApp,
            AccountRole::Functions,
            R::AccountContributor,
            "host storage management",
        ),
    ];
    for (principal, account, role, why) in grants {
        list.push(Box::new(RoleAssignment {
            principal,
            account,
            role,
            why,
        }));
    }
    list.push(Box::new(function_package::FunctionPackage));
    list.push(Box::new(Tracked(event_topic::EventTopic)));
    list.push(Box::new(event_subscription::EventSubscription));
    list
}
