//! Runs one step per node of a dependency graph: each as soon as all its prerequisites have
//! finished (no level barrier), at most `parallelism` at a time.

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

/// What to do for a node whose prerequisites are done: work to wait for, or an immediate result.
pub enum Step<'a, T> {
    Run(BoxFuture<'a, T>),
    Done(T),
}

/// `step(i, results)` is called once per node when all of `prereqs[i]` have a result; it sees
/// every result so far. Nodes in a cycle, or behind one, never run and stay `None`.
pub async fn run<'a, T>(
    prereqs: &[Vec<usize>],
    parallelism: usize,
    mut step: impl FnMut(usize, &[Option<T>]) -> Step<'a, T>,
) -> Vec<Option<T>> {
    let n = prereqs.len();
    let mut results: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut started = vec![false; n];
    let mut running = FuturesUnordered::new();
    loop {
        let mut progressed = true;
        while progressed {
            progressed = false;
            for i in 0..n {
                if started[i]
                    || running.len() >= parallelism.max(1)
                    || !prereqs[i].iter().all(|&d| results[d].is_some())
                {
                    continue;
                }
                started[i] = true;
                match step(i, &results) {
                    Step::Done(t) => {
                        results[i] = Some(t);
                        progressed = true;
                    }
                    Step::Run(work) => running.push(async move { (i, work.await) }),
                }
            }
        }
        match running.next().await {
            Some((i, t)) => results[i] = Some(t),
            None => break,
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A chain a -> b and an independent slow c: b starts when a ends, without waiting for c
    /// (which a level-by-level run would make it do).
    #[tokio::test]
    async fn a_node_starts_when_its_own_prerequisites_end() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let prereqs = vec![vec![], vec![0], vec![]];
        let delays = [10u64, 10, 500];
        let results = run(&prereqs, 8, |i, _| {
            let log = log.clone();
            Step::Run(Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(delays[i])).await;
                if let Ok(mut l) = log.lock() {
                    l.push(i);
                }
                i
            }))
        })
        .await;
        assert_eq!(results, vec![Some(0), Some(1), Some(2)]);
        let log = log.lock().map(|l| l.clone()).unwrap_or_default();
        assert_eq!(log, vec![0, 1, 2], "b ended before the slow c");
    }

    #[tokio::test]
    async fn no_more_than_parallelism_run_at_once() {
        let running = Arc::new(Mutex::new((0usize, 0usize)));
        let prereqs = vec![vec![]; 6];
        run(&prereqs, 2, |_, _| {
            let running = running.clone();
            Step::Run(Box::pin(async move {
                if let Ok(mut r) = running.lock() {
                    r.0 += 1;
                    r.1 = r.1.max(r.0);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                if let Ok(mut r) = running.lock() {
                    r.0 -= 1;
                }
            }))
        })
        .await;
        let peak = running.lock().map(|r| r.1).unwrap_or_default();
        assert_eq!(peak, 2);
    }

    #[tokio::test]
    async fn results_so_far_are_visible_and_a_cycle_never_runs() {
        let prereqs = vec![vec![], vec![0], vec![3], vec![2]];
        let results = run(&prereqs, 4, |i, so_far: &[Option<u32>]| {
            let before = if i == 1 { so_far[0].unwrap_or(0) } else { 0 };
            Step::Done(before + 1)
        })
        .await;
        assert_eq!(results, vec![Some(1), Some(2), None, None]);
    }
}
