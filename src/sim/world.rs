//! Building the turmoil world of a scenario: the service host behind its edge, the operator,
//! and the runner machines, each runner a program on the public runner API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, UNIX_EPOCH};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

use crate::runner::control::RunnerControl;
use crate::runner::env::{EnvInner, RunnerEnv};
use crate::runner::process::supervise;
use crate::runner::programs::{BUILTIN, Programs};
use crate::scenario::model::Scenario;
use crate::scenario::settings;
use crate::scenario::world_plan::{self, OPERATOR_HOST, PlannedRunner, SERVICE_HOST};
use crate::wire::{Host, HostConfig};

use super::SimError;
use super::clock::{self, EPOCH_MS, SimClock};
use super::edge::Edge;
use super::operator::{self, Command, Directory};
use crate::faults::{EdgeCtx, FaultTable};
use crate::trace::Recorder;

/// A built world and the handles the driver steers it by.
pub struct World<'a> {
    /// The turmoil simulation.
    pub sim: turmoil::Sim<'a>,
    /// The service.
    pub host: Host,
    /// Message faults in force at the service's edge.
    pub faults: FaultTable,
    /// Where hosts record observations.
    pub recorder: Recorder,
    /// HTTP requests the edge received.
    pub requests: Arc<AtomicU64>,
    /// Pipeline ids by scenario name.
    pub directory: Directory,
    /// Set once every pipeline is created, defined and activated.
    pub setup_done: Arc<AtomicBool>,
    /// Control-plane events for the operator.
    pub commands: mpsc::UnboundedSender<Command>,
    /// Each runner's levers.
    pub controls: BTreeMap<String, Arc<RunnerControl>>,
    /// The runners and their machines.
    pub plan: Vec<PlannedRunner>,
    /// The network's random extra latency, kept when a link's latency changes.
    pub jitter_ms: u64,
    /// Machines cut off by a silent partition: on repair, what was sent meanwhile stays lost.
    pub silent: std::collections::BTreeSet<String>,
    /// The harness's planted broken step, if the scenario asks for one.
    pub harness_bug: Option<crate::scenario::model::HarnessBug>,
}

/// Builds the world of a scenario with a seed, running runners' programs from `programs`.
pub fn build<'a>(scenario: &Scenario, seed: u64, programs: &Programs) -> Result<World<'a>, SimError> {
    let tick = scenario.tick.ms();
    let latency = scenario.network.latency.map_or(0, |d| d.ms());
    let jitter = scenario.network.jitter.map_or(0, |d| d.ms());
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_millis(EPOCH_MS))
        .tick_duration(Duration::from_millis(tick))
        .simulation_duration(Duration::from_millis(scenario.duration.ms().saturating_add(tick.saturating_mul(4))))
        .min_message_latency(Duration::from_millis(latency))
        .max_message_latency(Duration::from_millis(latency.saturating_add(jitter)))
        .tcp_capacity(1 << 16);
    let mut sim = builder.build();

    clock::begin_run();
    // A whole run executes on this thread: seeding fastrand's thread-local generator pins the
    // SDK's retry jitter (and anything else drawing from it) to the scenario seed.
    fastrand::seed(seed ^ 0x5eed_fa57);
    let settings = settings(scenario, seed);
    let poll_hold_ms = settings.poll_hold_ms;
    let host = Host::new(
        HostConfig { settings, credentials: None, keep_journal: true, rate_limits: false, journal_limit: None },
        Arc::new(SimClock),
    );
    let faults = FaultTable::new(seed);
    let recorder = Recorder::new(Arc::new(SimClock));
    let requests = Arc::new(AtomicU64::new(0));

    // Hosts are registered in a fixed order: service, operator, machines in plan order.
    {
        let ctx = EdgeCtx { host: host.clone(), faults: faults.clone(), recorder: recorder.clone(), origin: EPOCH_MS };
        let edge = Edge { ctx, requests: requests.clone() };
        sim.host(SERVICE_HOST, move || {
            let edge = edge.clone();
            async move {
                let listener = turmoil::net::TcpListener::bind(("0.0.0.0", crate::runner::client::SERVICE.1)).await?;
                let mut tasks = tokio::task::JoinSet::new();
                tasks.spawn_local(edge.ctx.host.clone().run_deadlines());
                loop {
                    tokio::select! {
                        biased;
                        accepted = listener.accept() => {
                            let (stream, _) = accepted?;
                            let edge = edge.clone();
                            tasks.spawn_local(async move {
                                let service = service_fn(move |request| super::edge::handle(edge.clone(), request));
                                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                            });
                        }
                        Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                            if let Err(e) = done
                                && e.is_panic()
                            {
                                return Err(format!("the service panicked: {}", panic_text(e)).into());
                            }
                        }
                    }
                }
            }
        });
    }

    let directory = Directory::default();
    let setup_done = Arc::new(AtomicBool::new(false));
    let (commands, command_rx) = mpsc::unbounded_channel();
    sim.client(
        OPERATOR_HOST,
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
    let mut controls = BTreeMap::new();
    let mut by_machine: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (i, r) in plan.iter().enumerate() {
        let spec = &scenario.runners[r.spec];
        let name = spec.program.as_deref().unwrap_or(BUILTIN);
        let program = programs.get(name).cloned().ok_or_else(|| {
            SimError(format!("runners[{}].program: no runner program is registered as {name:?}", r.spec))
        })?;
        let control = RunnerControl::new(spec.behaviour.work_factor.unwrap_or(1.0));
        controls.insert(r.name.clone(), control.clone());
        let mut spec = spec.clone();
        if spec.count > 1 {
            // Spread a fleet's first connections over time: a burst of connects in one tick is
            // what real fleets avoid too.
            spec.start_at.0 += (i as u64 % 1000) * 2;
        }
        let env = RunnerEnv {
            inner: Arc::new(EnvInner {
                name: r.name.clone(),
                spec,
                poll_hold_ms,
                seed: seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                control,
                recorder: recorder.clone(),
                network: None,
            }),
        };
        by_machine.entry(r.machine.clone()).or_default().push((program, env));
    }
    for machine in world_plan::machines(&plan) {
        let runners = by_machine.remove(&machine).unwrap_or_default();
        let host_name = machine.clone();
        sim.host(machine.as_str(), move || {
            let runners = runners.clone();
            let machine = host_name.clone();
            async move {
                let mut processes = tokio::task::JoinSet::new();
                for (program, env) in runners {
                    let name = env.name().to_string();
                    processes.spawn_local(async move {
                        supervise(program, env).await;
                        name
                    });
                }
                // A program that panics fails the run, naming its runner (tokio would keep
                // the panic in a join handle nobody reads).
                while let Some(ended) = processes.join_next().await {
                    if let Err(e) = ended
                        && e.is_panic()
                    {
                        return Err(format!("a runner program on {machine} panicked: {}", panic_text(e)).into());
                    }
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        });
    }
    Ok(World {
        sim,
        host,
        faults,
        recorder,
        requests,
        directory,
        setup_done,
        commands,
        controls,
        plan,
        jitter_ms: jitter,
        silent: Default::default(),
        harness_bug: scenario.harness.bug,
    })
}

/// The message of a task's panic, if it had one.
fn panic_text(e: tokio::task::JoinError) -> String {
    let payload = e.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}
