//! `dpsim verify`: bounded proofs on the small shipped scenarios, deep broken modes that need two
//! precisely placed faults (found by verify with two faults, not with one, and not by a chaos
//! sweep of 200 seeds of the same base), determinism across threads, and sound pruning.

use std::path::Path;

use dpsim::check::Invariant;
mod common;

use dpsim::Simulation;
use dpsim::chaos::sweep;
use dpsim::runner::Programs;
use dpsim::scenario::{Scenario, load_file, parse};
use dpsim::verify::{Options, verify};

fn scenario(name: &str) -> Scenario {
    load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.json"))).unwrap()
}

/// The base with a broken service rule (`service.bug`).
fn with_bug(base: &Scenario, bug: &str) -> Scenario {
    base.with([format!("service.bug={bug}")]).unwrap()
}

/// The broken modes that need two precisely placed faults.
const DEEP: [&str; 4] = [
    "second_handout_never_expires",
    "ack_at_deadline_arms_no_timer",
    "reassigned_ack_grace",
    "retry_ack_on_progress_timeout",
];

/// The base with these events added.
fn with_events(base: &Scenario, events: &[&str]) -> Scenario {
    common::edited(base, |s| {
        for e in events {
            s["events"].as_array_mut().unwrap().push(serde_json::from_str(e).unwrap());
        }
    })
}

fn options(faults: usize) -> Options {
    Options { faults, jobs: 2, ..Options::default() }
}

#[test]
fn small_scenarios_are_verified_clean_with_two_faults() {
    // The two-runner ones (ack-at-deadline: 9,171 plans; duplicate-status-on-shared-machine:
    // 6,389) take most of a minute in a debug build: `cargo bench --bench verify` proves
    // ack-at-deadline with two faults and fails if it does not.
    for name in ["happy-path", "try-cancel-while-running"] {
        let r = verify(&scenario(name), &Programs::default(), &options(2));
        println!("{name}: {}", r.verdict);
        assert!(r.proved(), "{name}: {}\n{:?}", r.verdict, r.counterexample.map(|c| c.labels));
        assert_eq!(r.levels.len(), 3, "{name}: plans of 0, 1 and 2 faults");
        assert!(r.levels[2].run > r.levels[1].run, "{name}: two-fault plans were run: {:?}", r.levels);
        assert_eq!(r.considered, r.run + r.pruned.total());
    }
}

/// Each deep broken mode: no plan of one fault shows it; a plan of two does, as a standalone
/// scenario that breaks the same invariant when run on its own; and a chaos sweep of seeds
/// 0..200 over the same base breaks no invariant at all (only the base's expectations, which
/// faults break on the correct service too).
#[test]
fn deep_broken_modes_need_two_precise_faults_and_chaos_misses_them() {
    let correct = scenario("happy-path");
    let invariants_broken = |outcomes: &[dpsim::chaos::SeedOutcome]| -> Vec<(u64, Invariant)> {
        outcomes
            .iter()
            .flat_map(|o| {
                o.violations
                    .iter()
                    .filter(|v| v.invariant != Invariant::Expectation)
                    .map(move |v| (o.seed, v.invariant))
            })
            .collect()
    };
    for bug in DEEP {
        let base = with_bug(&correct, bug);
        let one = verify(&base, &Programs::default(), &options(1));
        assert!(one.proved(), "{bug:?} shows with one fault: {:?}", one.counterexample.map(|c| c.labels));
        let two = verify(&base, &Programs::default(), &options(2));
        let c = two.counterexample.unwrap_or_else(|| panic!("verify --faults 2 missed {bug:?}: {}", two.verdict));
        assert_eq!(c.faults.len(), 2, "{bug:?}");
        let invariant = c.violations[0].invariant;
        let again = parse(&c.scenario.to_file_text()).expect("the counterexample is a valid scenario");
        let v = Simulation::new(again).run().unwrap().violations;
        assert!(v.iter().any(|v| v.invariant == invariant), "{bug:?}: the file does not break {invariant}");
        let chaos = sweep(&base, 0..200, 2, &Programs::default(), &|| {});
        let found = invariants_broken(&chaos);
        println!(
            "{bug:?}: verify --faults 2 breaks {invariant} after {} plans with [{}]; chaos over 200 seeds breaks {found:?}",
            two.run,
            c.labels.join("; ")
        );
        assert!(found.is_empty(), "{bug:?} is not deep: chaos finds it at {found:?}");
    }
}

