//! Applying one timeline event to the world at its exact simulated instant.

use std::time::Duration;

use crate::scenario::model::{Action, Direction};
use crate::scenario::world_plan::{resolve_machine, runners_hit};
use crate::time::Millis;
use crate::trace::ObservationKind;

use super::operator::Command;
use super::world::World;
use crate::faults::describe_fault;

/// The runners an event keeps from hearing the service: those it cuts off, freezes, slows
/// down on the wire or crashes; every runner when the service itself goes down; the named
/// runner of a message fault (a fault that names none disturbs only the calls it hits, which
/// the edge records). Checks use it to tell a runner that could not learn from one that would not.
pub fn disturbed(world: &World, action: &Action) -> Vec<String> {
    match action {
        Action::SlowWork { .. } | Action::Terminate { .. } => Vec::new(),
        _ => runners_hit(&world.plan, action.target()),
    }
}

/// Applies `action` at `now` (absolute simulated ms) and says what was done, in words.
pub fn apply(world: &mut World, action: &Action, now: Millis) -> String {
    let machine = |name: &str| resolve_machine(&world.plan, name).unwrap_or_else(|| name.to_string());
    let runners_on = |w: &World, m: &str| runners_hit(&w.plan, crate::scenario::model::Target::Machine(m));
    let sim = &mut world.sim;
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
            let runners = runners_on(world, &m);
            // Marked down first, so work guards dropped with the machine stay silent.
            for r in &runners {
                world.controls[r].set_down(true);
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
            for r in &runners {
                world.controls[r].set_down(false);
            }
            world.sim.bounce(m.as_str());
            for r in &runners {
                world.recorder.record_at(now, Some(r), ObservationKind::Restarted);
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
            world.faults.install(f.clone());
            describe_fault(f)
        }
        Action::Pause { runner } => {
            world.controls[runner].pause(now);
            format!("pause {runner}")
        }
        Action::Resume { runner } => {
            world.controls[runner].resume(now);
            format!("resume {runner}")
        }
        Action::CrashRunner { runner } => {
            world.controls[runner].set_down(true);
            format!("crash runner {runner}")
        }
        Action::RestartRunner { runner } => {
            world.controls[runner].set_down(false);
            world.recorder.record_at(now, Some(runner), ObservationKind::Restarted);
            format!("restart runner {runner}")
        }
        Action::SlowWork { runner, factor } => {
            world.controls[runner].set_work_factor(*factor);
            format!("slow work {runner} x{factor}")
        }
        Action::Cancel { task, pipeline } => {
            let _ = world.commands.send(Command::Cancel { task: task.clone(), pipeline: pipeline.clone() });
            format!("TRY_CANCEL {task}")
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
