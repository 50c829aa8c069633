//! Blob containers, made through ARM so provisioning needs no data-plane role.

use super::storage_account::AccountRole;
use super::{action_for, read_arm, Action, Ctx, Live, Resource, Result};
use crate::arm::versions::STORAGE;
use futures::future::BoxFuture;
use serde_json::{json, Value};

pub struct Container {
    pub account: AccountRole,
    pub name: &'static str,
}

impl Container {
    fn path(&self, ctx: &Ctx) -> String {
        format!(
            "{}/blobServices/default/containers/{}?api-version={STORAGE}",
            self.account.id(ctx),
            self.name
        )
    }
}

fn desired() -> Value {
    json!({"properties": {"publicAccess": "None"}})
}

impl Resource for Container {
    fn key(&self) -> String {
        format!("container:{}/{}", self.account.label(), self.name)
    }
    fn kind(&self) -> &'static str {
        "blob container"
    }
    fn name(&self, ctx: &Ctx) -> String {
        format!("{}/{}", self.account.account_name(ctx), self.name)
    }
    fn depends_on(&self) -> Vec<String> {
        vec![self.account.key()]
    }
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>> {
        Box::pin(read_arm(ctx, self.path(ctx)))
    }
    fn diff(&self, _ctx: &Ctx, live: &Live) -> Action {
        action_for(&desired(), live)
    }
    fn apply<'a>(&'a self, ctx: &'a Ctx, _live: &'a Live) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            ctx.azure.put(&self.path(ctx), &desired()).await?;
            Ok(())
        })
    }
    fn delete<'a>(&'a self, _ctx: &'a Ctx, _live: &'a Live) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async { Ok(true) })
    }
    fn deleted_with_parent(&self) -> bool {
        true
    }
}
