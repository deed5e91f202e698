//! Tests of the crate's inside (the service core, the HTTP edge, the simulator's clock,
//! `serve`'s routes), which a test outside the crate cannot reach through the public API.

mod check_imports;
mod core_defects;
mod core_leases;
mod core_schedules;
mod host_clock;
mod model_names;
mod rules_agree;
mod serve;
mod serve_reset;
mod support;
mod wire;
mod wire_props;
