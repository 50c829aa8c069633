//! Every Azure behaviour the local cloud models, all on at once (its default), with seeded light
//! faults on top: each seeded run from nothing converges in one `up`, a re-run writes nothing,
//! `drift` is clean and `down` leaves nothing — and every seed ends up with the same resources.

mod common;

use common::World;
use serde_json::{json, Value};

/// The resources after the first `up`, by id. Ids hold the subscription and names, the same for
/// every seed because the environment is; role assignment names are UUIDv5 of the principal,
/// whose object id each new local cloud draws afresh, so only their scope and count are compared.
fn shape(state: &Value) -> Vec<String> {
    let mut ids: Vec<String> = World::resource_ids(state)
        .into_iter()
        .map(|id| match id.split_once("/roleAssignments/") {
            Some((scope, _)) => format!("{scope}/roleAssignments/<assignment>"),
            None => id,
        })
        .collect();
    ids.sort();
    ids
}

/// One seeded run from nothing to nothing; returns the resources the first `up` made.
async fn seeded_run(seed: u64) -> Vec<String> {
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
    seen
}

/// Twenty seeds, five local clouds at a time (the runs mostly wait on Azure's delays).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_seeded_runs_converge_the_same_way_with_every_behaviour_on() {
    let mut shapes: Vec<(u64, Vec<String>)> = Vec::new();
    for chunk in (0..20u64).collect::<Vec<_>>().chunks(5) {
        let runs = chunk
            .iter()
            .map(|&seed| async move { (seed, seeded_run(seed).await) });
        shapes.extend(futures::future::join_all(runs).await);
    }
    let (first_seed, expected) = &shapes[0];
    for (seed, seen) in &shapes[1..] {
        assert_eq!(
            seen, expected,
            "seed {seed} converged to other resources than seed {first_seed}"
        );
    }
    assert_eq!(shapes.len(), 20);
}
