//! The wire: AWS JSON 1.1 over HTTP in front of the service core.
//!
//! One router ([`http::router`]) serves both on a real socket and inside the simulator.

pub mod clock;
pub mod host;
pub mod http;
pub mod limits;
pub mod request_id;
pub mod sigv4;

pub use clock::{Clock, ManualClock};
pub use host::{Host, HostConfig};
