//! How live ARM state is compared with what we want, and the few ARM calls every kind shares:
//! only the properties we set count, tags of others survive, and only what carries our tags is
//! deleted.

use super::context::{Ctx, MANAGED_BY};
use super::{Action, Change, Live, Result};
use serde_json::{json, Value};

/// Compares only the properties we set: a property Azure adds or defaults never shows as drift.
/// ARM answers in its own spelling: enum values come back in another case (a Log Analytics sku
/// `PerGB2018` reads back as `pergb2018`) and a property at its default may be left out
/// (`isHnsEnabled` on a non-HNS account), so those compare equal.
pub fn diff_owned(desired: &Value, live: &Value, path: &str, out: &mut Vec<Change>) {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => {
            for (k, dv) in d {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match l.get(k) {
                    Some(lv) => diff_owned(dv, lv, &p, out),
                    None if omitted_at_default(&p, dv) => {}
                    None => out.push(Change {
                        property: p,
                        live: Value::Null,
                        desired: dv.clone(),
                    }),
                }
            }
        }
        (Value::String(d), Value::String(l))
            if d.eq_ignore_ascii_case(l) && case_insensitive(path) => {}
        (d, l) if d == l => {}
        (d, l) => out.push(Change {
            property: path.to_string(),
            live: l.clone(),
            desired: d.clone(),
        }),
    }
}

/// Properties ARM compares without regard to case: locations, resource ids and enum values.
/// Tag values and settings stay case-sensitive.
fn case_insensitive(path: &str) -> bool {
    const ENUMS: &[&str] = &[
        "kind",
        "tier",
        "minimumTlsVersion",
        "accessTier",
        "publicNetworkAccess",
        "publicNetworkAccessForIngestion",
        "publicNetworkAccessForQuery",
        "Application_Type",
        "IngestionMode",
        "principalType",
    ];
    let last = path.rsplit('.').next().unwrap_or(path);
    path.ends_with("location")
        || path.ends_with("Id")
        || path == "sku.name"
        || path.ends_with(".sku.name")
        || ENUMS.contains(&last)
}

/// Properties ARM leaves out of a read when they hold their default.
fn omitted_at_default(path: &str, desired: &Value) -> bool {
    const DEFAULTS: &[(&str, bool)] = &[("properties.isHnsEnabled", false)];
    DEFAULTS
        .iter()
        .any(|(p, default)| *p == path && *desired == Value::Bool(*default))
}

/// A resource whose last operation ended Failed is not in sync, whatever its properties say; the
/// next apply sends it again, which makes ARM provision it again.
pub fn failed_state(body: &Value) -> Option<Change> {
    let state = body
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)?;
    state.eq_ignore_ascii_case("Failed").then(|| Change {
        property: "properties.provisioningState".into(),
        live: json!(state),
        desired: json!("Succeeded"),
    })
}

/// Creates when absent, updates when an owned property differs, else nothing.
pub fn action_for(desired: &Value, live: &Live) -> Action {
    match live {
        Live::Absent => Action::Create,
        Live::Present(body) => {
            let mut changes = Vec::new();
            diff_owned(desired, body, "", &mut changes);
            changes.extend(failed_state(body));
            Action::from_changes(changes)
        }
    }
}

