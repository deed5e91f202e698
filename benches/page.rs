//! The report page of a 10,000-task run (the fleet bench's scenario: 1,000 runners on 10
//! machines, 10,000 tasks over one simulated hour, every transition logged): how long it takes
//! to build, and its size. `node tests/browser/render-time.mjs PAGE` (from a folder with
//! playwright-core, as `.ci/browser` sets up) then times its first full render in headless
//! Chromium. Run with `cargo bench --bench page`.

use std::time::Instant;

use dpsim::Report;
use dpsim::scenario::parse;
use serde_json::json;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let text = json!({
        "description": "benchmark fleet, every transition logged",
        "seed": 7,
        "duration": "1h",
        "tick": "100ms",
        "stop_when_done": false,
        "operator": {"concurrency": 64},
        "pipelines": [{"name": "bulk", "copies": 10, "activations": 1000, "definition": {"objects": [
            {"id": "Default", "name": "Default", "scheduleType": "ondemand"},
            {"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg", "myWorkTime": "5 minutes"}]}}],
        "runners": [{"name": "worker", "count": 1000, "machines": 10, "worker_group": "wg"}]
    });
    let scenario = parse(&text.to_string()).expect("valid benchmark scenario");
    let out = dpsim::bench::simulate(&scenario);
    let report = Report::new("fleet", &scenario, &out);
    // The baseline, measured in the same run: the ownership log as text, what the page replaces.
    let start = Instant::now();
    let log = report.log_text();
    let text_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let page = dpsim::report::page("fleet", &report, &out);
    let page_s = start.elapsed().as_secs_f64();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(dir).expect("target tmp dir");
    let path = dir.join("fleet-page.html");
    std::fs::write(&path, &page).expect("write the page");
    println!(
        "page bench: {} tasks, {} log lines, {} calls; page {:.1} MB built in {page_s:.2} s; the log as text {:.1} MB in {text_s:.2} s ({:.1}x the time)",
        report.summary.tasks,
        report.log.len(),
        out.calls.len(),
        page.len() as f64 / 1e6,
        log.len() as f64 / 1e6,
        page_s / text_s.max(1e-9)
    );
    println!("PAGE {}", path.display());
}
