//! Not part of the API: what dpsim's own benchmarks (`benches/core.rs`, `benches/sparse.rs`;
//! each a crate of its own) measure below the public surface: the sans-IO service core, and
//! the HTTP front on a clock of the bench's choosing. Hidden from the documentation, with no
//! stability promise; the README's "Public API" section lists it.

pub use crate::protocol::input::Request;
pub use crate::protocol::input::{PollForTaskInput, ReportTaskProgressInput};
pub use crate::protocol::output::Response;
pub use crate::scenario::load::settings;
pub use crate::service::{Outcome, Service, Settings};
pub use crate::trace::EPOCH_MS;
pub use crate::wire::http::router;
pub use crate::wire::{Clock, Host, HostConfig};

/// A scenario's run with dpsim's own runner, without the report (benches time the two apart).
pub fn simulate(scenario: &crate::Scenario) -> crate::Trace {
    crate::sim::run(scenario, scenario.seed, &crate::runner::Programs::default(), None).expect("simulation runs")
}