#[test]
fn the_result_does_not_depend_on_threads() {
    let base = with_bug(&scenario("happy-path"), "second_handout_never_expires");
    for s in [scenario("try-cancel-while-running"), base] {
        let one = verify(&s, &Programs::default(), &Options { faults: 2, jobs: 1, ..Options::default() });
        let two = verify(&s, &Programs::default(), &Options { faults: 2, jobs: 2, ..Options::default() });
        assert_eq!(serde_json::to_string(&one).unwrap(), serde_json::to_string(&two).unwrap());
    }
}

/// State hashing only skips plans that behave like one already run: with it off, more plans
/// run, and they reach exactly the same distinct end states.
#[test]
fn state_hashing_loses_no_distinct_behaviour() {
    // The second base has a message fault of its own on runner-a's acknowledgement: a plan's
    // fault on that same call is taken by it, and must not move on to the next report (which
    // would be a pending effect the state cannot see).
    let held = with_events(
        &scenario("try-cancel-while-running"),
        &[
            r#"{"at": "0s", "do": {"kind": "message", "operation": "ReportTaskProgress", "runner": "runner-a", "effect": {"type": "delay", "by": "1s"}}}"#,
        ],
    );
    for s in [scenario("try-cancel-while-running"), held] {
        let pruned = verify(&s, &Programs::default(), &options(2));
        let full = verify(&s, &Programs::default(), &Options { prune: false, ..options(2) });
        assert!(pruned.pruned.same_state > 0, "{:?}", pruned.levels);
        assert!(full.run > pruned.run);
        assert_eq!(pruned.distinct_states, full.distinct_states);
        assert_eq!(pruned.proved(), full.proved());
    }
}

/// Faults are named by what they hit: in the plan's file, a message fault names the runner,
/// the operation and which of its calls; the others strike at the moment after a call.
#[test]
fn plans_are_standalone_scenarios_named_by_their_targets() {
    let base = with_bug(&scenario("happy-path"), "reassigned_ack_grace");
    let r = verify(&base, &Programs::default(), &options(2));
    let c = r.counterexample.expect("found");
    let text = c.scenario.to_file_text();
    assert!(text.contains("\"operation\": \"ReportTaskProgress\""), "{text}");
    assert!(text.contains("\"runner\": \"runner-a\""), "{text}");
    assert!(text.contains("\"occurrence\": 2"), "{text}");
    assert!(c.labels.iter().all(|l| l.contains("runner-a")), "{:?}", c.labels);
}

/// "The 3rd report" stays the 3rd report whatever befell the 2nd: two faults on one runner's
/// calls of one operation each hit the call they name, even when the other takes a call first.
#[test]
fn faults_named_by_their_call_hit_that_call_whatever_hit_the_one_before() {
    let faults = [2, 3].map(|occurrence| {
        format!(
            r#"{{"at": "0s", "do": {{"kind": "message", "operation": "ReportTaskProgress", "runner": "runner-a", "occurrence": {occurrence}, "effect": {{"type": "drop_response"}}}}}}"#
        )
    });
    let s = with_events(&scenario("happy-path"), &faults.each_ref().map(String::as_str));
    let (_, trace) = dpsim::simulation::Simulation::new(s).run_traced(None).unwrap();
    let reports: Vec<bool> = trace
        .calls
        .iter()
        .filter(|c| c.operation.as_str() == "ReportTaskProgress" && !c.duplicate)
        .map(|c| c.delivered)
        .collect();
    assert_eq!(&reports[..4], &[true, false, false, true], "{reports:?}");
}

/// State hashes and fingerprints that shards write are the same on every machine and
/// toolchain: SHA-256 over bytes dpsim encodes itself (see `src/verify/stable_hash.rs`). This
/// pins the hash of `happy-path`'s fault-free end state and the base's fingerprint; a change
/// here means shards of this version no longer merge with those of the last one, so it
/// must be deliberate (a change of the simulation's behaviour, which the snapshots show too).
#[test]
fn a_verify_state_hash_is_pinned() {
    let r = verify(
        &scenario("happy-path"),
        &Programs::default(),
        &Options { faults: 0, shard: Some((0, 1)), ..options(0) },
    );
    let part = r.shard.expect("a shard part");
    assert_eq!(part.states, ["9f7877b5f0f0e6e6"]);
    assert!(part.search.contains("base 992a3fe85e3c9031,"), "{}", part.search);
}
