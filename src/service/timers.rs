//! The deadline queue: every timed rule of the service in one ordered set.
//!
//! Entries are ordered by instant, then by creation, so timers due at the same millisecond fire
//! in the order they were set. Owners keep their [`TimerKey`] to cancel in O(log n).

use std::collections::BTreeSet;

use crate::time::Millis;

use super::{AttemptKey, InstanceKey};

/// What a timer does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    /// The ack or progress deadline of a lease.
    Lease(u64),
    /// An attempt's `attemptTimeout`.
    AttemptTimeout(AttemptKey),
    /// An instance's retry delay or future start ends.
    ReadyAt(InstanceKey),
    /// A held poll's hold time ends.
    PollHold(u64),
    /// A schedule period of a pipeline comes due.
    Period(super::model::PipelineKey),
}

/// A set timer: when, creation order, and what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerKey {
    /// When it fires.
    pub at: Millis,
    seq: u64,
    /// What it does.
    pub kind: TimerKind,
}

/// The ordered set of pending timers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timers {
    set: BTreeSet<TimerKey>,
    next_seq: u64,
}

impl Timers {
    /// Sets a timer and returns its key.
    pub fn set(&mut self, at: Millis, kind: TimerKind) -> TimerKey {
        let key = TimerKey { at, seq: self.next_seq, kind };
        self.next_seq += 1;
        self.set.insert(key);
        key
    }

    /// Cancels a timer (no-op when it already fired).
    pub fn cancel(&mut self, key: TimerKey) {
        self.set.remove(&key);
    }

    /// The earliest pending instant.
    pub fn next_at(&self) -> Option<Millis> {
        self.set.first().map(|k| k.at)
    }

    /// Removes and returns the earliest timer due at or before `now`.
    pub fn pop_due(&mut self, now: Millis) -> Option<TimerKey> {
        if self.set.first()?.at <= now { self.set.pop_first() } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_due_at_one_instant_fire_in_the_order_they_were_set() {
        let mut t = Timers::default();
        // Set in an order that differs from the kinds' own order.
        t.set(10, TimerKind::PollHold(1));
        t.set(10, TimerKind::Lease(1));
        let cancelled = t.set(10, TimerKind::ReadyAt(0));
        t.set(5, TimerKind::PollHold(2));
        t.cancel(cancelled);
        assert_eq!(t.next_at(), Some(5));
        assert_eq!(t.pop_due(4), None, "nothing is due before its instant");
        let order: Vec<TimerKind> = std::iter::from_fn(|| t.pop_due(10)).map(|k| k.kind).collect();
        assert_eq!(order, [TimerKind::PollHold(2), TimerKind::PollHold(1), TimerKind::Lease(1)]);
        assert_eq!(t.next_at(), None);
    }
}
