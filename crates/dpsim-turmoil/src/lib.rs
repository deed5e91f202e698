//! dpsim's fork of [turmoil](https://github.com/tokio-rs/turmoil) 0.7.2: the simulated
//! network and hosts dpsim runs a virtual AWS Data Pipeline service and its task runners on.
//! It keeps only what dpsim compiles and calls (hosts, TCP, DNS, partitions, holds, link
//! latency, crashes) and adds the patches its README lists, each marked `dpsim patch` in the
//! source. It is published only as dpsim's dependency; use turmoil itself for anything else.
//!
//! # Hosts and software
//!
//! A simulation is made of hosts. Hosts run software, which is a `Future`; test code runs on
//! a special host, a client, with the same capabilities.
//!
//! ```
//! use dpsim_turmoil as turmoil;
//!
//! let mut sim = turmoil::Builder::new().build();
//!
//! sim.host("server", || async {
//!     let listener = turmoil::net::TcpListener::bind(("0.0.0.0", 9999)).await?;
//!     let (mut stream, _) = listener.accept().await?;
//!     tokio::io::AsyncWriteExt::write_all(&mut stream, b"hello").await?;
//!     Ok(())
//! });
//!
//! sim.client("client", async {
//!     let mut stream = turmoil::net::TcpStream::connect(("server", 9999)).await?;
//!     let mut buf = [0; 5];
//!     tokio::io::AsyncReadExt::read_exact(&mut stream, &mut buf).await?;
//!     assert_eq!(&buf, b"hello");
//!     Ok(())
//! });
//!
//! sim.run().unwrap();
//! ```
//!
//! # Network manipulation
//!
//! * [`partition`] and [`Sim::partition_oneway`] drop every message between hosts;
//! * [`repair`] delivers again;
//! * [`hold`] keeps messages in flight until [`release`];
//! * [`Sim::set_link_latency`] sets a link's latency; [`Sim::crash`] and [`Sim::bounce`]
//!   stop and restart a host.
//!
//! # Stepping
//!
//! [`Sim::step`] advances every host one tick. dpsim's patch [`Sim::leap`] passes many idle
//! ticks at once and says whether that was the same as stepping them one by one;
//! [`Sim::idle_steps`] and [`Sim::spawned_tasks`] say when a leap may be tried.
//!
//! # Tracing
//!
//! Events are emitted with the `tracing` crate under the target `turmoil`
//! (`RUST_LOG=turmoil=trace` gives a packet-level trace).
//!
//! # tokio_unstable
//!
//! Built with `--cfg tokio_unstable`, a host's panic fails the simulation through tokio's
//! [unhandled_panic](https://docs.rs/tokio/latest/tokio/runtime/struct.Builder.html#method.unhandled_panic).

mod builder;

use std::{net::IpAddr, time::Duration};

pub use builder::Builder;

mod config;
use config::Config;

mod dns;
use dns::Dns;
pub use dns::{ToIpAddr, ToIpAddrs, ToSocketAddrs};

mod envelope;
use envelope::Envelope;
pub use envelope::{Protocol, Segment};

mod error;
pub use error::Result;

mod host;
use host::Host;

mod ip;
pub use ip::IpVersion;

pub mod net;

mod rt;
use rt::Rt;

mod sim;
pub use sim::{Leap, Sim};

mod top;
use top::Topology;
pub use top::{LinkIter, LinksIter, SentRef};

mod world;
use world::World;

/// dpsim patch: the maps the network looks a host, socket or link up in on every packet, every
/// clock reading and every host switch hash their keys with rustc-hash's Fx hasher instead of
/// SipHash. Keys are the simulation's own addresses, not attacker input, and iteration order
/// is `IndexMap`'s insertion order whatever the hasher, so runs are unchanged; SipHash was
/// ~6% of a simulation's instructions (callgrind of `cargo bench --bench runners`).
pub(crate) type Map<K, V> = indexmap::IndexMap<K, V, rustc_hash::FxBuildHasher>;

const TRACING_TARGET: &str = "turmoil";

/// Utility method for performing a function on all hosts in `a` against all
/// hosts in `b`.
pub(crate) fn for_pairs(a: &Vec<IpAddr>, b: &Vec<IpAddr>, mut f: impl FnMut(IpAddr, IpAddr)) {
    for first in a {
        for second in b {
            // skip for the same host
            if first != second {
                f(*first, *second)
            }
        }
    }
}

