//! Tracing timestamps in simulated time (`+00:02:00.100`), never the machine's clock.

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// Stamps tracing lines with the simulation's current instant.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimTime;

impl FormatTime for SimTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        w.write_str(&dpsim::time::simulated_stamp())
    }
}
