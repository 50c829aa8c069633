//! The Event Grid system topic on the raw account: the source of the blob trigger's events.

use super::storage_account::AccountRole;
use super::{
    action_for, delete_if_ours, merged_tags, read_arm, Action, Ctx, Live, Resource, Result,
};
use crate::arm::versions::EVENT_GRID;
use futures::future::BoxFuture;
use serde_json::{json, Value};

pub struct EventTopic;

pub fn id(ctx: &Ctx) -> String {
    ctx.provider_path("Microsoft.EventGrid/systemTopics", &ctx.names.system_topic)
}

fn desired(ctx: &Ctx) -> Value {
    json!({"location": ctx.env.location, "tags": ctx.tags_json(),
           "properties": {"source": AccountRole::Raw.id(ctx), "topicType": "Microsoft.Storage.StorageAccounts"}})
}

impl Resource for EventTopic {
    fn key(&self) -> String {
        "event-topic".into()
    }
    fn kind(&self) -> &'static str {
        "event grid system topic"
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.names.system_topic.clone()
    }
    fn depends_on(&self) -> Vec<String> {
        vec![AccountRole::Raw.key()]
    }
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>> {
        Box::pin(read_arm(
            ctx,
            format!("{}?api-version={EVENT_GRID}", id(ctx)),
        ))
    }
    fn diff(&self, ctx: &Ctx, live: &Live) -> Action {
        action_for(&desired(ctx), live)
    }
    fn apply<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut body = desired(ctx);
            body["tags"] = merged_tags(ctx, live);
            ctx.azure
                .put(&format!("{}?api-version={EVENT_GRID}", id(ctx)),
                    &body,
                )
                .await?;
            Ok(())
        })
    }
    fn delete<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<bool>> {
        Box::pin(delete_if_ours(
            ctx,
            live,
            format!("{}?api-version={EVENT_GRID}", id(ctx)),
        ))
    }
}
