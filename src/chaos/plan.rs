//! A chaos plan: fault parameters and a fault timeline drawn from a seed (swarm testing), as a
//! proptest strategy so that a failing plan shrinks with proptest's value trees.

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

use crate::protocol::Operation;
use crate::scenario::Dur;
use crate::scenario::model::{
    Action, Anchor, AnchorKind, At, DeadlineKind, MessageEffect, MessageFault, Scenario, TaskMoment, TimedEvent,
};
use crate::scenario::world_plan;

/// Operations message faults may hit.
const OPERATIONS: [Operation; 4] = [
    Operation::ReportTaskProgress,
    Operation::PollForTask,
    Operation::SetTaskStatus,
    Operation::ReportTaskRunnerHeartbeat,
];
/// Fault kinds a plan draws from.
const KINDS: usize = 16;
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
    /// Lose a share of one operation's requests (or responses) for a while.
    Drop {
        /// Operation index.
        op: usize,
        /// Lose the response instead of the request.
        response: bool,
        /// Percent of calls.
        percent: u32,
        /// Start.
        at_s: u64,
        /// How long.
        for_s: u64,
    },
    /// Delay a share of one operation's requests for a while.
    Delay {
        /// Operation index.
        op: usize,
        /// By how long.
        by_s: u64,
        /// Percent of calls.
        percent: u32,
        /// Start.
        at_s: u64,
        /// How long.
        for_s: u64,
    },
    /// SetStatus RERUN on an activity's finished, failed and canceled instances.
    Rerun {
        /// Activity index.
        task: usize,
        /// When.
        at_s: u64,
    },
    /// SetStatus PAUSE on an activity, then RESUME.
    PauseActivity {
        /// Activity index.
        task: usize,
        /// Start.
        at_s: u64,
        /// How long.
        for_s: u64,
    },
    /// DeactivatePipeline, then ActivatePipeline again.
    Deactivate {
        /// cancelActive.
        cancel_active: bool,
        /// Start.
        at_s: u64,
        /// How long.
        for_s: u64,
    },
    /// DeletePipeline.
    Delete {
        /// When.
        at_s: u64,
    },
    /// Lose the next few requests of one operation from one named runner (on a shared
    /// machine, its neighbours must be untouched).
    DropFrom {
        /// Runner index.
        runner: usize,
        /// Operation index.
        op: usize,
        /// How many.
        count: u32,
        /// From when.
        at_s: u64,
    },
    /// For a while, hold every progress report (retries included, so a runner's retry does
    /// not renew the lease first) until a deadline of its own lease: one tick before it, at
    /// it, or one tick after (the boundaries random delays almost never hit).
    ReportAtDeadline {
        /// The ack deadline (else the progress deadline).
        ack: bool,
        /// Where, against the deadline.
        edge: Edge,
        /// Start.
        at_s: u64,
        /// How long.
        for_s: u64,
    },
    /// A cancel racing an expiry: the acknowledgements of an activity's first handout are
    /// lost until past its ack deadline, and a TRY_CANCEL of the activity is answered one tick
    /// before that deadline, at it, or one tick after.
    CancelAtDeadline {
        /// Activity index.
        task: usize,
        /// Where the cancel's answer lands, against the deadline.
        edge: Edge,
    },
    /// Deliver a share of one operation's requests twice, the copy some seconds later.
    Duplicate {
        /// Operation index.
        op: usize,
        /// How long after the original the copy arrives.
        after_s: u64,
        /// Percent of calls.
        percent: u32,
        /// Start.
        at_s: u64,
        /// How long.
        for_s: u64,
    },
    /// Answer a share of one operation's calls with an injected error.
    Error {
        /// Operation index.
        op: usize,
        /// ThrottlingException (else InternalServiceError).
        throttle: bool,
        /// Percent of calls.
        percent: u32,
        /// Start.
        at_s: u64,
        /// How long.
        for_s: u64,
    },
}

/// Where a deadline-placed fault lands: one tick before the deadline, at it, or one tick after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// One tick before.
    Before,
    /// At the deadline's millisecond.
    At,
    /// One tick after.
    After,
}

impl Edge {
    /// (before, after) offsets for a tick of `tick` ms.
    fn offsets(self, tick: u64) -> (Dur, Dur) {
        match self {
            Edge::Before => (Dur(tick), Dur(0)),
            Edge::At => (Dur(0), Dur(0)),
            Edge::After => (Dur(0), Dur(tick)),
        }
    }
}

