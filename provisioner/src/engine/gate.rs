//! What a resource waits for before its first write, apart from the resources it depends on: the
//! resource providers its namespaces need, registered once per run. Each registration starts at
//! once and runs beside the apply, so a resource whose namespaces are ready does not wait for the
//! others (a fresh subscription takes minutes to register some of them).

use crate::resources::Key;
use futures::future::{BoxFuture, FutureExt, Shared};
use std::collections::BTreeMap;

type Ready<'a> = Shared<BoxFuture<'a, Result<(), String>>>;

#[derive(Default)]
pub struct Gate<'a> {
    namespaces: BTreeMap<&'static str, Ready<'a>>,
}

impl<'a> Gate<'a> {
    /// `ready(namespace)` makes sure one namespace can be written to.
    pub fn new(
        namespaces: impl IntoIterator<Item = &'static str>,
        ready: impl Fn(&'static str) -> BoxFuture<'a, Result<(), String>>,
    ) -> Self {
        Self {
            namespaces: namespaces
                .into_iter()
                .map(|ns| (ns, ready(ns).shared()))
                .collect(),
        }
    }

    /// Drives every registration to its end (run beside the apply, so all start at once).
    pub async fn drive(&self) {
        futures::future::join_all(self.namespaces.values().cloned()).await;
    }

    /// Runs `work` with every registration driven beside it from the start; returns as soon as
    /// `work` ends (a registration nobody waits for is not waited for).
    pub async fn beside<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        let drive = self.drive().fuse();
        let work = work.fuse();
        futures::pin_mut!(drive, work);
        loop {
            futures::select! {
                out = work => return out,
                () = drive => {}
            }
        }
    }

    /// Waits until `key` may be written to: the first registration that failed is its error.
    pub async fn open_for(&self, key: Key) -> Result<(), String> {
        for ns in key.namespaces() {
            if let Some(ready) = self.namespaces.get(ns) {
                ready.clone().await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::storage_account::AccountRole;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_key_waits_only_for_its_own_namespaces_and_each_registers_once() {
        let calls = AtomicUsize::new(0);
        let calls = &calls;
        let gate = Gate::new(["Microsoft.Storage", "Microsoft.Web"], |ns| {
            let slow = ns == "Microsoft.Web";
            Box::pin(async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(if slow { 100 } else { 1 })).await;
                if slow {
                    Err(format!("{ns} could not be registered"))
                } else {
                    Ok(())
                }
            })
        });
        let started = tokio::time::Instant::now();
        let storage = async {
            gate.open_for(Key::Storage(AccountRole::Raw)).await?;
            gate.open_for(Key::Container(
                crate::resources::storage_container::Container::Raw,
            ))
            .await?;
            Ok::<_, String>(started.elapsed())
        };
        let (_, storage, web, group) = tokio::join!(
            gate.drive(),
            storage,
            gate.open_for(Key::FunctionApp),
            gate.open_for(Key::SecurityGroup)
        );
        assert_eq!(
            storage,
            Ok(Duration::from_secs(1)),
            "storage did not wait for web"
        );
        assert_eq!(
            web,
            Err("Microsoft.Web could not be registered".to_string())
        );
        assert_eq!(group, Ok(()), "a key with no namespace never waits");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "one registration per namespace"
        );
    }
}
