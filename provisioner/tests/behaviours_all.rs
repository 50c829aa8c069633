//! Every Azure behaviour the local cloud models, all on at once (its default), with seeded light
//! faults on top: each seeded run from nothing converges in one `up`, a re-run writes nothing,
//! `drift` is clean and `down` leaves nothing — and every seed ends up with the same resources.

mod common;

use common::World;
use serde_json::{json, Value};

/// Resource types and names after the first `up`; ids hold the subscription and names, which
/// are the same for every seed because the environment is the same.
fn shape(state: &Value) -> Vec<String> {
    let mut ids = World::resource_ids(state);
    ids.sort();
    ids
}

async fn seeded_runs(seeds: std::ops::Range<u64>) {
    let mut first: Option<(u64, Vec<String>)> = None;
    for seed in seeds {
        let world = World::start_with("allon", "").await;
        let behaviours = world.admin("GET", "/behaviours", None).await;
        assert!(
            behaviours["data_role_delay"] == true && behaviours["provider_registration"] == true,
            "the local cloud starts with Azure's behaviours on: {behaviours}"
        );
        world
            .set_faults(
                json!({"seed": seed, "throttle_rate": 0.03, "retry_after_s": 0,
                "server_error_rate": 0.03, "drop_rate": 0.01, "lro_failure_rate": 0.05}),
            )
            .await;
        let (_, after_up) = world
            .up_converges_and_down_leaves_nothing_seen(&format!("all behaviours, seed {seed}"))
            .await;
        let seen = shape(&after_up);
        assert!(
            seen.len() >= 20,
            "seed {seed}: up made the environment ({} resources): {seen:?}",
            seen.len()
        );
        match &first {
            None => first = Some((seed, seen)),
            Some((first_seed, expected)) => assert_eq!(
                &seen, expected,
                "seed {seed} converged to other resources than seed {first_seed}"
            ),
        }
    }
}

#[tokio::test]
async fn seeds_0_to_9_converge_with_every_behaviour_on() {
    seeded_runs(0..10).await;
}

#[tokio::test]
async fn seeds_10_to_19_converge_with_every_behaviour_on() {
    seeded_runs(10..20).await;
}