/// Activity rules a seed may set on every activity of the base (swarm over settings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulesDraw {
    /// `maximumRetries`.
    pub maximum_retries: u32,
    /// `retryDelay`, minutes.
    pub retry_delay_min: u64,
    /// `attemptTimeout`, minutes.
    pub attempt_timeout_min: Option<u64>,
    /// `reportProgressTimeout`, minutes.
    pub progress_timeout_min: Option<u64>,
}

/// A misbehaviour a seed may give part of the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OddKind {
    /// Sets every task FAILED: retries run out.
    FailTasks,
    /// Works twice as slowly.
    Slow,
    /// Crashes after a while and is restarted.
    CrashAndRestart,
}

/// Part of the fleet, on the fleet's own machines, that misbehaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OddDraw {
    /// How.
    pub kind: OddKind,
    /// How many runners.
    pub count: u32,
}

/// Everything a seed decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChaosPlan {
    /// Runners of the fleet (when the base has one).
    pub runners: u32,
    /// Machines the fleet shares (when the base has one).
    pub machines: u32,
    /// Activations per pipeline (when the base activates more than once).
    pub activations: u32,
    /// Activity rules, when this seed sets them.
    pub rules: Option<RulesDraw>,
    /// A misbehaving part of the fleet, when this seed has one.
    pub odd: Option<OddDraw>,
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
            Fault::Rerun { .. } => 7,
            Fault::PauseActivity { .. } => 8,
            Fault::Deactivate { .. } => 9,
            Fault::Delete { .. } => 10,
            Fault::DropFrom { .. } => 11,
            Fault::ReportAtDeadline { .. } => 12,
            Fault::CancelAtDeadline { .. } => 13,
            Fault::Duplicate { .. } => 14,
            Fault::Error { .. } => 15,
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
    // Faults start in the first quarter and last at most a sixth of the run, so that every
    // plan's faults end with time left for the work to get done (the liveness bound and the
    // base's expectations).
    let horizon = (b.duration_s / 4).max(2);
    let span = (b.duration_s / 6).max(2);
    let runner = 0..b.runners.max(1) as usize;
    let task = 0..b.tasks;
    let fault = prop_oneof![
        (runner.clone(), 0..horizon, 1..span).prop_map(|(runner, at_s, for_s)| Fault::Partition {
            runner,
            at_s,
            for_s
        }),
        (runner.clone(), 0..horizon, 1..span).prop_map(|(runner, at_s, for_s)| Fault::Pause { runner, at_s, for_s }),
        (runner, 0..horizon, 1..span).prop_map(|(runner, at_s, for_s)| Fault::CrashRunner { runner, at_s, for_s }),
        (0..horizon, 1..120u64).prop_map(|(at_s, for_s)| Fault::CrashService { at_s, for_s }),
        (task.clone(), 0..horizon).prop_map(|(task, at_s)| Fault::Cancel { task, at_s }),
        (0..OPERATIONS.len(), any::<bool>(), 1..50u32, 0..horizon, 1..span)
            .prop_map(|(op, response, percent, at_s, for_s)| Fault::Drop { op, response, percent, at_s, for_s }),
        (0..OPERATIONS.len(), 1..600u64, 1..50u32, 0..horizon, 1..span)
            .prop_map(|(op, by_s, percent, at_s, for_s)| Fault::Delay { op, by_s, percent, at_s, for_s }),
        (task.clone(), 0..horizon).prop_map(|(task, at_s)| Fault::Rerun { task, at_s }),
        (task, 0..horizon, 1..span).prop_map(|(task, at_s, for_s)| Fault::PauseActivity { task, at_s, for_s }),
        (any::<bool>(), 0..horizon, 1..span).prop_map(|(cancel_active, at_s, for_s)| Fault::Deactivate {
            cancel_active,
            at_s,
            for_s
        }),
        (0..horizon).prop_map(|at_s| Fault::Delete { at_s }),
        (0..b.runners.max(1) as usize, 0..OPERATIONS.len(), 1..4u32, 0..horizon)
            .prop_map(|(runner, op, count, at_s)| Fault::DropFrom { runner, op, count, at_s }),
        (any::<bool>(), edge(), 0..horizon, 1..span).prop_map(|(ack, edge, at_s, for_s)| Fault::ReportAtDeadline {
            ack,
            edge,
            at_s,
            for_s
        }),
        (0..b.tasks, edge()).prop_map(|(task, edge)| Fault::CancelAtDeadline { task, edge }),
        (0..OPERATIONS.len(), 1..300u64, 1..50u32, 0..horizon, 1..span)
            .prop_map(|(op, after_s, percent, at_s, for_s)| Fault::Duplicate { op, after_s, percent, at_s, for_s }),
        (0..OPERATIONS.len(), any::<bool>(), 1..50u32, 0..horizon, 1..span)
            .prop_map(|(op, throttle, percent, at_s, for_s)| Fault::Error { op, throttle, percent, at_s, for_s }),
    ];
    let rules = prop::option::of((0..=3u32, 2..=10u64, prop::option::of(3..=60u64), prop::option::of(5..=20u64)))
        .prop_map(|r| {
            r.map(|(maximum_retries, retry_delay_min, attempt_timeout_min, progress_timeout_min)| RulesDraw {
                maximum_retries,
                retry_delay_min,
                attempt_timeout_min,
                progress_timeout_min,
            })
        });
    let odd_kind = prop_oneof![Just(OddKind::FailTasks), Just(OddKind::Slow), Just(OddKind::CrashAndRestart)];
    let odd = prop::option::of((odd_kind, 1..=3u32)).prop_map(|o| o.map(|(kind, count)| OddDraw { kind, count }));
    (
        1..=b.runners,
        1..=b.runners,
        1..=b.activations,
        rules,
        odd,
        prop::collection::vec(any::<bool>(), KINDS),
        prop::collection::vec(fault, 0..=MAX_FAULTS),
    )
        .prop_map(|(runners, machines, activations, rules, odd, kinds, faults)| ChaosPlan {
            runners,
            machines,
            activations,
            rules,
            odd,
            kinds,
            faults,
        })
        .boxed()
}

