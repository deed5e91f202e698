//! The message faults in force: installed with an id, matched against each call in order,
//! counted, listed and removed. One table serves the simulation's edge and `serve`.

use std::sync::{Arc, Mutex};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::scenario::model::{MessageEffect, MessageFault};
use crate::time::Millis;
use crate::trace::FaultOrigin;

use super::edge::CallInfo;

/// An installed message fault and how often it has matched.
#[derive(Clone, Debug, Serialize)]
pub struct Installed {
    /// Its id (from 1, in installation order).
    pub id: u64,
    /// The fault, as a scenario's `do` object writes it.
    pub fault: MessageFault,
    /// Calls it matched (its filters), whether or not it applied to them.
    pub matched: u32,
    /// Calls it applied to.
    pub applied: u32,
    /// Calls it was due to apply to that an earlier fault took: they count against its
    /// `count`, so that a fault naming "the 2nd report" never moves on to the 3rd.
    #[serde(skip_serializing_if = "is_zero")]
    pub preempted: u32,
    /// When it stops matching (the service's clock), if its `for` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Millis>,
    /// Where it was written, for the record of each call it hits.
    #[serde(skip)]
    pub origin: FaultOrigin,
}

impl Installed {
    /// Whether it can still apply.
    pub fn active(&self) -> bool {
        self.applied + self.preempted < self.fault.count
    }

    /// Whether it can still apply at `now`.
    fn active_at(&self, now: Millis) -> bool {
        self.active() && self.until.is_none_or(|until| now < until)
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug)]
struct Table {
    faults: Vec<Installed>,
    next_id: u64,
    rng: ChaCha8Rng,
}

/// The message faults in force, and the generator that decides probabilistic ones.
#[derive(Clone, Debug)]
pub struct FaultTable(Arc<Mutex<Table>>);

impl FaultTable {
    /// An empty table whose random choices derive from `seed`.
    pub fn new(seed: u64) -> FaultTable {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(4);
        FaultTable(Arc::new(Mutex::new(Table { faults: Vec::new(), next_id: 1, rng })))
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Installs a fault from `now` (the service's clock) on; returns its id. `origin` says
    /// where it was written, and goes into the record of every call it hits.
    pub fn install(&self, fault: MessageFault, now: Millis, origin: FaultOrigin) -> u64 {
        let mut t = self.table();
        let id = t.next_id;
        t.next_id += 1;
        let until = fault.lasting.map(|d| now.saturating_add(d.ms()));
        t.faults.push(Installed { id, fault, matched: 0, applied: 0, preempted: 0, until, origin });
        id
    }

    /// Every installed fault, in installation order.
    pub fn list(&self) -> Vec<Installed> {
        self.table().faults.clone()
    }

    /// Removes a fault; false when no fault has that id.
    pub fn remove(&self, id: u64) -> bool {
        let mut t = self.table();
        let before = t.faults.len();
        t.faults.retain(|f| f.id != id);
        t.faults.len() != before
    }

    /// Whether any installed fault can still apply.
    pub fn any_pending(&self) -> bool {
        self.table().faults.iter().any(Installed::active)
    }

    /// The effect to apply to a call, if a fault matches it, with the match's number and where
    /// the fault was written; counts the match.
    pub(crate) fn take(&self, call: &CallInfo, now: Millis) -> Option<(MessageEffect, u32, FaultOrigin)> {
        let mut guard = self.table();
        let Table { faults, rng, .. } = &mut *guard;
        let mut chosen = None;
        for active in faults.iter_mut() {
            if !active.active_at(now) || !call.matches(&active.fault) {
                continue;
            }
            // Every fault that matches counts the call, even one that another fault hits
            // first: "the 3rd poll" stays the 3rd poll whatever befell the 2nd.
            active.matched += 1;
            if chosen.is_some() {
                // Due, but the call is taken; a probabilistic fault merely missed a chance.
                if active.matched >= active.fault.occurrence && active.fault.probability.is_none() {
                    active.preempted += 1;
                }
                continue;
            }
            let f = &active.fault;
            let lucky = f.probability.is_none_or(|p| rng.random_bool(p.clamp(0.0, 1.0)));
            if active.matched >= f.occurrence && lucky {
                active.applied += 1;
                chosen = Some((f.effect.clone(), active.matched, active.origin.clone()));
            }
        }
        chosen
    }
}
