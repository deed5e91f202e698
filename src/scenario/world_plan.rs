//! How a scenario's runner entries become named runners placed on machine hosts.
//!
//! turmoil's cost per step grows fast with the number of hosts, so fleets share a few machine
//! hosts: a fleet of N runners over M machines puts runner i on machine i mod M.

use super::model::{RunnerSpec, Scenario, Target};

/// The simulated service's host.
pub const SERVICE_HOST: &str = "service";
/// The operator's host (it creates, defines and activates the pipelines).
pub const OPERATOR_HOST: &str = "operator";
/// Host names no runner's machine may take.
pub const RESERVED_HOSTS: [&str; 2] = [SERVICE_HOST, OPERATOR_HOST];

/// Most machines a fleet gets when it does not say.
pub const DEFAULT_FLEET_MACHINES: u32 = 10;

pub use crate::trace::PlannedRunner;

/// The names of an entry's runners.
pub fn runner_names(spec: &RunnerSpec) -> Vec<String> {
    if spec.count == 1 {
        vec![spec.name.clone()]
    } else {
        (1..=spec.count).map(|i| format!("{}-{i}", spec.name)).collect()
    }
}

/// The machines an entry's runners run on.
pub fn machine_names(spec: &RunnerSpec) -> Vec<String> {
    if let Some(m) = &spec.machine {
        return vec![m.clone()];
    }
    if spec.count == 1 {
        return vec![format!("{}-host", spec.name)];
    }
    let m = spec.machines.unwrap_or(spec.count.min(DEFAULT_FLEET_MACHINES)).min(spec.count);
    (1..=m).map(|i| format!("{}-m{i}", spec.name)).collect()
}

/// Every runner of the scenario, in file order.
pub fn plan(scenario: &Scenario) -> Vec<PlannedRunner> {
    let mut out = Vec::new();
    for (spec_index, spec) in scenario.runners.iter().enumerate() {
        let machines = machine_names(spec);
        for (i, name) in runner_names(spec).into_iter().enumerate() {
            out.push(PlannedRunner { name, machine: machines[i % machines.len()].clone(), spec: spec_index });
        }
    }
    out
}

/// Every machine, in first-use order.
pub fn machines(plan: &[PlannedRunner]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in plan {
        if !out.contains(&r.machine) {
            out.push(r.machine.clone());
        }
    }
    out
}

/// The machine a name refers to: a machine, or the machine of the runner with that name.
pub fn resolve_machine(plan: &[PlannedRunner], name: &str) -> Option<String> {
    if plan.iter().any(|r| r.machine == name) {
        return Some(name.to_string());
    }
    plan.iter().find(|r| r.name == name).map(|r| r.machine.clone())
}

/// The runners a target names: every runner on a machine, one runner, every runner for the
/// service itself; none for pipelines, or for message faults that name no runner (those hit
/// whichever calls match, and the edge records which).
pub fn runners_hit(plan: &[PlannedRunner], target: Target<'_>) -> Vec<String> {
    match target {
        Target::Machine(m) => {
            let machine = resolve_machine(plan, m).unwrap_or_else(|| m.to_string());
            plan.iter().filter(|r| r.machine == machine).map(|r| r.name.clone()).collect()
        }
        Target::Runner(r) | Target::Messages(Some(r)) => vec![r.to_string()],
        Target::Service => plan.iter().map(|r| r.name.clone()).collect(),
        Target::Messages(None) | Target::Pipeline(_) => Vec::new(),
    }
}