fn edge() -> impl Strategy<Value = Edge> {
    prop_oneof![Just(Edge::Before), Just(Edge::At), Just(Edge::After)]
}

fn at(s: u64) -> At {
    At::Time(Dur(s * 1000))
}

fn event(at_s: u64, action: Action) -> TimedEvent {
    TimedEvent { at: at(at_s), action }
}

/// A message fault hitting `percent` of one operation's calls for `for_s` seconds.
fn rate_fault(op: usize, percent: u32, for_s: u64, effect: MessageEffect) -> Action {
    Action::Message(MessageFault {
        operation: Some(OPERATIONS[op % OPERATIONS.len()]),
        runner: None,
        task: None,
        occurrence: 1,
        count: u32::MAX,
        probability: Some(f64::from(percent) / 100.0),
        lasting: Some(Dur(for_s * 1000)),
        effect,
    })
}

/// The events of a cancel racing an expiry (see [`Fault::CancelAtDeadline`]). The operator's
/// SetStatus is answered two ticks after its event (one step to send, one to be served), so
/// the event comes two ticks earlier than where the answer must land.
fn cancel_at_ack_deadline(task: &str, edge: Edge, tick: u64, ack_timeout: u64) -> Vec<TimedEvent> {
    let moment = |anchor, before: u64| {
        At::Anchor(Anchor {
            anchor,
            task: Some(task.to_string()),
            runner: None,
            occurrence: 1,
            after: Dur(0),
            before: Dur(before),
        })
    };
    let lose_acks = MessageFault {
        operation: Some(Operation::ReportTaskProgress),
        runner: None,
        task: Some(task.to_string()),
        occurrence: 1,
        count: u32::MAX,
        probability: None,
        lasting: Some(Dur(ack_timeout + 10_000)),
        effect: MessageEffect::DropRequest,
    };
    let lands = match edge {
        Edge::Before => 3 * tick,
        Edge::At => 2 * tick,
        Edge::After => tick,
    };
    vec![
        TimedEvent { at: moment(AnchorKind::Assigned, 0), action: Action::Message(lose_acks) },
        TimedEvent {
            at: moment(AnchorKind::AckDeadline, lands),
            action: Action::Cancel { task: task.to_string(), pipeline: None },
        },
    ]
}

fn deadline_kind(ack: bool) -> DeadlineKind {
    if ack { DeadlineKind::AckDeadline } else { DeadlineKind::ProgressDeadline }
}

/// Sets a plan's activity rules on the Default object and every activity of a definition.
fn set_rules(objects: &mut [serde_json::Map<String, serde_json::Value>], r: &RulesDraw) {
    for o in objects {
        let id = o.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let is_activity = o.get("type").and_then(|t| t.as_str()).is_some_and(|t| t.ends_with("Activity"));
        if id != "Default" && !is_activity {
            continue;
        }
        let minutes = |m: u64| serde_json::Value::from(format!("{m} minutes"));
        o.insert("maximumRetries".into(), r.maximum_retries.to_string().into());
        o.insert("retryDelay".into(), minutes(r.retry_delay_min));
        for (key, value) in
            [("attemptTimeout", r.attempt_timeout_min), ("reportProgressTimeout", r.progress_timeout_min)]
        {
            match value {
                Some(m) => o.insert(key.into(), minutes(m)),
                None => o.remove(key),
            };
        }
    }
}

