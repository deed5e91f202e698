//! What the harness observes besides the service's journal: runner beliefs, faults applied,
//! control-plane calls. Merged with the journal into the ownership log.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::time::Millis;

/// Something a runner did or learned, or something the harness did to the world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SimEventKind {
    /// A runner starts working on a task it was handed.
    StartsWork {
        /// Lease number.
        task: u64,
        /// Attempt id.
        attempt_id: String,
        /// Work time it expects.
        work_ms: u64,
    },
    /// A runner stops working on a task.
    StopsWork {
        /// Lease number.
        task: u64,
        /// Why.
        reason: String,
    },
    /// A runner learns it lost a task.
    LearnsLost {
        /// Lease number.
        task: u64,
        /// How it learned (canceled=true, TaskNotFoundException, ...).
        how: String,
    },
    /// A runner's call failed (timeout, connection, injected error).
    CallFailed {
        /// Operation.
        operation: String,
        /// Error.
        error: String,
    },
    /// A runner heard `terminate: true` and stopped.
    Terminated,
    /// A runner process crashed.
    Crashed,
    /// A runner process started again.
    Restarted,
    /// A fault or control event was applied.
    Applied {
        /// What, in words.
        what: String,
        /// The runners it cuts off, freezes or crashes; every runner when the service itself
        /// goes down. Checks use it to tell a runner that could not learn from one that would not.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        disturbs: Vec<String>,
    },
    /// A message fault matched a call at the service's edge.
    MessageFault {
        /// What was done to the call.
        what: String,
        /// The operation.
        operation: String,
    },
}

/// One observed event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimEvent {
    /// When.
    pub at: Millis,
    /// Runner (or machine) it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    /// What.
    #[serde(flatten)]
    pub kind: SimEventKind,
}

/// A shared, append-only list of observations.
#[derive(Clone, Debug, Default)]
pub struct Recorder(Arc<Mutex<Vec<SimEvent>>>);

impl Recorder {
    /// Appends an observation stamped with the current simulated time.
    pub fn record(&self, runner: Option<&str>, kind: SimEventKind) {
        let at = super::clock::sim_now();
        self.record_at(at, runner, kind);
    }

    /// Appends an observation at a given time.
    pub fn record_at(&self, at: Millis, runner: Option<&str>, kind: SimEventKind) {
        let event = SimEvent { at, runner: runner.map(str::to_string), kind };
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }

    /// Takes what was recorded since the last call.
    pub fn take(&self) -> Vec<SimEvent> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
