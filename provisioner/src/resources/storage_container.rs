//! Blob containers, made through ARM so provisioning needs no data-plane role.

use super::compare::{action_for, read_arm};
use super::storage_account::AccountRole;
use super::{Applied, Ctx, Deletion, Diff, Key, Live, Outputs, Read, Resource, Result};
use crate::arm::versions::STORAGE;
use crate::names::{LOCK_CONTAINER, PACKAGE_CONTAINER, RAW_CONTAINER, STANDARD_CONTAINER};
use futures::future::BoxFuture;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Container {
    /// Where batches land; the blob trigger's source.
    Raw,
    /// The Parquet output.
    Standard,
    /// Function packages, named by content hash.
    Packages,
    /// The run lock's blobs.
    Locks,
}

impl Container {
    pub fn account(self) -> AccountRole {
        match self {
            Container::Raw => AccountRole::Raw,
            Container::Standard => AccountRole::Standard,
            Container::Packages | Container::Locks => AccountRole::Functions,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Container::Raw => RAW_CONTAINER,
            Container::Standard => STANDARD_CONTAINER,
            Container::Packages => PACKAGE_CONTAINER,
            Container::Locks => LOCK_CONTAINER,
        }
    }
    fn path(self, ctx: &Ctx) -> String {
        format!(
            "{}/blobServices/default/containers/{}?api-version={STORAGE}",
            self.account().id(ctx),
            self.name()
        )
    }
}

fn desired() -> Value {
    json!({"properties": {"publicAccess": "None"}})
}

impl Resource for Container {
    fn key(&self) -> Key {
        Key::Container(*self)
    }
    fn kind(&self) -> &'static str {
        "blob container"
    }
    fn name(&self, ctx: &Ctx) -> String {
        format!(
            "{}/{}",
            self.account().account_name(ctx),
            Container::name(*self)
        )
    }
    fn depends_on(&self) -> Vec<Key> {
        vec![self.account().key()]
    }
    fn contained_in(&self) -> Option<Key> {
        Some(self.account().key())
    }
    fn read<'a>(&'a self, ctx: &'a Ctx, _inputs: &'a Outputs) -> BoxFuture<'a, Result<Read>> {
        Box::pin(async move {
            Ok(Read {
                live: read_arm(ctx, &self.path(ctx)).await?,
                outputs: Outputs::default(),
            })
        })
    }
    fn diff(&self, _ctx: &Ctx, _inputs: &Outputs, live: &Live) -> Diff {
        action_for(&desired(), live).into()
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        _inputs: &'a Outputs,
        _live: &'a Live,
    ) -> BoxFuture<'a, Result<Applied>> {
        Box::pin(async move {
            ctx.azure.put(&self.path(ctx), &desired()).await?;
            Ok(Applied::default())
        })
    }
    fn delete<'a>(
        &'a self,
        _ctx: &'a Ctx,
        _inputs: &'a Outputs,
        _live: &'a Live,
    ) -> BoxFuture<'a, Result<Deletion>> {
        Box::pin(async { Ok(Deletion::Deleted) })
    }
    fn deleted_with_parent(&self) -> bool {
        true
    }
}