/// Splits `odd.count` runners off the first fleet into a misbehaving entry on the fleet's
/// first machine, so that runners of both entries share it.
fn split_odd(s: &mut Scenario, odd: &OddDraw, fixed: &[bool]) {
    let free = |(i, r): &(usize, &crate::scenario::model::RunnerSpec)| r.count > 1 && r.program.is_none() && !fixed[*i];
    let Some(index) = s.runners.iter().enumerate().position(|e| free(&e)) else { return };
    let fleet = &mut s.runners[index];
    let count = odd.count.min(fleet.count - 1);
    if count == 0 {
        return;
    }
    fleet.count -= count;
    let machine = world_plan::machine_names(fleet).first().cloned();
    let mut entry = fleet.clone();
    entry.name = format!("{}-odd", fleet.name);
    entry.count = count;
    entry.machines = None;
    entry.machine = machine.clone();
    fleet.machine = None;
    match odd.kind {
        OddKind::FailTasks => entry.behaviour.fail_tasks = true,
        OddKind::Slow => entry.behaviour.work_factor = Some(2.0),
        OddKind::CrashAndRestart => {
            entry.behaviour.crash_after = Some(Dur(10 * 60_000));
            entry.behaviour.restart_after = Some(Dur(2 * 60_000));
        }
    }
    s.runners.push(entry);
}

