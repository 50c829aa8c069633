//! One file per resource provider namespace; each owns its types' validation and behaviour.

pub mod authorization;
pub mod event_grid;
pub mod insights;
pub mod operational_insights;
pub mod resources;
pub mod storage;
pub mod web;
