//! What a user's `#[test]` calls (`dpsim::testing`): a failing run panics with its log, its
//! failures, where the timeline page went and a one-line repro; a chaos test shrinks its
//! failing seed into a scenario file that fails on its own; explore and the timeline page are
//! one call each. The README's Rust recipe (examples/user-crate) is built outside the
//! repository by `.ci/user-crate`.

#[allow(dead_code)]
#[path = "../examples/buggy_runner.rs"]
mod buggy_runner;

#[allow(dead_code)]
#[path = "../examples/sdk_runner.rs"]
mod sdk_runner;

use std::path::{Path, PathBuf};

use dpsim::simulation::Simulation;

fn sim(path: &str) -> Simulation {
    Simulation::from_file(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap()
        .program("buggy-runner", buggy_runner::buggy_runner)
        .program("my-runner", sdk_runner::my_runner)
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload.downcast_ref::<String>().cloned().or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("testing-api").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_failing_run_test_panics_with_log_failures_timeline_and_repro() {
    let out = scratch("run");
    // SAFETY of set_var: this test binary's other tests read no DPSIM_ variable at the same time.
    unsafe { std::env::set_var("DPSIM_OUT", &out) };
    // The shipped scenario expects the violation; a user's test would not.
    let scenario =
        sim("examples/scenarios/buggy-runner-canceled.json").scenario().with(["expect_violations=[]"]).unwrap();
    let buggy =
        Simulation::new(scenario).name("buggy-runner-canceled").program("buggy-runner", buggy_runner::buggy_runner);
    let seed = buggy.effective_seed();
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| buggy.run_test()));
    unsafe { std::env::remove_var("DPSIM_OUT") };
    let message = panic_text(failed.expect_err("the buggy runner fails its scenario"));
    assert!(message.contains("stale call"), "the ownership log: {message}");
    assert!(message.contains("zombie_bound"), "the broken invariant: {message}");
    assert!(
        message.contains(&format!(
            "repro: DPSIM_SEED={seed} cargo test --test testing_api -- --exact a_failing_run_test_panics_with_log_failures_timeline_and_repro"
        )),
        "{message}"
    );
    let page = out.join(format!("buggy-runner-canceled-seed-{seed}.html"));
    assert!(message.contains(&format!("report page: {}#v=0", page.display())), "{message}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<canvas id=\"lanes\"") && html.contains("zombie_bound"));
}

#[test]
fn a_passing_run_test_returns_the_report() {
    let report = sim("examples/scenarios/sdk-runner-ack-lost.json").run_test();
    assert!(report.passed());
}

#[test]
fn a_chaos_test_writes_its_shrunk_failure_next_to_the_test_and_it_fails_alone() {
    let dir = scratch("chaos");
    let base = sim("examples/scenarios/chaos-buggy-runner.json");
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| base.chaos_test(0..40, &dir)));
    let message = panic_text(failed.expect_err("chaos finds the buggy runner within 40 seeds"));
    let written: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(written.len(), 1, "{message}");
    assert!(message.contains(&written[0].display().to_string()), "{message}");
    assert!(message.contains("repro: DPSIM_SEEDS="), "{message}");
    let alone = sim(written[0].to_str().unwrap()).run().unwrap();
    assert!(!alone.passed(), "the shrunk scenario fails on its own:\n{}", alone.summary_text());
}

#[test]
fn chaos_shrunk_explore_and_the_timeline_are_one_call_each() {
    let base = sim("examples/scenarios/chaos-buggy-runner.json");
    let result = base.chaos_shrunk(0..40, 2).unwrap();
    let failure = result.first_failure.expect("a failing seed");
    let shrunk = failure.shrunk.expect("shrunk");
    assert!(shrunk.faults() <= 3, "{}", shrunk.scenario.to_file_text());

    let ack = sim("examples/scenarios/sdk-runner-ack-lost.json");
    let rows = ack.explore().unwrap();
    assert!(rows.iter().any(|r| r.deadline.starts_with("ack t1")), "{rows:?}");
    let (report, trace) = ack.run_traced(None).unwrap();
    let page = ack.timeline_html(&report, &trace);
    assert!(page.contains("<canvas id=\"lanes\"") && page.contains("runner-a"));
}

#[test]
fn the_readme_recipe_is_the_user_crate_verbatim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for (lang, file) in [
        ("toml", "Cargo.toml"),
        ("rust", "src/lib.rs"),
        ("rust", "tests/dpsim.rs"),
        ("json", "tests/scenarios/ack-lost.json"),
    ] {
        let text = std::fs::read_to_string(root.join("examples/user-crate").join(file)).unwrap();
        assert!(
            readme.contains(&format!("```{lang}\n{text}```")),
            "README's block differs from examples/user-crate/{file}"
        );
    }
}