/// The base scenario with a plan's fleet size, activations and faults.
pub fn apply(base: &Scenario, seed: u64, plan: &ChaosPlan) -> Scenario {
    let mut s = base.clone();
    s.seed = seed;
    s.description = format!("chaos seed {seed} over: {}", base.description);
    let taken: std::collections::BTreeSet<String> =
        s.runners.iter().filter(|r| r.count == 1).map(|r| r.name.clone()).collect();
    // A fleet one of the base's own events names (a runner of it, or one of its machines) keeps
    // its size: resized, those names would no longer exist.
    let named: std::collections::BTreeSet<&str> = base
        .events
        .iter()
        .filter_map(|e| match e.action.target() {
            crate::scenario::model::Target::Machine(m)
            | crate::scenario::model::Target::Runner(m)
            | crate::scenario::model::Target::Messages(Some(m)) => Some(m),
            _ => None,
        })
        .collect();
    let is_named = |r: &crate::scenario::model::RunnerSpec| {
        world_plan::runner_names(r).iter().chain(&world_plan::machine_names(r)).any(|n| named.contains(n.as_str()))
    };
    let fixed: Vec<bool> = s.runners.iter().map(is_named).collect();
    for (r, _) in s.runners.iter_mut().zip(&fixed).filter(|(r, fixed)| r.count > 1 && !**fixed) {
        r.count = plan.runners.clamp(1, r.count);
        if r.machine.is_none() {
            r.machines = Some(plan.machines.clamp(1, r.count));
        }
        // A fleet of one is named like a single runner; where one already has that name, the
        // fleet's one runner keeps the name it had in the fleet.
        if r.count == 1 && taken.contains(&r.name) {
            r.name = format!("{}-1", r.name);
        }
    }
    // Work grows with the fleet, so that a small fleet is not simply overloaded: the base's
    // expectations must hold under every plan.
    let fleet = s.runners.iter().map(|r| r.count).sum::<u32>().max(1);
    for p in s.pipelines.iter_mut().filter(|p| p.activations > 1) {
        p.activations = plan.activations.clamp(1, p.activations).min(2 * fleet);
    }
    if let Some(rules) = &plan.rules {
        for p in &mut s.pipelines {
            set_rules(&mut p.definition.objects, rules);
        }
    }
    if let Some(odd) = &plan.odd {
        split_odd(&mut s, odd, &fixed);
    }
    let pipeline = s.pipelines.first().map(|p| p.name.clone());
    let runners = world_plan::plan(&s);
    let name = |i: usize| runners[i % runners.len()].name.clone();
    let has_runners = !runners.is_empty();
    let tasks = activity_ids(&s);
    let end = s.duration.ms() / 1000;
    let tick = s.tick.ms().max(1);
    let ack_timeout = crate::scenario::settings(&s, seed).ack_timeout_ms;
    for f in plan.effective() {
        // A base without runners can still take service, cancel and message faults.
        if !has_runners
            && matches!(
                f,
                Fault::Partition { .. } | Fault::Pause { .. } | Fault::CrashRunner { .. } | Fault::DropFrom { .. }
            )
        {
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
            Fault::Drop { op, response, percent, at_s, for_s } => {
                let effect = if *response { MessageEffect::DropResponse } else { MessageEffect::DropRequest };
                vec![event(*at_s, rate_fault(*op, *percent, *for_s, effect))]
            }
            Fault::Delay { op, by_s, percent, at_s, for_s } => {
                let effect = MessageEffect::Delay { by: Some(Dur(by_s * 1000)), until: None };
                vec![event(*at_s, rate_fault(*op, *percent, *for_s, effect))]
            }
            Fault::Rerun { task, at_s } => match tasks.get(task % tasks.len().max(1)) {
                Some(t) => vec![event(*at_s, Action::Rerun { task: t.clone(), pipeline: None })],
                None => vec![],
            },
            Fault::PauseActivity { task, at_s, for_s } => match tasks.get(task % tasks.len().max(1)) {
                Some(t) => vec![
                    event(*at_s, Action::PauseActivity { task: t.clone(), pipeline: None }),
                    event((at_s + for_s).min(end), Action::ResumeActivity { task: t.clone(), pipeline: None }),
                ],
                None => vec![],
            },
            Fault::Deactivate { cancel_active, at_s, for_s } => match &pipeline {
                Some(p) => vec![
                    event(*at_s, Action::Deactivate { pipeline: p.clone(), cancel_active: *cancel_active }),
                    event((at_s + for_s).min(end), Action::Activate { pipeline: p.clone() }),
                ],
                None => vec![],
            },
            Fault::DropFrom { runner, op, count, at_s } => {
                let fault = MessageFault {
                    operation: Some(OPERATIONS[op % OPERATIONS.len()]),
                    runner: Some(name(*runner)),
                    task: None,
                    occurrence: 1,
                    count: *count,
                    probability: None,
                    lasting: None,
                    effect: MessageEffect::DropRequest,
                };
                vec![event(*at_s, Action::Message(fault))]
            }
            Fault::Delete { at_s } => match &pipeline {
                Some(p) => vec![event(*at_s, Action::Delete { pipeline: p.clone() })],
                None => vec![],
            },
            Fault::ReportAtDeadline { ack, edge, at_s, for_s } => {
                // The held reports must outlive their own deadline, or the runner hangs up first
                // and the request is dropped with its connection: runners wait for an answer
                // longer than the lease's deadline is away (5m for an ack, 30m for progress).
                let wait = Dur(if *ack { 5 } else { 30 } * 60_000);
                for r in &mut s.runners {
                    r.request_timeout = Dur(r.request_timeout.ms().max(wait.ms()));
                }
                let (before, after) = edge.offsets(tick);
                let fault = MessageFault {
                    operation: Some(Operation::ReportTaskProgress),
                    runner: None,
                    task: None,
                    occurrence: 1,
                    count: u32::MAX,
                    probability: None,
                    lasting: Some(Dur(for_s * 1000)),
                    effect: MessageEffect::Delay {
                        by: None,
                        until: Some(TaskMoment { deadline: deadline_kind(*ack), before, after }),
                    },
                };
                vec![event(*at_s, Action::Message(fault))]
            }
            Fault::CancelAtDeadline { task, edge } => match tasks.get(task % tasks.len().max(1)) {
                Some(t) => cancel_at_ack_deadline(t, *edge, tick, ack_timeout),
                None => vec![],
            },
            Fault::Duplicate { op, after_s, percent, at_s, for_s } => {
                let effect = MessageEffect::Duplicate { after: Dur(after_s * 1000) };
                vec![event(*at_s, rate_fault(*op, *percent, *for_s, effect))]
            }
            Fault::Error { op, throttle, percent, at_s, for_s } => {
                let code = if *throttle { "ThrottlingException" } else { "InternalServiceError" };
                let effect = MessageEffect::Error { code: code.into() };
                vec![event(*at_s, rate_fault(*op, *percent, *for_s, effect))]
            }
        };
        s.events.extend(events);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_shrunk_to_one_keeps_its_runner_apart_from_a_single_runner_of_its_name() {
        let base = crate::scenario::parse(
            r#"{"duration": "10m",
                "pipelines": [{"name": "p", "definition": {"objects": [
                    {"id": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg"}]}}],
                "runners": [{"name": "w", "count": 3, "worker_group": "wg"}, {"name": "w", "worker_group": "wg"}]}"#,
        )
        .expect("w-1..w-3 and w are four names");
        let plan = ChaosPlan {
            runners: 1,
            machines: 1,
            activations: 1,
            rules: None,
            odd: None,
            kinds: Vec::new(),
            faults: Vec::new(),
        };
        let s = apply(&base, 1, &plan);
        let names: Vec<String> = world_plan::plan(&s).into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["w-1", "w"]);
    }
}
