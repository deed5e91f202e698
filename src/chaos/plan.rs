//! A chaos plan: fault parameters and a fault timeline drawn from a seed (swarm testing), as a
//! proptest strategy so that a failing plan shrinks with proptest's value trees.

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

use crate::scenario::Dur;
use crate::scenario::model::{Action, At, MessageEffect, MessageFault, Scenario, TimedEvent};
use crate::scenario::world_plan;

/// Operations message faults may hit.
const OPERATIONS: [&str; 4] = ["ReportTaskProgress", "PollForTask", "SetTaskStatus", "ReportTaskRunnerHeartbeat"];
/// Most faults in one plan.
pub const MAX_FAULTS: usize = 8;

/// One fault of a plan; times are seconds since the start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Cut a runner's machine off, then heal it.
    Partition {
        /// Runner index.
        runner: usize,
        /// Start.
        at_s: u64,
        /// How long.
        for_s: u64,
    },
    /// Freeze a runner, then resume it.
    Pause {
        /// Runner index.
        runner: usize,
        /// Start.
        at_s: u64,
        /// How long.
        for_s: u64,
    },
    /// Crash a runner, then restart it.
    CrashRunner {
        /// Runner index.
        runner: usize,
        /// Start.
        at_s: u64,
        /// Down for.
        for_s: u64,
    },
    /// Crash the service, then restart it.
    CrashService {
        /// Start.
        at_s: u64,
        /// Down for.
        for_s: u64,
    },
    /// SetStatus TRY_CANCEL on an activity's instances.
    Cancel {
        /// Activity index.
        task: usize,
        /// When.
        at_s: u64,
    },
    /// Lose a share of one operation's requests (or responses).
    Drop {
        /// Operation index.
        op: usize,
        /// Lose the response instead of the request.
        response: bool,
        /// Percent of calls.
        percent: u32,
    },
    /// Delay a share of one operation's requests.
    Delay {
        /// Operation index.
        op: usize,
        /// By how long.
        by_s: u64,
        /// Percent of calls.
        percent: u32,
    },
}

/// Everything a seed decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChaosPlan {
    /// Runners of the fleet (when the base has one).
    pub runners: u32,
    /// Activations per pipeline (when the base activates more than once).
    pub activations: u32,
    /// Which fault kinds this seed allows (swarm testing: each seed its own mix).
    pub kinds: Vec<bool>,
    /// The drawn faults; those of a disallowed kind are ignored.
    pub faults: Vec<Fault>,
}

impl Fault {
    fn kind(&self) -> usize {
        match self {
            Fault::Partition { .. } => 0,
            Fault::Pause { .. } => 1,
            Fault::CrashRunner { .. } => 2,
            Fault::CrashService { .. } => 3,
            Fault::Cancel { .. } => 4,
            Fault::Drop { .. } => 5,
            Fault::Delay { .. } => 6,
        }
    }
}

impl ChaosPlan {
    /// The faults that take effect.
    pub fn effective(&self) -> Vec<&Fault> {
        self.faults.iter().filter(|f| self.kinds.get(f.kind()).copied().unwrap_or(false)).collect()
    }
}

/// What a base scenario allows plans to vary.
#[derive(Clone, Debug)]
pub struct Bounds {
    runners: u32,
    activations: u32,
    duration_s: u64,
    tasks: usize,
}

impl Bounds {
    /// The bounds a base scenario sets.
    pub fn of(base: &Scenario) -> Bounds {
        let runners = base.runners.iter().map(|r| r.count).max().unwrap_or(1);
        let activations = base.pipelines.iter().map(|p| p.activations).max().unwrap_or(1);
        let tasks = activity_ids(base).len().max(1);
        Bounds { runners, activations, duration_s: (base.duration.ms() / 1000).max(60), tasks }
    }
}

fn activity_ids(base: &Scenario) -> Vec<String> {
    let mut ids = Vec::new();
    for p in &base.pipelines {
        for o in &p.definition.objects {
            let is_activity = o.get("type").and_then(|t| t.as_str()).is_some_and(|t| t.ends_with("Activity"));
            if let (true, Some(id)) = (is_activity, o.get("id").and_then(|i| i.as_str()))
                && !ids.iter().any(|x| x == id)
            {
                ids.push(id.to_string());
            }
        }
    }
    ids
}