/// Returns whether the caller is in a simulation context.
pub fn in_simulation() -> bool {
    World::try_current(|_| ()).is_ok()
}

/// Returns how long the currently executing host has been executing for in
/// virtual time.
///
/// Must be called from within a Turmoil simulation.
pub fn elapsed() -> Duration {
    World::current(|world| world.current_host().timer.elapsed())
}

/// Returns how long the simulation has been executing for in virtual time.
///
/// Will return None if the duration is not available, typically because
/// there is no currently executing host or world.
pub fn sim_elapsed() -> Option<Duration> {
    World::try_current(|world| {
        world
            .try_current_host()
            .map(|host| host.timer.sim_elapsed())
            .ok()
    })
    .ok()
    .flatten()
}

/// The logical duration from [`UNIX_EPOCH`](std::time::UNIX_EPOCH) until now.
///
/// On creation the simulation picks a `SystemTime` and calculates the
/// duration since the epoch. Each `run()` invocation moves logical time
/// forward the configured tick duration.
///
/// Will return None if the duration is not available, typically because
/// there is no currently executing host or world.
pub fn since_epoch() -> Option<Duration> {
    World::try_current(|world| {
        world
            .try_current_host()
            .map(|host| host.timer.since_epoch())
            .ok()
    })
    .ok()
    .flatten()
}

/// Lookup an IP address by host name.
///
/// Must be called from within a Turmoil simulation.
pub fn lookup(addr: impl ToIpAddr) -> IpAddr {
    World::current(|world| world.lookup(addr))
}

/// Perform a reverse DNS lookup, returning the hostname if the entry exists.
///
/// Must be called from within a Turmoil simulation.
pub fn reverse_lookup(addr: IpAddr) -> Option<String> {
    World::current(|world| world.reverse_lookup(addr).map(|h| h.to_owned()))
}

/// Lookup the IP addresses of hosts by name.
///
/// Must be called from within a Turmoil simulation.
pub fn lookup_many(addr: impl ToIpAddrs) -> Vec<IpAddr> {
    World::current(|world| world.lookup_many(addr))
}

/// Hold messages between two hosts, or sets of hosts, until [`release`] is
/// called.
///
/// Must be called from within a Turmoil simulation.
pub fn hold(a: impl ToIpAddrs, b: impl ToIpAddrs) {
    World::current(|world| world.hold_many(a, b))
}

/// The opposite of [`hold`]. All held messages are immediately delivered.
///
/// Must be called from within a Turmoil simulation.
pub fn release(a: impl ToIpAddrs, b: impl ToIpAddrs) {
    World::current(|world| world.release_many(a, b))
}

/// Partition two hosts, or sets of hosts, resulting in all messages sent
/// between them to be dropped.
///
/// Must be called from within a Turmoil simulation.
pub fn partition(a: impl ToIpAddrs, b: impl ToIpAddrs) {
    World::current(|world| world.partition_many(a, b))
}

/// Partition two hosts, or sets of hosts, in one direction.
///
/// Must be called from within a Turmoil simulation.
pub fn partition_oneway(from: impl ToIpAddrs, to: impl ToIpAddrs) {
    World::current(|world| world.partition_oneway_many(from, to))
}

/// Repair the connection between two hosts, or sets of hosts, resulting in
/// messages to be delivered.
///
/// Must be called from within a Turmoil simulation.
pub fn repair(a: impl ToIpAddrs, b: impl ToIpAddrs) {
    World::current(|world| world.repair_many(a, b))
}

/// Repair the connection between two hosts, or sets of hosts, in one direction.
///
/// Must be called from within a Turmoil simulation.
pub fn repair_oneway(from: impl ToIpAddrs, to: impl ToIpAddrs) {
    World::current(|world| world.repair_oneway_many(from, to))
}

/// Return the number of established tcp streams on the current host.
pub fn established_tcp_stream_count() -> usize {
    World::current(|world| world.est_tcp_streams())
}

/// Return the number of established tcp streams on the given host.
pub fn established_tcp_stream_count_on(addr: impl ToIpAddr) -> usize {
    World::current(|world| world.est_tcp_streams_on(addr))
}
