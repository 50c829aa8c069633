//! `provision`: infrastructure as code for the superhero dataflow on Azure, in Rust.
//!
//! - [`env`]: environment files, validated before any request.
//! - [`resources`]: one file per Azure resource kind, its whole life; simple ARM kinds are
//!   declarations over one generic tracked resource (`resources::tracked`).
//! - [`engine`]: read once, plan as a pure function of what was read, apply as a dependency graph,
//!   delete in reverse.
//! - [`arm`]: the only way into ARM and Graph (tokens, retries, long-running operations).
//! - [`cli`]: the command line, one file per command; `cli::error` maps every failure to an exit code.

pub mod arm;
pub mod blob;
pub mod cli;
pub mod engine;
pub mod env;
pub mod lock;
pub mod names;
pub mod package;
pub mod resources;
pub mod verify;
