//! Replays every scenario in scenarios/, checks its expectations, and snapshots its
//! ownership log into snapshots/ (one snapshot per scenario, `scenario@<file>.snap`).

use std::path::Path;

use dpsim::scenario::load_file;
use dpsim::{Report, Simulation};

fn replay(path: &Path) -> Report {
    let sim = Simulation::from_file(path).unwrap_or_else(|e| panic!("{e}"));
    sim.run().unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn scenario() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::glob!("../scenarios", "*.json", |path| {
            let report = replay(path);
            assert!(
                report.passed(),
                "{}: expectations failed\n{}\nrepro: cargo run --release -- run {} --seed {}",
                report.scenario,
                report.summary_text(),
                path.display(),
                report.seed
            );
            let description = load_file(path).map(|s| s.description().to_string()).unwrap_or_default();
            insta::with_settings!({ description => description }, {
                insta::assert_snapshot!(report.snapshot_text());
            });
        });
    });
}

#[test]
fn the_suite_covers_at_least_fifteen_scenarios() {
    let count = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
        .count();
    assert!(count >= 15, "{count} scenarios");
}
