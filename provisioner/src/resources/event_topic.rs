//! The Event Grid system topic on the raw account: the source of the blob trigger's events.

use super::storage_account::AccountRole;
use super::tracked::TrackedKind;
use super::{Ctx, Key};
use crate::arm::versions::EVENT_GRID;
use serde_json::{json, Value};

pub struct EventTopic;

impl TrackedKind for EventTopic {
    fn key(&self) -> Key {
        Key::EventTopic
    }
    fn kind(&self) -> &'static str {
        "event grid system topic"
    }
    fn resource_type(&self) -> &'static str {
        "Microsoft.EventGrid/systemTopics"
    }
    fn api_version(&self) -> &'static str {
        EVENT_GRID
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.names.system_topic.clone()
    }
    fn depends_on(&self) -> Vec<Key> {
        vec![Key::Storage(AccountRole::Raw)]
    }
    fn desired(&self, ctx: &Ctx) -> Value {
        json!({"location": ctx.env.location,
               "properties": {"source": AccountRole::Raw.id(ctx), "topicType": "Microsoft.Storage.StorageAccounts"}})
    }
}
