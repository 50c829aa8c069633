//! The test kit: finds the service binaries (Azurite, Redis, tansu), starts them on free
//! 127.0.0.1 ports, waits until they listen and kills them on drop. Every crate's tests, the
//! emulator's Azurite fleet and the demo start their services here.

mod cargo;
mod launch;
mod process;
mod tools;

pub use cargo::{build_as_the_suite, keep_package};
pub use launch::{redis, tansu, Azurite};
pub use process::{
    free_port, port_for_child, try_free_port, wait_listening, Service, READY_TIMEOUT,
};
pub use tools::{in_ci, MissingTool, Tool};

/// A service for a test, started with its defaults: `None` (the test skips) when the tool is
/// missing on a developer machine; a panic when it is missing under CI or does not start.
pub fn service_for_test(tool: Tool) -> Option<Service> {
    let bin = tool.for_test()?;
    let started = match tool {
        Tool::Azurite => Azurite::new(&bin).start(),
        Tool::Redis => redis(&bin),
        Tool::Tansu => tansu(&bin),
    };
    match started {
        Ok(service) => Some(service),
        Err(e) => panic!("{} did not start: {e:#}", tool.name()),
    }
}
