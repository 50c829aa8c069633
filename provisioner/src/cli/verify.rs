//! `provision verify`: a canary batch through raw → Event Grid → function → Parquet.

use super::context::Session;
use super::error::CliError;
use serde_json::json;
use std::time::Duration;

pub async fn run(s: &Session, timeout: Duration) -> Result<(), CliError> {
    let env = &s.ctx.env.name;
    match crate::verify::check(&s.ctx, timeout).await {
        Ok(took) => {
            if s.json() {
                println!(
                    "{}",
                    json!({"environment": env, "ok": true, "seconds": took.as_secs_f64()})
                );
            } else {
                println!("verify: the data path works — a canary batch went raw → function → Parquet in {:.1}s", took.as_secs_f64());
            }
            Ok(())
        }
        Err(f) => {
            let stage = serde_json::to_value(f.stage)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            if s.json() {
                println!(
                    "{}",
                    json!({"environment": env, "ok": false, "stage": stage, "error": f.message})
                );
            }
            Err(CliError::Verify {
                stage,
                message: f.message,
            })
        }
    }
}
