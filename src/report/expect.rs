//! Checking a scenario's expectations against what happened.

use serde::Serialize;

use crate::scenario::model::Expectation;
use crate::time::format_duration;
use crate::trace::Trace;

use super::analysis::Analysis;
use super::log::{Line, stamp};

/// The verdict on one expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The expectation, in words.
    pub expectation: String,
    /// Whether it held.
    pub ok: bool,
    /// What was found.
    pub found: String,
}

fn of_task(task: &str, component: &str) -> bool {
    task == "*" || task == component
}

/// Checks every expectation.
pub fn check(expectations: &[Expectation], out: &Trace, a: &Analysis, lines: &[Line]) -> Vec<Verdict> {
    expectations.iter().map(|x| check_one(x, out, a, lines)).collect()
}

fn check_one(x: &Expectation, out: &Trace, a: &Analysis, lines: &[Line]) -> Verdict {
    match x {
        Expectation::Owner { task, at, runner } => {
            let t = at.ms();
            let owners: Vec<&str> = a
                .leases
                .values()
                .filter(|l| of_task(task, &l.component) && l.assigned_at <= t && l.ended_at.is_none_or(|e| t < e))
                .map(|l| l.runner.as_str())
                .collect();
            let found = if owners.is_empty() { "none".to_string() } else { owners.join(", ") };
            let ok = if runner == "none" { owners.is_empty() } else { owners == [runner.as_str()] };
            Verdict { expectation: format!("owner of {task} at {} is {runner}", stamp(t)), ok, found }
        }
        Expectation::HandedOver { task, from, to, after, before } => {
            let mut found = Vec::new();
            let mut ok = false;
            for l in a.leases.values().filter(|l| of_task(task, &l.component)) {
                let previous = a
                    .leases
                    .values()
                    .rfind(|p| p.object_id == l.object_id && p.pipeline_id == l.pipeline_id && p.seq < l.seq)
                    .map(|p| p.runner.as_str());
                let Some(prev) = previous else { continue };
                if prev == l.runner {
                    continue;
                }
                found.push(format!("{prev} -> {} at {}", l.runner, stamp(l.assigned_at)));
                let in_window = after.ms() <= l.assigned_at && l.assigned_at <= before.ms();
                let from_ok = from.as_deref().is_none_or(|f| f == prev);
                let to_ok = to.as_deref().is_none_or(|t| t == l.runner);
                ok |= in_window && from_ok && to_ok;
            }
            let who = format!(
                "{}{}",
                from.as_deref().map(|f| format!(" from {f}")).unwrap_or_default(),
                to.as_deref().map(|t| format!(" to {t}")).unwrap_or_default()
            );
            Verdict {
                expectation: format!(
                    "{task} handed over{who} between {} and {}",
                    stamp(after.ms()),
                    stamp(before.ms())
                ),
                ok,
                found: if found.is_empty() { "no handover".into() } else { found.join("; ") },
            }
        }
        Expectation::FinalStatus { task, status } => {
            let statuses: Vec<&str> =
                out.instances.iter().filter(|i| of_task(task, &i.component)).map(|i| i.status.as_str()).collect();
            let ok = !statuses.is_empty() && statuses.iter().all(|s| status.split('|').any(|want| want == *s));
            let mut counts = std::collections::BTreeMap::new();
            for s in &statuses {
                *counts.entry(*s).or_insert(0) += 1;
            }
            let found = counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
            Verdict {
                expectation: format!("final status of {task} is {status}"),
                ok,
                found: if found.is_empty() { "no instance".into() } else { found },
            }
        }
        Expectation::Attempts { task, count } => {
            let counts: Vec<usize> =
                out.instances.iter().filter(|i| of_task(task, &i.component)).map(|i| i.attempts).collect();
            let ok = !counts.is_empty() && counts.iter().all(|c| *c == *count as usize);
            let mut histogram = std::collections::BTreeMap::new();
            for c in &counts {
                *histogram.entry(*c).or_insert(0) += 1;
            }
            let found = histogram
                .iter()
                .map(|(attempts, n)| format!("{n} instance(s) with {attempts} attempt(s)"))
                .collect::<Vec<_>>()
                .join(", ");
            Verdict { expectation: format!("{task} made {count} attempt(s)"), ok, found }
        }
        Expectation::MaxZombie { duration, runner } | Expectation::ZombieAtLeast { duration, runner } => {
            let longest = a
                .zombies()
                .into_iter()
                .filter(|w| runner.as_deref().is_none_or(|r| r == w.runner))
                .map(|w| (w.zombie_ms, w.runner.clone(), w.seq))
                .next();
            let found = match &longest {
                Some((ms, r, seq)) => format!("longest {} ({r} t{seq})", format_duration(*ms)),
                None => "no zombie work".into(),
            };
            let ms = longest.as_ref().map_or(0, |l| l.0);
            let scope = runner.as_deref().map(|r| format!(" of {r}")).unwrap_or_default();
            match x {
                Expectation::MaxZombie { .. } => Verdict {
                    expectation: format!("zombie work{scope} at most {}", format_duration(duration.ms())),
                    ok: ms <= duration.ms(),
                    found,
                },
                _ => Verdict {
                    expectation: format!("zombie work{scope} of at least {}", format_duration(duration.ms())),
                    ok: ms >= duration.ms() && longest.is_some(),
                    found,
                },
            }
        }
        Expectation::CaughtUp { task, due_by, by } => {
            let by_ms = by.ms();
            let due_ms = due_by.map_or(by_ms, |d| d.ms());
            let component: std::collections::BTreeMap<(&str, &str), &str> = out
                .instances
                .iter()
                .map(|i| ((i.pipeline_id.as_str(), i.instance_id.as_str()), i.component.as_str()))
                .collect();
            let of = |e: &crate::journal::Event| {
                e.instance().and_then(|i| component.get(&i)).is_some_and(|c| of_task(task, c))
            };
            let rel = |e: &crate::journal::Event| crate::trace::rel(e.at);
            let due: Vec<(&str, &str)> = out
                .journal
                .iter()
                .filter(|e| matches!(e.kind, crate::journal::EventKind::Scheduled { .. }) && of(e) && rel(e) <= due_ms)
                .filter_map(|e| e.instance())
                .collect();
            let finished: std::collections::BTreeMap<(&str, &str), u64> = out
                .journal
                .iter()
                .filter(|e| matches!(e.kind, crate::journal::EventKind::Finished) && of(e) && rel(e) <= by_ms)
                .filter_map(|e| e.instance().map(|i| (i, rel(e))))
                .collect();
            let done = due.iter().filter(|o| finished.contains_key(*o)).count();
            let last = due.iter().filter_map(|o| finished.get(o)).max();
            Verdict {
                expectation: format!("every {task} instance due by {} finished by {}", stamp(due_ms), stamp(by_ms)),
                ok: !due.is_empty() && done == due.len(),
                found: format!(
                    "{done} of {} finished{}",
                    due.len(),
                    last.map(|t| format!(", the last at {}", stamp(*t))).unwrap_or_default()
                ),
            }
        }
        Expectation::Count { event, count } => {
            let n = lines.iter().filter(|l| l.what.name() == event).count();
            Verdict {
                expectation: format!("{count} \"{event}\" line(s)"),
                ok: n == *count as usize,
                found: n.to_string(),
            }
        }
    }
}
