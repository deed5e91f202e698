//! The timeline's events before they are applied: fixed times, and moments of the protocol
//! (`assigned`, `ack_deadline`, ...) found in the journal as the run goes.

use crate::journal::{Event, EventKind};
use crate::scenario::model::{Action, Anchor, AnchorKind, At, TimedEvent};
use crate::trace::{EPOCH_MS, component_of};

/// An event of the timeline not yet applied.
pub struct Pending {
    /// Position in the scenario's `events`: orders events due at the same instant.
    pub index: usize,
    /// Time since the start, once known.
    pub at: Option<u64>,
    anchor: Option<Anchor>,
    seen: u32,
    /// What to do.
    pub action: Action,
}

/// The scenario's events, waiting.
pub fn pending(events: &[TimedEvent]) -> Vec<Pending> {
    events
        .iter()
        .enumerate()
        .map(|(index, e)| match &e.at {
            At::Time(t) => Pending { index, at: Some(t.ms()), anchor: None, seen: 0, action: e.action.clone() },
            At::Anchor(a) => Pending { index, at: None, anchor: Some(a.clone()), seen: 0, action: e.action.clone() },
        })
        .collect()
}

/// Finds an anchored event's moment in newly journaled events.
pub fn resolve(p: &mut Pending, events: &[Event]) {
    let Some(anchor) = &p.anchor else { return };
    if p.at.is_some() {
        return;
    }
    for e in events {
        let base = match (anchor.anchor, &e.kind) {
            (AnchorKind::Assigned, EventKind::Assigned { .. }) => e.at,
            (AnchorKind::AckDeadline, EventKind::Assigned { ack_deadline, .. }) => *ack_deadline,
            (AnchorKind::Acknowledged, EventKind::Acknowledged { .. }) => e.at,
            (AnchorKind::Reported, EventKind::Acknowledged { .. } | EventKind::Renewed { .. }) => e.at,
            (AnchorKind::ProgressDeadline, EventKind::Acknowledged { progress_deadline })
            | (AnchorKind::ProgressDeadline, EventKind::Renewed { progress_deadline }) => *progress_deadline,
            (AnchorKind::Expired, EventKind::Expired { .. }) => e.at,
            (AnchorKind::Finished, EventKind::Finished) => e.at,
            _ => continue,
        };
        let task_ok =
            anchor.task.as_deref().is_none_or(|t| e.object_id.as_deref().is_some_and(|o| component_of(o) == t));
        let runner_ok = anchor.runner.as_deref().is_none_or(|r| e.runner.as_deref() == Some(r));
        if !(task_ok && runner_ok) {
            continue;
        }
        p.seen += 1;
        if p.seen == anchor.occurrence {
            let at = (base + anchor.after.ms()).saturating_sub(anchor.before.ms());
            p.at = Some(at.saturating_sub(EPOCH_MS));
            return;
        }
    }
}
