//! One run at a time per environment: two `up`s started together do not interleave their work, a
//! run blocked by someone else's lock says who holds it (exit 3), `down` takes the lock like every
//! other writer, and a run killed half-way leaves a state the next run finishes (after the user
//! breaks the dead run's lock).

mod common;
use common::World;
use local_cloud::request_log::LoggedRequest;
use serde_json::json;
use std::time::{Duration, Instant};

fn pid_of(r: &LoggedRequest) -> Option<u32> {
    let ua = r.user_agent.as_deref()?;
    ua.split("(pid ").nth(1)?.trim_end_matches(')').parse().ok()
}

/// Runs `args` while someone else (`holder`, `pid`) holds the environment's lock: the run gives
/// up with exit 3 once `--lock-timeout` passes, names the holder, and writes nothing.
async fn refused_by_lock(world: &World, args: &[&str], holder: &str, pid: &str) -> common::Run {
    world.emulator.state.log.clear();
    let started = Instant::now();
    let blocked = world.provision(args).await;
    blocked.assert_code(3, &format!("{} while someone else holds the lock", args[0]));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "gave up after --lock-timeout: {:?}",
        started.elapsed()
    );
    assert!(
        blocked.stderr.contains("is locked by another run")
            && blocked.stderr.contains(holder)
            && blocked.stderr.contains(pid),
        "the holder is named:\n{}",
        blocked.stderr
    );
    assert!(
        world.writes().is_empty(),
        "nothing written without the lock: {:?}",
        world
            .writes()
            .iter()
            .map(|w| format!("{} {}", w.method, w.path))
            .collect::<Vec<_>>()
    );
    blocked
}

#[tokio::test]
async fn two_ups_at_once_take_turns_and_a_held_lock_names_its_holder() {
    let world = World::start_with("duo", "").await;
    let mut a = world.spawn(&["up", "--yes"], "a");
    let mut b = world.spawn(&["up", "--yes"], "b");
    let pids = [a.id().expect("pid a"), b.id().expect("pid b")];
    let (ea, eb) = tokio::join!(a.wait(), b.wait());
    let (out_a, err_a) = world.spawned_output("a");
    let (out_b, err_b) = world.spawned_output("b");
    assert!(
        ea.expect("a ran").success(),
        "first up failed:\n{out_a}\n{err_a}"
    );
    assert!(
        eb.expect("b ran").success(),
        "second up failed:\n{out_b}\n{err_b}"
    );
    assert!(
        err_a.contains("waiting for the lock") || err_b.contains("waiting for the lock"),
        "one run waited for the other:\n--- a\n{err_a}\n--- b\n{err_b}"
    );

    // Every write is attributable to one of the two runs through its User-Agent.
    let writes = world.writes();
    for w in &writes {
        let pid = pid_of(w);
        assert!(
            pid.is_some_and(|p| pids.contains(&p)),
            "write not from either run: {} {} ({:?})",
            w.method,
            w.path,
            w.user_agent
        );
    }
    // The lock's own home (resource group, functions account, locks container) and the rest of the
    // group's new first level (storage accounts, workspace, plan) are made sure of before the lock
    // can be taken, by both runs, and resource providers register from the start
    // of each run (a subscription-wide, idempotent action, not a write to the environment: either
    // run may send it); everything else happens under the lock, so the two runs' writes to it
    // form two blocks, never interleaved.
    let names = world.names();
    let bootstrap = [
        world.rg_id(),
        world.account_id(&names.functions_account),
        world.account_id(&names.raw_account),
        world.account_id(&names.standard_account),
        world.resource_id("Microsoft.OperationalInsights/workspaces", &names.workspace),
        world.resource_id("Microsoft.Web/serverfarms", &names.plan),
        format!(
            "{}/blobServices/default/containers/locks",
            world.account_id(&names.functions_account)
        ),
    ];
    let registers = format!(
        "/subscriptions/{}/providers/",
        local_cloud::DEFAULT_SUBSCRIPTION
    );
    let is_registration = |path: &str| {
        path.to_ascii_lowercase()
            .starts_with(&registers.to_ascii_lowercase())
            && path.to_ascii_lowercase().ends_with("/register")
    };
    let locked: Vec<(u32, String)> = writes
        .iter()
        .filter(|w| !bootstrap.iter().any(|b| w.path.eq_ignore_ascii_case(b)))
        .filter(|w| !is_registration(&w.path))
        .map(|w| (pid_of(w).expect("pid"), format!("{} {}", w.method, w.path)))
        .collect();
    assert!(!locked.is_empty());
    let switches = locked.windows(2).filter(|p| p[0].0 != p[1].0).count();
    assert!(switches <= 1, "the runs' writes interleave: {locked:#?}");
    let winner = locked[0].0;
    let loser_writes: Vec<&(u32, String)> = locked.iter().filter(|(p, _)| *p != winner).collect();
    assert!(
        loser_writes.is_empty(),
        "the run that waited re-read and found nothing to do, but wrote: {loser_writes:#?}"
    );
    let (loser_out, loser_err) = if winner == pids[0] {
        (&out_b, &err_b)
    } else {
        (&out_a, &err_a)
    };
    assert!(
        loser_out.contains("up: 0 changed"),
        "the run that waited changed nothing:\n{loser_out}\n{loser_err}"
    );
    world
        .provision(&["drift"])
        .await
        .assert_code(0, "drift after two ups");

    // Someone else's run holds the lock: a short --lock-timeout fails, naming the holder, and
    // changes nothing.
    let holder = json!({"holder": "alice@laptop", "pid": 4242, "command": "up", "since": "2026-01-01T00:00:00Z"}).to_string();
    let lease = world.hold_lock(&holder).await;
    let raw = world.account_id(&names.raw_account);
    world
        .patch_resource(&raw, json!({"properties": {"minimumTlsVersion": "TLS1_0"}}))
        .await;
    let blocked = refused_by_lock(
        &world,
        &["up", "--yes", "--lock-timeout", "1"],
        "alice@laptop",
        "4242",
    )
    .await;
    assert!(
        blocked.stderr.contains("--lock-timeout") && blocked.stderr.contains("force-unlock"),
        "the way out is told:\n{}",
        blocked.stderr
    );
    assert_eq!(
        world.get_resource(&raw).await["properties"]["minimumTlsVersion"],
        "TLS1_0"
    );
    // drift (read only) does not need the lock.
    world
        .provision(&["drift"])
        .await
        .assert_code(2, "drift while locked");
    world.release_lock(&lease).await;
    world
        .provision(&["up", "--yes", "--lock-timeout", "5"])
        .await
        .assert_code(0, "up once the lock is free");
    world.provision(&["drift"]).await.assert_code(0, "drift");
}

