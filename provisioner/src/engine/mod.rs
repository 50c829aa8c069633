//! The generic engine: observe live state, diff it against what we want, and apply the plan as a
//! dependency graph with bounded parallelism. It knows nothing about any one resource kind.

pub mod apply;
pub mod events;
pub mod graph;
pub mod observe;

pub use apply::{apply, destroy, ApplySummary};
pub use events::{Event, Reporter};
pub use observe::{observe, plan, Observed, Planned};