/// The strategy of plans over a base. A flat tuple, so that proptest shrinks each part on its
/// own: fewer runners, fewer activations, fewer kinds, fewer and smaller faults.
pub fn strategy(bounds: &Bounds) -> BoxedStrategy<ChaosPlan> {
    let b = bounds.clone();
    let horizon = b.duration_s;
    let span = (horizon / 2).max(2);
    let runner = 0..b.runners.max(1) as usize;
    let fault = prop_oneof![
        (runner.clone(), 0..horizon, 1..span).prop_map(|(runner, at_s, for_s)| Fault::Partition {
            runner,
            at_s,
            for_s
        }),
        (runner.clone(), 0..horizon, 1..span).prop_map(|(runner, at_s, for_s)| Fault::Pause { runner, at_s, for_s }),
        (runner, 0..horizon, 1..span).prop_map(|(runner, at_s, for_s)| Fault::CrashRunner { runner, at_s, for_s }),
        (0..horizon, 1..120u64).prop_map(|(at_s, for_s)| Fault::CrashService { at_s, for_s }),
        (0..b.tasks, 0..horizon).prop_map(|(task, at_s)| Fault::Cancel { task, at_s }),
        (0..OPERATIONS.len(), any::<bool>(), 1..50u32).prop_map(|(op, response, percent)| Fault::Drop {
            op,
            response,
            percent
        }),
        (0..OPERATIONS.len(), 1..600u64, 1..50u32).prop_map(|(op, by_s, percent)| Fault::Delay { op, by_s, percent }),
    ];
    (
        1..=b.runners,
        1..=b.activations,
        prop::collection::vec(any::<bool>(), 7),
        prop::collection::vec(fault, 0..=MAX_FAULTS),
    )
        .prop_map(|(runners, activations, kinds, faults)| ChaosPlan { runners, activations, kinds, faults })
        .boxed()
}

fn at(s: u64) -> At {
    At::Time(Dur(s * 1000))
}

fn event(at_s: u64, action: Action) -> TimedEvent {
    TimedEvent { at: at(at_s), action }
}

/// A message fault hitting `percent` of one operation's calls for the whole run.
fn rate_fault(op: usize, percent: u32, effect: MessageEffect) -> Action {
    Action::Message(MessageFault {
        operation: Some(OPERATIONS[op % OPERATIONS.len()].to_string()),
        runner: None,
        task: None,
        occurrence: 1,
        count: u32::MAX,
        probability: Some(f64::from(percent) / 100.0),
        effect,
    })
}

/// The base scenario with a plan's fleet size, activations and faults.
pub fn apply(base: &Scenario, seed: u64, plan: &ChaosPlan) -> Scenario {
    let mut s = base.clone();
    s.seed = seed;
    s.description = format!("chaos seed {seed} over: {}", base.description);
    for r in s.runners.iter_mut().filter(|r| r.count > 1) {
        r.count = plan.runners.clamp(1, r.count);
    }
    for p in s.pipelines.iter_mut().filter(|p| p.activations > 1) {
        p.activations = plan.activations.clamp(1, p.activations);
    }
    let runners = world_plan::plan(&s);
    let name = |i: usize| runners[i % runners.len()].name.clone();
    let has_runners = !runners.is_empty();
    let tasks = activity_ids(&s);
    let end = s.duration.ms() / 1000;
    for f in plan.effective() {
        // A base without runners can still take service, cancel and message faults.
        if !has_runners && matches!(f, Fault::Partition { .. } | Fault::Pause { .. } | Fault::CrashRunner { .. }) {
            continue;
        }
        let events: Vec<TimedEvent> = match f {
            Fault::Partition { runner, at_s, for_s } => vec![
                event(
                    *at_s,
                    Action::Partition { machine: name(*runner), direction: Default::default(), refuse: false },
                ),
                event((at_s + for_s).min(end), Action::Repair { machine: name(*runner) }),
            ],
            Fault::Pause { runner, at_s, for_s } => vec![
                event(*at_s, Action::Pause { runner: name(*runner) }),
                event((at_s + for_s).min(end), Action::Resume { runner: name(*runner) }),
            ],
            Fault::CrashRunner { runner, at_s, for_s } => vec![
                event(*at_s, Action::CrashRunner { runner: name(*runner) }),
                event((at_s + for_s).min(end), Action::RestartRunner { runner: name(*runner) }),
            ],
            Fault::CrashService { at_s, for_s } => {
                vec![event(*at_s, Action::CrashService), event((at_s + for_s).min(end), Action::RestartService)]
            }
            Fault::Cancel { task, at_s } => match tasks.get(task % tasks.len().max(1)) {
                Some(t) => vec![event(*at_s, Action::Cancel { task: t.clone(), pipeline: None })],
                None => vec![],
            },
            Fault::Drop { op, response, percent } => {
                let effect = if *response { MessageEffect::DropResponse } else { MessageEffect::DropRequest };
                vec![event(0, rate_fault(*op, *percent, effect))]
            }
            Fault::Delay { op, by_s, percent } => {
                let effect = MessageEffect::Delay { by: Some(Dur(by_s * 1000)), until: None };
                vec![event(0, rate_fault(*op, *percent, effect))]
            }
        };
        s.events.extend(events);
    }
    s
}