#[tokio::test]
async fn an_up_killed_half_way_is_finished_by_the_next_after_force_unlock() {
    let world = World::start_with("killed", "").await;
    let mut run = world.spawn(&["up", "--yes"], "killed");
    let pid = run.id().expect("pid");
    let site_put = world
        .wait_for_request(Duration::from_secs(180), |r| {
            r.method == "PUT"
                && r.path.contains("/providers/Microsoft.Web/sites/")
                && !r.path.contains("/config")
        })
        .await;
    assert!(
        site_put,
        "the run got as far as creating the function app: {:?}",
        world.spawned_output("killed")
    );
    run.start_kill().expect("kill");
    let status = run.wait().await.expect("wait");
    assert!(!status.success(), "killed");
    let state = world.state().await;
    assert!(
        World::find(
            &state,
            "Microsoft.EventGrid/systemTopics/eventSubscriptions"
        )
        .is_empty(),
        "it was killed before the end"
    );

    // The dead run's lease is still on the lock (60 s): a short wait fails and names the dead run.
    let blocked = world
        .provision(&["up", "--yes", "--lock-timeout", "2"])
        .await;
    blocked.assert_code(3, "up while the killed run's lease lasts");
    assert!(
        blocked.stderr.contains(&format!("\"pid\":{pid}")),
        "the holder is the killed run (pid {pid}):\n{}",
        blocked.stderr
    );
    assert!(
        blocked.stderr.contains("force-unlock"),
        "{}",
        blocked.stderr
    );

    // What the user does: break the dead run's lock, run again.
    world
        .provision(&["force-unlock"])
        .await
        .assert_code(0, "force-unlock");
    let up = world
        .provision(&["up", "--yes", "--lock-timeout", "5"])
        .await;
    up.assert_code(0, "up after the killed run");
    world
        .provision(&["drift"])
        .await
        .assert_code(0, "drift after recovery");
    let state = world.state().await;
    for (kind, count) in [
        ("Microsoft.Web/sites", 1),
        ("Microsoft.Storage/storageAccounts", 3),
        (
            "Microsoft.Storage/storageAccounts/blobServices/containers",
            4,
        ),
        ("Microsoft.Authorization/roleAssignments", 8),
        ("Microsoft.EventGrid/systemTopics/eventSubscriptions", 1),
    ] {
        assert_eq!(World::find(&state, kind).len(), count, "{kind}");
    }
    let groups = state["directory"]
        .as_array()
        .expect("directory")
        .iter()
        .filter(|o| o["principalType"] == "Group")
        .count();
    assert_eq!(groups, 1, "one security group, not two");
}

/// `down` is a writer like any other: while another run holds the lock it waits up to
/// `--lock-timeout`, then refuses with exit 3, naming the holder, and deletes nothing.
#[tokio::test]
async fn down_refuses_while_another_run_holds_the_lock() {
    let world = World::start_with("downlock", "").await;
    world.provision(&["up", "--yes"]).await.assert_code(0, "up");
    let holder = json!({"holder": "bob@ci-runner", "pid": 7777, "command": "up", "since": "2026-01-01T00:00:00Z"}).to_string();
    let lease = world.hold_lock(&holder).await;
    refused_by_lock(
        &world,
        &["down", "--yes", "--lock-timeout", "1"],
        "bob@ci-runner",
        "7777",
    )
    .await;
    let state = world.state().await;
    for (kind, count) in [
        ("Microsoft.Resources/resourceGroups", 1),
        ("Microsoft.Storage/storageAccounts", 3),
        ("Microsoft.Web/sites", 1),
    ] {
        assert_eq!(
            World::find(&state, kind).len(),
            count,
            "{kind} is still there"
        );
    }

    world.release_lock(&lease).await;
    world
        .provision(&["down", "--yes", "--lock-timeout", "5"])
        .await
        .assert_code(0, "down once the lock is free");
    let state = world.state().await;
    assert!(
        World::resource_ids(&state).is_empty(),
        "down deleted everything once it held the lock: {:?}",
        World::resource_ids(&state)
    );
}
