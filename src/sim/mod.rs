//! The simulated world: turmoil hosts for the service, the operator and the runner machines,
//! and the driver loop that steps it and applies the scenario's timeline at exact times.
//!
//! Only this module (and the wire's async host) touches turmoil or tokio; what it produces is
//! plain data: the service journal and the harness's observations.

pub mod client;
pub mod clock;
pub mod edge;
pub mod operator;
pub mod record;
pub mod runner;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

use crate::journal::{Event, EventKind};
use crate::scenario::model::{Action, Anchor, AnchorKind, At, Direction, Scenario};
use crate::scenario::settings;
use crate::scenario::world_plan::{self, PlannedRunner};
use crate::service::InstanceSummary;
use crate::wire::{Host, HostConfig};

use clock::{EPOCH_MS, SimClock, set_driver_now};
use edge::{Edge, FaultTable};
use operator::{Command, Directory};
use record::{Recorder, SimEvent, SimEventKind};
use runner::{RunnerControl, RunnerCtx};

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct SimOutput {
    /// The seed used.
    pub seed: u64,
    /// The service's journal.
    pub journal: Vec<Event>,
    /// Runner beliefs, faults and control events, in order of observation.
    pub observations: Vec<SimEvent>,
    /// Simulated time when the run stopped, since the start.
    pub end_ms: u64,
    /// Whether it stopped because everything was done.
    pub finished_early: bool,
    /// Pipeline copy names by id.
    pub pipeline_names: BTreeMap<String, String>,
    /// Instances at the end.
    pub instances: Vec<InstanceSummary>,
    /// The runners and their machines.
    pub runners: Vec<PlannedRunner>,
    /// Steps taken.
    pub steps: u64,
    /// HTTP requests the service's edge received.
    pub requests: u64,
    /// Instances the service lost track of at the end (instance id, why); see
    /// `Service::lost_instances`.
    pub lost: Vec<(String, String)>,
}

/// A run that could not complete.
#[derive(Debug)]
pub struct SimError(pub String);

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SimError {}

/// An event of the timeline not yet applied.
struct Pending {
    index: usize,
    /// Time since the start, once known.
    at: Option<u64>,
    anchor: Option<Anchor>,
    seen: u32,
    action: Action,
}

