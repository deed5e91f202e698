//! The recorder the simulation's hosts write observations into; drained by the driver into the
//! run's [`Trace`](crate::trace::Trace).

use std::sync::{Arc, Mutex};

use crate::time::Millis;
use crate::trace::{Call, Observation, ObservationKind};

/// Shared, append-only lists of observations and edge calls.
#[derive(Clone, Debug, Default)]
pub struct Recorder(Arc<Mutex<Vec<Observation>>>, Arc<Mutex<Vec<Call>>>);

impl Recorder {
    /// Appends an observation stamped with the current simulated time.
    pub fn record(&self, runner: Option<&str>, kind: ObservationKind) {
        let at = super::clock::sim_now();
        self.record_at(at, runner, kind);
    }

    /// Appends an observation at a given time.
    pub fn record_at(&self, at: Millis, runner: Option<&str>, kind: ObservationKind) {
        let event = Observation { at, runner: runner.map(str::to_string), kind, inferred: false };
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }

    /// Takes what was recorded since the last call.
    pub fn take(&self) -> Vec<Observation> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Recorder {
    /// Appends a call seen at the service's edge.
    pub fn record_call(&self, call: Call) {
        self.1.lock().unwrap_or_else(|p| p.into_inner()).push(call);
    }

    /// Takes the calls recorded since the last call.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.1.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
