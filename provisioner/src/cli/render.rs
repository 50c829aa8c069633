//! Human and JSON renderings of plans and summaries.

use crate::engine::{ApplySummary, Plan};
use crate::resources::Action;
use serde_json::{json, Value};

fn short(v: &Value) -> String {
    match v {
        Value::Null => "(unset)".into(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

pub fn plan_text(env: &str, plan: &Plan) -> String {
    let mut out = String::new();
    let (mut create, mut update) = (0, 0);
    for p in &plan.items {
        match &p.action {
            Action::Create => {
                create += 1;
                out.push_str(&format!("  + {} {}\n", p.kind, p.name));
            }
            Action::Update { changes } => {
                update += 1;
                out.push_str(&format!("  ~ {} {}\n", p.kind, p.name));
                for c in changes {
                    out.push_str(&format!(
                        "      {}: {} → {}\n",
                        c.property,
                        short(&c.live),
                        short(&c.desired)
                    ));
                }
            }
            Action::Noop => {}
        }
    }
    let unchanged = plan.items.len() - create - update;
    if create + update == 0 {
        out.push_str(&format!(
            "Environment {env} is up to date ({unchanged} resources checked).\n"
        ));
    } else {
        out.push_str(&format!(
            "Plan for {env}: {create} to create, {update} to update, {unchanged} unchanged.\n"
        ));
    }
    out
}

/// Notes that are not drift, one line each.
pub fn notices_text(notices: &[String]) -> String {
    notices.iter().map(|n| format!("note: {n}\n")).collect()
}

pub fn plan_json(env: &str, plan: &Plan) -> Value {
    let changes: Vec<_> = plan.items.iter().filter(|p| p.action.is_change()).collect();
    json!({
        "version": 1,
        "environment": env,
        "in_sync": changes.is_empty(),
        "changes": changes,
        "unchanged": plan.items.len() - changes.len(),
        "notices": plan.notices,
    })
}

pub fn summary_text(verb: &str, s: &ApplySummary) -> String {
    let mut out = format!(
        "{verb}: {} changed, {} unchanged",
        s.changed.len(),
        s.unchanged
    );
    if !s.kept.is_empty() {
        out.push_str(&format!(", {} kept", s.kept.len()));
    }
    if !s.failed.is_empty() {
        out.push_str(&format!(", {} failed", s.failed.len()));
    }
    if !s.skipped.is_empty() {
        out.push_str(&format!(", {} skipped", s.skipped.len()));
    }
    out.push_str(&format!(" in {:.1}s\n", s.seconds));
    for (key, error) in &s.failed {
        out.push_str(&format!("  ✗ {key}: {error}\n"));
    }
    out
}
