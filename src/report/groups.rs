//! Violations grouped by the rule they break: a failing run's hundreds of lines are usually a
//! few problems, each repeated on many tasks. A group is one invariant and one message shape
//! (the message with every word that holds a digit, such as times, taskIds and task labels,
//! set aside), with its size, how many tasks or runners it concerns and its first instance.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::check::{Invariant, Violation};
use crate::time::Millis;

/// More violations than this are summarised by group, with the full list in the files.
pub const HANDFUL: usize = 5;

/// Violations that break one rule the same way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ViolationGroup {
    /// The invariant broken.
    pub invariant: Invariant,
    /// The message's shape: its words, with `…` where times, ids and counts differ.
    pub rule: String,
    /// How many violations it holds.
    pub count: usize,
    /// How many tasks (or runners, for violations about no task) it concerns.
    pub concerns: usize,
    /// The index of its first violation in [`crate::Report::violations`].
    pub first: usize,
    /// When that first violation happened (since the start).
    pub first_at: Millis,
}

/// The shape of a violation's message: words holding a digit become `…`.
fn shape(message: &str) -> String {
    message
        .split(' ')
        .map(|word| if word.bytes().any(|b| b.is_ascii_digit()) { "…" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The groups of `violations`, earliest first (ties by invariant, then shape).
pub fn group(violations: &[Violation]) -> Vec<ViolationGroup> {
    let mut groups: BTreeMap<(Invariant, String), (ViolationGroup, BTreeSet<&str>)> = BTreeMap::new();
    for (index, v) in violations.iter().enumerate() {
        let rule = shape(&v.message);
        let concern = v.task.as_deref().or(v.runner.as_deref()).unwrap_or("-");
        let (g, concerns) = groups.entry((v.invariant, rule.clone())).or_insert_with(|| {
            let g =
                ViolationGroup { invariant: v.invariant, rule, count: 0, concerns: 0, first: index, first_at: v.at };
            (g, BTreeSet::new())
        });
        g.count += 1;
        if v.at < g.first_at {
            g.first_at = v.at;
            g.first = index;
        }
        concerns.insert(concern);
    }
    let mut out: Vec<ViolationGroup> = groups
        .into_values()
        .map(|(mut g, concerns)| {
            g.concerns = concerns.len();
            g
        })
        .collect();
    out.sort_by(|a, b| (a.first_at, a.invariant, &a.rule).cmp(&(b.first_at, b.invariant, &b.rule)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(invariant: Invariant, at: Millis, task: &str, message: &str) -> Violation {
        Violation { invariant, at, task: Some(task.into()), runner: None, message: message.into(), trail: Vec::new() }
    }

    #[test]
    fn violations_of_one_rule_on_many_tasks_are_one_group() {
        let list = vec![
            v(Invariant::History, 5_000, "Copy[2]@1", "t7 was answered canceled=false at +00:00:05.000"),
            v(Invariant::History, 4_000, "Copy[1]@1", "t3 was answered canceled=false at +00:00:04.000"),
            v(Invariant::History, 6_000, "Copy[1]@1", "t3 was answered canceled=false at +00:00:06.000"),
            v(Invariant::SingleOwner, 9_000, "Copy[1]@1", "two owners at +00:00:09.000"),
        ];
        let groups = group(&list);
        assert_eq!(groups.len(), 2);
        assert_eq!((groups[0].count, groups[0].concerns, groups[0].first, groups[0].first_at), (3, 2, 1, 4_000));
        assert_eq!(groups[0].rule, "… was answered canceled=false at …");
        assert_eq!((groups[1].invariant, groups[1].count), (Invariant::SingleOwner, 1));
    }
}