/// Progress callback: simulated ms so far, total ms.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Runs a scenario with a seed and returns what happened.
pub fn run(scenario: &Scenario, seed: u64, progress: Option<Progress>) -> Result<SimOutput, SimError> {
    let tick = scenario.tick.ms();
    let mut builder = turmoil::Builder::new();
    let latency = scenario.network.latency.map_or(0, |d| d.ms());
    let jitter = scenario.network.jitter.map_or(0, |d| d.ms());
    builder
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_millis(EPOCH_MS))
        .tick_duration(Duration::from_millis(tick))
        .simulation_duration(Duration::from_millis(scenario.duration.ms() + tick * 4))
        .min_message_latency(Duration::from_millis(latency))
        .max_message_latency(Duration::from_millis(latency + jitter))
        .tcp_capacity(1 << 16);
    let mut sim = builder.build();

    set_driver_now(EPOCH_MS);
    let settings = settings(scenario, seed);
    let poll_hold_ms = settings.poll_hold_ms;
    let host = Host::new(
        HostConfig { settings, credentials: None, keep_journal: true, rate_limits: false },
        Arc::new(SimClock),
    );
    let faults = FaultTable::new(seed);
    let recorder = Recorder::default();
    let requests = Arc::new(AtomicU64::new(0));

    // Hosts are registered in a fixed order: service, operator, machines in plan order.
    {
        let edge =
            Edge { host: host.clone(), faults: faults.clone(), recorder: recorder.clone(), requests: requests.clone() };
        sim.host("service", move || {
            let edge = edge.clone();
            async move {
                let listener = turmoil::net::TcpListener::bind(("0.0.0.0", client::SERVICE.1)).await?;
                tokio::spawn(edge.host.clone().run_deadlines());
                loop {
                    let (stream, _) = listener.accept().await?;
                    let edge = edge.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |request| edge::handle(edge.clone(), request));
                        let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                    });
                }
            }
        });
    }

    let directory = Directory::default();
    let setup_done = Arc::new(AtomicBool::new(false));
    let (commands, command_rx) = mpsc::unbounded_channel();
    sim.client(
        "operator",
        operator::run(
            scenario.pipelines.clone(),
            scenario.operator.concurrency,
            directory.clone(),
            recorder.clone(),
            setup_done.clone(),
            command_rx,
        ),
    );

    let plan = world_plan::plan(scenario);
    let mut controls: BTreeMap<String, Arc<RunnerControl>> = BTreeMap::new();
    let mut by_machine: BTreeMap<String, Vec<RunnerCtx>> = BTreeMap::new();
    for (i, r) in plan.iter().enumerate() {
        let spec = &scenario.runners[r.spec];
        let control = RunnerControl::new(spec.behaviour.work_factor.unwrap_or(1.0));
        controls.insert(r.name.clone(), control.clone());
        let mut spec = spec.clone();
        if spec.count > 1 {
            // Spread a fleet's first connections over time: a burst of connects in one tick is
            // what real fleets avoid too.
            spec.start_at.0 += (i as u64 % 1000) * 2;
        }
        by_machine.entry(r.machine.clone()).or_default().push(RunnerCtx {
            name: r.name.clone(),
            spec,
            poll_hold_ms,
            control,
            recorder: recorder.clone(),
            seed: seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        });
    }
    for machine in world_plan::machines(&plan) {
        let runners = by_machine.remove(&machine).unwrap_or_default();
        sim.host(machine.as_str(), move || {
            let runners = runners.clone();
            async move {
                for ctx in runners {
                    tokio::spawn(runner::supervise(ctx));
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        });
    }

    let mut pending: Vec<Pending> = scenario
        .events
        .iter()
        .enumerate()
        .map(|(index, e)| match &e.at {
            At::Time(t) => Pending { index, at: Some(t.ms()), anchor: None, seen: 0, action: e.action.clone() },
            At::Anchor(a) => Pending { index, at: None, anchor: Some(a.clone()), seen: 0, action: e.action.clone() },
        })
        .collect();

    let mut journal = Vec::new();
    let mut observations = Vec::new();
    // Tasks each runner is working on, and how many runners work at all: kept incrementally
    // because the driver asks every step.
    let mut working: BTreeMap<String, u32> = BTreeMap::new();
    let mut busy_runners = 0usize;
    // Whether every instance may be over; only a terminal event can make it so.
    let mut maybe_done = false;
    let duration = scenario.duration.ms();
    let mut steps = 0;
    let mut finished_early = false;
    let mut progress = progress;
    loop {
        let now = sim.elapsed().as_millis() as u64;
        set_driver_now(EPOCH_MS + now);
        // Apply due events in (time, file order), before the step that starts at their time.
        if pending.iter().any(|p| p.at.is_some_and(|at| at <= now)) {
            let (mut due, rest): (Vec<Pending>, Vec<Pending>) =
                pending.into_iter().partition(|p| p.at.is_some_and(|at| at <= now));
            pending = rest;
            due.sort_by_key(|p| (p.at, p.index));
            for p in &due {
                let what = apply(&mut sim, &p.action, &plan, &controls, &commands, &faults, &host, &recorder);
                let disturbs = disturbed(&p.action, &plan);
                let late = p.at.is_some_and(|at| at < now);
                let what =
                    if late { format!("{what} (scheduled {}ms earlier)", now - p.at.unwrap_or(now)) } else { what };
                recorder.record_at(EPOCH_MS + now, None, SimEventKind::Applied { what, disturbs });
            }
            maybe_done = true;
        }
        if now >= duration {
            break;
        }
        if scenario.stop_when_done
            && maybe_done
            && steps > 0
            && busy_runners == 0
            && setup_done.load(Ordering::SeqCst)
            && !pending.iter().any(|p| p.at.is_some())
        {
            if host.with_core(|c| c.open_instances()) == 0 {
                finished_early = true;
                break;
            }
            maybe_done = false;
        }
        sim.step().map_err(|e| SimError(format!("simulation failed at +{now} ms: {e}")))?;
        steps += 1;
        let new_events = host.take_journal();
        maybe_done |= new_events.iter().any(|e| ends_instance(&e.kind));
        for p in pending.iter_mut().filter(|p| p.at.is_none()) {
            resolve(p, &new_events, EPOCH_MS);
        }
        journal.extend(new_events);
        for o in recorder.take() {
            if let Some(r) = &o.runner {
                let n = working.entry(r.clone()).or_default();
                let before = *n;
                match o.kind {
                    SimEventKind::StartsWork { .. } => *n += 1,
                    SimEventKind::StopsWork { .. } => *n = n.saturating_sub(1),
                    SimEventKind::Crashed => *n = 0,
                    _ => {}
                }
                match (before, *n) {
                    (0, 1..) => busy_runners += 1,
                    (1.., 0) => busy_runners -= 1,
                    _ => {}
                }
                maybe_done |= before > 0 && *n == 0;
            }
            observations.push(o);
        }
        if let Some(report) = progress.as_mut() {
            report(now, duration);
        }
    }
    observations.extend(recorder.take());
    journal.extend(host.take_journal());
    let instances = host.with_core(|c| c.instance_summaries());
    let lost = host.with_core(|c| c.lost_instances());
    let mut pipeline_names = BTreeMap::new();
    for p in &scenario.pipelines {
        for (name, id) in directory.copies(&p.name) {
            pipeline_names.insert(id, name);
        }
    }
    Ok(SimOutput {
        seed,
        journal,
        observations,
        end_ms: sim.elapsed().as_millis() as u64,
        finished_early,
        pipeline_names,
        instances,
        runners: plan,
        steps,
        requests: requests.load(Ordering::Relaxed),
        lost,
    })
}

/// The runners a timeline event keeps from hearing the service: those it cuts off, freezes,
/// slows down on the wire or crashes; all of them when the service itself goes down.
fn disturbed(action: &Action, plan: &[PlannedRunner]) -> Vec<String> {
    let on_machine = |m: &str| {
        let machine = world_plan::resolve_machine(plan, m).unwrap_or_else(|| m.to_string());
        plan.iter().filter(|r| r.machine == machine).map(|r| r.name.clone()).collect()
    };
    match action {
        Action::Partition { machine, .. }
        | Action::Repair { machine }
        | Action::Hold { machine }
        | Action::Release { machine }
        | Action::Latency { machine, .. }
        | Action::CrashMachine { machine }
        | Action::RestartMachine { machine } => on_machine(machine),
        Action::Pause { runner }
        | Action::Resume { runner }
        | Action::CrashRunner { runner }
        | Action::RestartRunner { runner } => vec![runner.clone()],
        Action::CrashService | Action::RestartService => plan.iter().map(|r| r.name.clone()).collect(),
        Action::Message(f) => match &f.runner {
            Some(r) => vec![r.clone()],
            None => plan.iter().map(|r| r.name.clone()).collect(),
        },
        Action::SlowWork { .. }
        | Action::Cancel { .. }
        | Action::Deactivate { .. }
        | Action::Activate { .. }
        | Action::Delete { .. }
        | Action::Terminate { .. } => Vec::new(),
    }
}

/// Events after which every instance might be over.
fn ends_instance(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Finished
            | EventKind::InstanceFailed
            | EventKind::CascadeFailed
            | EventKind::Canceled { .. }
            | EventKind::MarkedFinished
            | EventKind::Deleted
            | EventKind::Activated { .. }
    )
}

