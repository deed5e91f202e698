//! dpsim: a deterministic simulation and test harness for the AWS Data Pipeline task-runner
//! protocol.
//!
//! Module map:
//! - [`time`]: simulated instants, Data Pipeline periods, AWS time formats.
//! - [`protocol`]: the AWS model: operations, typed requests and responses, validation, errors.
//! - [`service`]: the sans-IO service core: pipelines, instances, attempts, leases, deadlines.
//! - [`journal`]: the events the core emits for every state change.
//! - [`wire`]: the AWS JSON 1.1 HTTP front (router, errors, request ids, Date, SigV4).
//! - [`serve`]: `dpsim serve`: the service on a real port with an advanceable clock.

pub mod journal;
pub mod protocol;
pub mod serve;
pub mod service;
pub mod time;
pub mod wire;