/// Tags to send: ours over whatever else is already there, so others' tags survive an update.
pub fn merged_tags(ctx: &Ctx, live: &Live) -> Value {
    let mut tags = live
        .body()
        .and_then(|b| b.get("tags"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in ctx.tags() {
        tags.insert(k, Value::String(v));
    }
    Value::Object(tags)
}

/// Whether a live ARM resource carries our ownership tags for this environment.
pub fn is_ours(ctx: &Ctx, live: &Live) -> bool {
    live.body().is_some_and(|b| {
        b.pointer("/tags/managed-by").and_then(Value::as_str) == Some(MANAGED_BY)
            && b.pointer("/tags/environment").and_then(Value::as_str) == Some(ctx.env.name.as_str())
    })
}

pub async fn read_arm(ctx: &Ctx, path: &str) -> Result<Live> {
    Ok(match ctx.azure.get(path).await? {
        Some(body) => Live::Present(body),
        None => Live::Absent,
    })
}

/// Deletes an ARM resource only when it carries our tags.
pub async fn delete_if_ours(ctx: &Ctx, live: &Live, path: &str) -> Result<super::Deletion> {
    use super::Deletion;
    match live {
        Live::Absent => Ok(Deletion::Deleted),
        Live::Present(_) if is_ours(ctx, live) => {
            ctx.azure.delete(path).await?;
            Ok(Deletion::Deleted)
        }
        Live::Present(_) => Ok(Deletion::not_ours()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owned_properties_count_and_server_defaults_do_not() {
        let desired = json!({"location": "westeurope", "properties": {"minimumTlsVersion": "TLS1_2", "isHnsEnabled": true}, "tags": {"environment": "dev"}});
        let live = json!({"location": "WestEurope", "properties": {"minimumTlsVersion": "TLS1_2", "isHnsEnabled": true, "provisioningState": "Succeeded", "networkAcls": {}}, "tags": {"environment": "dev", "owner": "someone"}});
        assert_eq!(
            action_for(&desired, &Live::Present(live.clone())),
            Action::Noop
        );
        let mut drifted = live;
        drifted["properties"]["minimumTlsVersion"] = json!("TLS1_0");
        match action_for(&desired, &Live::Present(drifted)) {
            Action::Update { changes } => {
                assert_eq!(changes.len(), 1);
                assert_eq!(changes[0].property, "properties.minimumTlsVersion");
                assert_eq!(changes[0].live, json!("TLS1_0"));
            }
            other => panic!("expected an update, got {other:?}"),
        }
        assert_eq!(action_for(&desired, &Live::Absent), Action::Create);
    }

    #[test]
    fn arm_spellings_of_the_same_value_are_not_drift() {
        let desired = json!({"location": "westeurope", "sku": {"name": "Standard_LRS"},
            "properties": {"sku": {"name": "PerGB2018"}, "isHnsEnabled": false, "minimumTlsVersion": "TLS1_2"},
            "tags": {"owner": "Team"}});
        let live = json!({"location": "westeurope", "sku": {"name": "Standard_lrs"},
            "properties": {"sku": {"name": "pergb2018"}, "minimumTlsVersion": "tls1_2"},
            "tags": {"owner": "Team"}});
        assert_eq!(
            action_for(&desired, &Live::Present(live.clone())),
            Action::Noop
        );
        // A tag value is case-sensitive, and absent is the default only for false.
        let mut other_case = live.clone();
        other_case["tags"]["owner"] = json!("team");
        assert!(action_for(&desired, &Live::Present(other_case)).is_change());
        let mut hns = desired.clone();
        hns["properties"]["isHnsEnabled"] = json!(true);
        match action_for(&hns, &Live::Present(live.clone())) {
            Action::Update { changes } => {
                assert_eq!(changes[0].property, "properties.isHnsEnabled");
            }
            other => panic!("an HNS account read without isHnsEnabled differs: {other:?}"),
        }
        let mut sku = live;
        sku["properties"]["sku"]["name"] = json!("standalone");
        assert!(action_for(&desired, &Live::Present(sku)).is_change());
    }

    #[test]
    fn a_resource_left_failed_by_its_last_operation_is_not_in_sync() {
        let desired = json!({"location": "westeurope"});
        let failed =
            json!({"location": "westeurope", "properties": {"provisioningState": "Failed"}});
        match action_for(&desired, &Live::Present(failed)) {
            Action::Update { changes } => {
                assert_eq!(changes.len(), 1);
                assert_eq!(changes[0].property, "properties.provisioningState");
            }
            other => panic!("expected an update, got {other:?}"),
        }
        let fine =
            json!({"location": "westeurope", "properties": {"provisioningState": "Succeeded"}});
        assert_eq!(action_for(&desired, &Live::Present(fine)), Action::Noop);
    }
}
