//! The generic engine: observe live state once, plan as a pure function of it, and apply the plan
//! as a dependency graph with bounded parallelism. It knows nothing about any one resource kind.

pub mod apply;
pub mod events;
pub mod gate;
pub mod graph;
pub mod observe;
pub mod plan;
pub mod schedule;

pub use apply::{destroy, ApplyOptions, ApplySummary, Progress};
pub use events::{Event, Reporter};
pub use gate::Gate;
pub use graph::{GraphError, Stack};
pub use observe::{observe, ObserveError, Observed};
pub use plan::{plan, Plan, Planned};
