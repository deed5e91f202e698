//! `dpsim fuzz`: generated HTTP requests at serve's app and mutated scenarios at the loader.

use dpsim::fuzz::{FuzzReport, fuzz_requests, fuzz_scenarios};

/// `dpsim fuzz`: runs both fuzzers and prints their figures; 1 when anything failed.
pub fn run(seed: u64, requests: u64, scenarios: u64, bases: &[std::path::PathBuf]) -> u8 {
    let mut texts = Vec::new();
    for dir in bases {
        let Ok(entries) = std::fs::read_dir(dir) else {
            eprintln!("dpsim fuzz: cannot read {}", dir.display());
            return 2;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        texts.extend(
            paths
                .iter()
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .filter_map(|p| std::fs::read_to_string(p).ok()),
        );
    }
    let mut report = FuzzReport::default();
    fuzz_requests(seed, requests, &mut report);
    fuzz_scenarios(seed, scenarios, &texts, &mut report);
    println!(
        "requests: {} ({} unanswered on purpose) at {:.0}/s; scenario mutations: {} of {} bases ({:.0}/s); failures: {}",
        report.requests,
        report.unanswered,
        report.requests_per_s,
        report.scenarios,
        texts.len(),
        report.scenarios_per_s,
        report.failure_count
    );
    for f in &report.failures {
        println!("  FAIL {f}");
    }
    u8::from(report.failure_count > 0)
}
