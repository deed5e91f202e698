//! The wire: AWS JSON 1.1 over HTTP in front of the service core.
//!
//! One router ([`http::router`]) serves both on a real socket and inside the simulator.

pub mod clock;
pub mod host;
pub mod http;
pub mod limits;
pub mod request_id;
pub(crate) mod signing;
pub mod sigv4;

pub use clock::{Clock, ManualClock};
pub use host::{Host, HostConfig};

/// Spawns a detached task beside the current one: on the host's `LocalSet` inside the
/// simulation (every simulated host is a current-thread runtime with one, and tasks outside
/// it would run in an order idle time can change), on the current runtime anywhere else
/// (`serve`, the fuzzer's current-thread runtime, a test that embeds the server), where there
/// may be no `LocalSet` to spawn on.
pub fn spawn_detached<F>(future: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    if turmoil::sim_elapsed().is_some() {
        drop(tokio::task::spawn_local(future));
    } else {
        drop(tokio::spawn(future));
    }
}
