//! The one implementation of a tracked ARM resource in the environment's resource group: read it,
//! compare only what we set, PUT the desired body with our tags merged over others', and delete it
//! only when it carries our tags. A kind declares its type, api-version, name, body, dependencies
//! and what it reports to its dependents (and, when an update is not the create's PUT, how it
//! updates); `Tracked(kind)` is then a `Resource`.

use super::compare::{action_for, delete_if_ours, merged_tags, read_arm};
use super::{Applied, Ctx, Deletion, Diff, Key, Live, Outputs, Read, Resource, Result};
use futures::future::BoxFuture;
use serde_json::Value;

pub trait TrackedKind: Send + Sync {
    fn key(&self) -> Key;
    /// Human name of the kind, e.g. `app service plan`.
    fn kind(&self) -> &'static str;
    /// `Provider/type`, e.g. `Microsoft.Web/serverfarms`.
    fn resource_type(&self) -> &'static str;
    fn api_version(&self) -> &'static str;
    fn name(&self, ctx: &Ctx) -> String;
    fn depends_on(&self) -> Vec<Key> {
        vec![Key::ResourceGroup]
    }
    /// The body to send, without tags (ours are added, others' kept).
    fn desired(&self, ctx: &Ctx) -> Value;
    /// Top-level fields of the body that are sent but not compared (Azure echoes them back in
    /// another spelling).
    fn sent_only(&self) -> &'static [&'static str] {
        &[]
    }
    /// What this resource tells its dependents, from its body as read or as the PUT returned it.
    fn outputs(&self, _body: &Value) -> Outputs {
        Outputs::default()
    }
    /// Read even when the resource group is absent (a check in `before_read` must run on the
    /// first plan too; the GET then answers 404, read as absent).
    fn read_without_group(&self) -> bool {
        false
    }
    /// What must hold before the resource is read, e.g. the region offering the sku; an error
    /// stops the plan before anything is written.
    fn before_read<'a>(&'a self, _ctx: &'a Ctx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }
    /// Notices every plan of this resource shows, changed or not.
    fn notices(&self, _ctx: &Ctx) -> Vec<String> {
        Vec::new()
    }
    /// Extra query parameters for the DELETE, e.g. `&force=true`.
    fn delete_query(&self) -> &'static str {
        ""
    }
    /// Sends `body` (tags merged) to the existing resource `current` at `path` and returns what
    /// Azure answered. The create's PUT unless the kind updates otherwise (a PATCH, or a property
    /// that cannot change in place).
    fn update<'a>(
        &'a self,
        ctx: &'a Ctx,
        path: &'a str,
        _current: &'a Value,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<Value>> {
        Box::pin(async move { Ok(ctx.azure.put(path, body).await?) })
    }
}

pub struct Tracked<K>(pub K);

/// The ARM id of a tracked kind's resource.
pub fn id(ctx: &Ctx, kind: &dyn TrackedKind) -> String {
    ctx.provider_path(kind.resource_type(), &kind.name(ctx))
}

impl<K: TrackedKind> Tracked<K> {
    fn path(&self, ctx: &Ctx) -> String {
        format!("{}?api-version={}", id(ctx, &self.0), self.0.api_version())
    }
    /// The body as compared: ours tags in, send-only fields out.
    fn compared(&self, ctx: &Ctx) -> Value {
        let mut body = self.0.desired(ctx);
        if let Some(map) = body.as_object_mut() {
            for field in self.0.sent_only() {
                map.remove(*field);
            }
            map.insert("tags".into(), ctx.tags_json());
        }
        body
    }
}

impl<K: TrackedKind> Resource for Tracked<K> {
    fn key(&self) -> Key {
        self.0.key()
    }
    fn kind(&self) -> &'static str {
        self.0.kind()
    }
    fn name(&self, ctx: &Ctx) -> String {
        self.0.name(ctx)
    }
    fn depends_on(&self) -> Vec<Key> {
        self.0.depends_on()
    }
    fn contained_in(&self) -> Option<Key> {
        (!self.0.read_without_group()).then_some(Key::ResourceGroup)
    }
    fn read<'a>(&'a self, ctx: &'a Ctx, _inputs: &'a Outputs) -> BoxFuture<'a, Result<Read>> {
        Box::pin(async move {
            self.0.before_read(ctx).await?;
            let live = read_arm(ctx, &self.path(ctx)).await?;
            let outputs = live.body().map(|b| self.0.outputs(b)).unwrap_or_default();
            Ok(Read { live, outputs })
        })
    }
    fn diff(&self, ctx: &Ctx, _inputs: &Outputs, live: &Live) -> Diff {
        let mut diff: Diff = action_for(&self.compared(ctx), live).into();
        diff.notices = self.0.notices(ctx);
        diff
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        _inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Applied>> {
        Box::pin(async move {
            let mut body = self.0.desired(ctx);
            body["tags"] = merged_tags(ctx, live);
            let path = self.path(ctx);
            let result = match live.body() {
                None => ctx.azure.put(&path, &body).await?,
                Some(current) => self.0.update(ctx, &path, current, &body).await?,
            };
            Ok(self.0.outputs(&result).into())
        })
    }
    fn delete<'a>(
        &'a self,
        ctx: &'a Ctx,
        _inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Deletion>> {
        Box::pin(async move {
            let path = format!("{}{}", self.path(ctx), self.0.delete_query());
            delete_if_ours(ctx, live, &path).await
        })
    }
}
