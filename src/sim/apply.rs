//! Applying one timeline event to the world at its exact simulated instant.

use std::time::Duration;

use crate::scenario::model::{Action, Direction, HarnessBug};
use crate::scenario::world_plan::{SERVICE_HOST, resolve_machine, runners_hit};
use crate::time::Millis;
use crate::trace::{FaultOrigin, ObservationKind};

use super::operator::Command;
use super::world::World;
use crate::faults::describe_fault;

/// The runners an event keeps from hearing the service: those it cuts off, slows down on the
/// wire or crashes; every runner when the service itself goes down. A message fault disturbs
/// no one by being installed: the edge records each call it hits, with whose call it was, and
/// only those runners are disturbed. Checks use it to tell a runner that could not learn from
/// one that would not.
pub fn disturbed(world: &World, action: &Action) -> Vec<String> {
    match action {
        // A pause is not an excuse: the time frozen is not counted as zombie work at all.
        Action::SlowWork { .. }
        | Action::Terminate { .. }
        | Action::Pause { .. }
        | Action::Resume { .. }
        | Action::Message(_) => Vec::new(),
        _ => runners_hit(&world.plan, action.target()),
    }
}

/// Applies `action` at `now` (absolute simulated ms) and says what was done, in words.
pub fn apply(world: &mut World, index: usize, action: &Action, now: Millis) -> String {
    let machine = |name: &str| resolve_machine(&world.plan, name).unwrap_or_else(|| name.to_string());
    let runners_on = |w: &World, m: &str| runners_hit(&w.plan, crate::scenario::model::Target::Machine(m));
    let jitter_ms = world.jitter_ms;
    let sim = &mut world.sim;
    match action {
        Action::Partition { machine: m, direction, refuse } => {
            let m = machine(m);
            let how = match (direction, refuse) {
                (Direction::Both, false) => {
                    // turmoil drops a partitioned link's messages, and with a dropped SYN the
                    // connect fails at once. Holding them instead keeps every packet from
                    // arriving, so connects and calls time out, as in a real partition; the
                    // repair leaves them undelivered.
                    sim.hold(m.as_str(), SERVICE_HOST);
                    world.silent.insert(m.clone());
                    "both ways, silent: packets dropped, calls time out"
                }
                (Direction::Both, true) => {
                    sim.partition(m.as_str(), SERVICE_HOST);
                    "both ways, refused: connects fail at once"
                }
                (Direction::ToService, _) => {
                    sim.partition_oneway(m.as_str(), SERVICE_HOST);
                    "messages to the service lost; new connects refused at once"
                }
                (Direction::FromService, _) => {
                    sim.partition_oneway(SERVICE_HOST, m.as_str());
                    "messages from the service lost"
                }
            };
            format!("partition {m} ({how})")
        }
        Action::Repair { machine: m } => {
            let m = machine(m);
            if !world.silent.remove(&m) {
                // Messages a `hold` kept are delivered: a repaired link carries what waited on it.
                sim.release(m.as_str(), SERVICE_HOST);
            }
            sim.repair(m.as_str(), SERVICE_HOST);
            format!("repair {m}")
        }
        Action::Hold { machine: m } => {
            let m = machine(m);
            sim.hold(m.as_str(), SERVICE_HOST);
            format!("hold {m}")
        }
        Action::Release { machine: m } => {
            let m = machine(m);
            sim.release(m.as_str(), SERVICE_HOST);
            format!("release {m}")
        }
        Action::Latency { machine: m, latency } => {
            let m = machine(m);
            // The new latency is the link's floor; the scenario's jitter still adds to it.
            let floor = Duration::from_millis(latency.ms());
            sim.set_link_latency(m.as_str(), SERVICE_HOST, floor);
            sim.set_link_max_message_latency(m.as_str(), SERVICE_HOST, floor + Duration::from_millis(jitter_ms));
            format!("latency {m} {latency}")
        }
        Action::CrashMachine { machine: m } => {
            let m = machine(m);
            let runners = runners_on(world, &m);
            // Marked down first, so work guards dropped with the machine stay silent.
            for r in &runners {
                world.controls[r].crash();
            }
            world.sim.crash(m.as_str());
            for r in &runners {
                world.recorder.record_at(now, Some(r), ObservationKind::Crashed);
            }
            format!("crash machine {m}")
        }
        Action::RestartMachine { machine: m } => {
            let m = machine(m);
            let runners = runners_on(world, &m);
            // A machine that is running is killed and started afresh: its runners crash first.
            let running: Vec<&String> = runners.iter().filter(|r| !world.controls[*r].is_down()).collect();
            for r in &running {
                world.controls[*r].crash();
            }
            world.sim.bounce(m.as_str());
            for r in &running {
                world.recorder.record_at(now, Some(r), ObservationKind::Crashed);
            }
            for r in &runners {
                world.controls[r].restart();
                world.recorder.record_at(now, Some(r), ObservationKind::Restarted);
            }
            format!("restart machine {m}")
        }
        Action::CrashService => {
            sim.crash(SERVICE_HOST);
            "crash service".into()
        }
        Action::RestartService => {
            sim.bounce(SERVICE_HOST);
            "restart service".into()
        }
        Action::Message(f) => {
            let mut installed = f.clone();
            if world.harness_bug == Some(HarnessBug::FaultOnFirstRunnerOfMachine)
                && let Some(named) = &f.runner
                && let Some(machine) = resolve_machine(&world.plan, named)
                && let Some(first) = world.plan.iter().find(|r| r.machine == machine)
            {
                // The planted harness bug: the name goes through the machine.
                installed.runner = Some(first.name.clone());
            }
            world.faults.install(installed, now, FaultOrigin::Event(index));
            describe_fault(f)
        }
        Action::Pause { runner } => {
            world.controls[runner].pause(now);
            world.recorder.record_at(now, Some(runner), ObservationKind::Frozen);
            format!("pause {runner}")
        }
        Action::Resume { runner } => {
            world.controls[runner].resume(now);
            world.recorder.record_at(now, Some(runner), ObservationKind::Thawed);
            format!("resume {runner}")
        }
        Action::CrashRunner { runner } => {
            world.controls[runner].crash();
            format!("crash runner {runner}")
        }
        Action::RestartRunner { runner } => {
            // A running process is killed and started afresh.
            if world.controls[runner].restart() {
                world.recorder.record_at(now, Some(runner), ObservationKind::Crashed);
            }
            world.recorder.record_at(now, Some(runner), ObservationKind::Restarted);
            format!("restart runner {runner}")
        }
        Action::SlowWork { runner, factor } => {
            world.controls[runner].set_work_factor(*factor);
            format!("slow work {runner} x{factor}")
        }
        Action::Cancel { .. } | Action::Rerun { .. } | Action::PauseActivity { .. } | Action::ResumeActivity { .. } => {
            let (change, task, pipeline) = action.set_status().expect("a SetStatus event");
            let command = Command::SetStatus { change, task: task.to_string(), pipeline: pipeline.map(str::to_string) };
            let _ = world.commands.send(command);
            format!("{} {task}{}", change.as_str(), pipeline.map(|p| format!(" in {p}")).unwrap_or_default())
        }
        Action::Deactivate { pipeline, cancel_active } => {
            let _ =
                world.commands.send(Command::Deactivate { pipeline: pipeline.clone(), cancel_active: *cancel_active });
            format!("deactivate {pipeline} cancelActive={cancel_active}")
        }
        Action::Activate { pipeline } => {
            let _ = world.commands.send(Command::Activate { pipeline: pipeline.clone() });
            format!("activate {pipeline}")
        }
        Action::Delete { pipeline } => {
            let _ = world.commands.send(Command::Delete { pipeline: pipeline.clone() });
            format!("delete {pipeline}")
        }
        Action::Terminate { runner } => {
            world.host.with_core(|c| c.request_terminate(runner));
            format!("terminate {runner} at its next heartbeat")
        }
    }
}