/// Finds an anchored event's moment in newly journaled events.
fn resolve(p: &mut Pending, events: &[Event], epoch: u64) {
    let Some(anchor) = &p.anchor else { return };
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
            p.at = Some(at.saturating_sub(epoch));
            return;
        }
    }
}

/// The component id of an instance id `@<component>_<YYYY-MM-DDTHH:MM:SS>[_<n>]`.
pub fn component_of(instance_id: &str) -> &str {
    let rest = instance_id.strip_prefix('@').unwrap_or(instance_id);
    let is_time = |t: &[u8]| {
        t.len() >= 19
            && t[..19].iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            })
    };
    // Component ids may contain '_' and digits: take the last '_' that starts a timestamp.
    let bytes = rest.as_bytes();
    for (i, _) in rest.match_indices('_').collect::<Vec<_>>().into_iter().rev() {
        if is_time(&bytes[i + 1..]) {
            return &rest[..i];
        }
    }
    rest
}

#[allow(clippy::too_many_arguments)]
fn apply(
    sim: &mut turmoil::Sim<'_>,
    action: &Action,
    plan: &[PlannedRunner],
    controls: &BTreeMap<String, Arc<RunnerControl>>,
    commands: &mpsc::UnboundedSender<Command>,
    faults: &FaultTable,
    host: &Host,
    recorder: &Recorder,
) -> String {
    let machine = |name: &str| world_plan::resolve_machine(plan, name).unwrap_or_else(|| name.to_string());
    let runners_on = |m: &str| plan.iter().filter(|r| r.machine == m).map(|r| r.name.clone()).collect::<Vec<_>>();
    let control = |r: &str| controls.get(r).expect("validated runner name");
    match action {
        Action::Partition { machine: m, direction } => {
            let m = machine(m);
            match direction {
                Direction::Both => sim.partition(m.as_str(), "service"),
                Direction::ToService => sim.partition_oneway(m.as_str(), "service"),
                Direction::FromService => sim.partition_oneway("service", m.as_str()),
            }
            let how = match direction {
                Direction::Both => "both ways",
                Direction::ToService => "messages to the service lost",
                Direction::FromService => "messages from the service lost",
            };
            format!("partition {m} ({how})")
        }
        Action::Repair { machine: m } => {
            let m = machine(m);
            sim.repair(m.as_str(), "service");
            format!("repair {m}")
        }
        Action::Hold { machine: m } => {
            let m = machine(m);
            sim.hold(m.as_str(), "service");
            format!("hold {m}")
        }
        Action::Release { machine: m } => {
            let m = machine(m);
            sim.release(m.as_str(), "service");
            format!("release {m}")
        }
        Action::Latency { machine: m, latency } => {
            let m = machine(m);
            sim.set_link_latency(m.as_str(), "service", Duration::from_millis(latency.ms()));
            format!("latency {m} {latency}")
        }
        Action::CrashMachine { machine: m } => {
            let m = machine(m);
            sim.crash(m.as_str());
            for r in runners_on(&m) {
                recorder.record(Some(&r), SimEventKind::Crashed);
            }
            format!("crash machine {m}")
        }
        Action::RestartMachine { machine: m } => {
            let m = machine(m);
            sim.bounce(m.as_str());
            for r in runners_on(&m) {
                recorder.record(Some(&r), SimEventKind::Restarted);
            }
            format!("restart machine {m}")
        }
        Action::CrashService => {
            sim.crash("service");
            "crash service".into()
        }
        Action::RestartService => {
            sim.bounce("service");
            "restart service".into()
        }
        Action::Message(f) => {
            faults.install(f.clone());
            let mut what = format!("message fault: {}", edge::describe(&f.effect));
            for (k, v) in [("on", &f.operation), ("from", &f.runner), ("about", &f.task)] {
                if let Some(v) = v {
                    what += &format!(" {k} {v}");
                }
            }
            if f.occurrence > 1 {
                what += &format!(", from match #{}", f.occurrence);
            }
            if f.count > 1 {
                what += &format!(", {} times", f.count);
            }
            what
        }
        Action::Pause { runner } => {
            control(runner).paused.send_replace(true);
            format!("pause {runner}")
        }
        Action::Resume { runner } => {
            control(runner).paused.send_replace(false);
            format!("resume {runner}")
        }
        Action::CrashRunner { runner } => {
            control(runner).down.send_replace(true);
            format!("crash runner {runner}")
        }
        Action::RestartRunner { runner } => {
            control(runner).down.send_replace(false);
            recorder.record(Some(runner), SimEventKind::Restarted);
            format!("restart runner {runner}")
        }
        Action::SlowWork { runner, factor } => {
            *control(runner).work_factor.lock().unwrap_or_else(|p| p.into_inner()) = *factor;
            format!("slow work {runner} x{factor}")
        }
        Action::Cancel { task, pipeline } => {
            let _ = commands.send(Command::Cancel { task: task.clone(), pipeline: pipeline.clone() });
            format!("TRY_CANCEL {task}")
        }
        Action::Deactivate { pipeline, cancel_active } => {
            let _ = commands.send(Command::Deactivate { pipeline: pipeline.clone(), cancel_active: *cancel_active });
            format!("deactivate {pipeline} cancelActive={cancel_active}")
        }
        Action::Activate { pipeline } => {
            let _ = commands.send(Command::Activate { pipeline: pipeline.clone() });
            format!("activate {pipeline}")
        }
        Action::Delete { pipeline } => {
            let _ = commands.send(Command::Delete { pipeline: pipeline.clone() });
            format!("delete {pipeline}")
        }
        Action::Terminate { runner } => {
            host.with_core(|c| c.request_terminate(runner));
            format!("terminate {runner} at its next heartbeat")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::component_of;

    #[test]
    fn component_ids_come_out_of_instance_ids() {
        assert_eq!(component_of("@Copy_2026-01-01T00:00:00"), "Copy");
        assert_eq!(component_of("@Copy_2026-01-01T00:00:00_20"), "Copy");
        assert_eq!(component_of("@My_Copy_2_2026-01-01T00:00:00_523"), "My_Copy_2");
        assert_eq!(component_of("weird"), "weird");
    }
}
