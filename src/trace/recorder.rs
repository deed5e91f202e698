//! Where a running world writes what the harness observes (runner beliefs, faults applied,
//! control events) and the calls its service's edge saw, until they are drained into a
//! [`Trace`](super::Trace). Stamped by the world's clock; bounded when asked to be (`serve`
//! runs for as long as a user likes).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::time::Millis;
use crate::wire::Clock;

use super::{Call, Observation, ObservationKind};

#[derive(Debug, Default)]
struct Lists {
    observations: VecDeque<Observation>,
    calls: VecDeque<Call>,
    dropped_observations: u64,
    dropped_calls: u64,
}

/// Shared, append-only lists of observations and edge calls.
#[derive(Clone)]
pub struct Recorder {
    lists: Arc<Mutex<Lists>>,
    clock: Arc<dyn Clock>,
    limit: usize,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("limit", &self.limit).finish_non_exhaustive()
    }
}

impl Recorder {
    /// An unbounded recorder stamping with `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Recorder {
        Recorder { lists: Arc::default(), clock, limit: usize::MAX }
    }

    /// A recorder that keeps at most `limit` observations and `limit` calls, forgetting the
    /// oldest first.
    pub fn bounded(clock: Arc<dyn Clock>, limit: usize) -> Recorder {
        Recorder { limit: limit.max(1), ..Recorder::new(clock) }
    }

    fn lists(&self) -> std::sync::MutexGuard<'_, Lists> {
        self.lists.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an observation stamped with the clock's current instant.
    pub fn record(&self, runner: Option<&str>, kind: ObservationKind) {
        self.record_at(self.clock.now(), runner, kind);
    }

    /// Appends an observation at a given time.
    pub fn record_at(&self, at: Millis, runner: Option<&str>, kind: ObservationKind) {
        let event = Observation { at, runner: runner.map(str::to_string), kind, inferred: false };
        let mut lists = self.lists();
        if lists.observations.len() >= self.limit {
            lists.observations.pop_front();
            lists.dropped_observations += 1;
        }
        lists.observations.push_back(event);
    }

    /// Appends a call seen at the service's edge.
    pub fn record_call(&self, call: Call) {
        let mut lists = self.lists();
        if lists.calls.len() >= self.limit {
            lists.calls.pop_front();
            lists.dropped_calls += 1;
        }
        lists.calls.push_back(call);
    }

    /// Takes the observations recorded since the last call.
    pub fn take(&self) -> Vec<Observation> {
        std::mem::take(&mut self.lists().observations).into()
    }

    /// Takes the calls recorded since the last call.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut self.lists().calls).into()
    }

    /// How many observations and calls are kept now (without copying them).
    pub fn kept(&self) -> (usize, usize) {
        let lists = self.lists();
        (lists.observations.len(), lists.calls.len())
    }

    /// Copies of what is kept, without taking it: observations, calls, and how many of each
    /// were forgotten to stay within the bound.
    pub fn snapshot(&self) -> (Vec<Observation>, Vec<Call>, u64, u64) {
        let lists = self.lists();
        (
            lists.observations.iter().cloned().collect(),
            lists.calls.iter().cloned().collect(),
            lists.dropped_observations,
            lists.dropped_calls,
        )
    }
}
