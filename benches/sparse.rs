//! The sparse benchmark: 20 runners for one simulated hour with little to do (20 ten-minute
//! tasks at the start, then idle long polls and heartbeats), beside a plain paused-clock tokio
//! program making the same requests to the same service in memory (hand-written minimal
//! runners over in-memory HTTP, no simulated network). The case idle-time skipping exists
//! for: the harness should cost about what the requests cost.
//!
//! `cargo bench --bench sparse` runs each side in a fresh child process and prints wall time,
//! requests and the harness/baseline ratio measured in the same run, and the harness with
//! fixed-tick stepping for reference. Then a week of an hourly two-activity pipeline with 20
//! runners, with skipping and with fixed ticks (each in its own process).

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{alternate, best, child, ratio_range};
use dpsim::report::Report;
use dpsim::scenario::Stepping;
use dpsim::scenario::parse;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::json;

const RUNNERS: u64 = 20;
const HOUR_MS: u64 = 3_600_000;
/// Runs per side; the fastest is reported (the sides are short, so noise would dominate).
const REPEATS: usize = 20;
/// Processes per side, alternating; the best of each side is compared.
const ROUNDS: usize = 5;

fn sparse_scenario(stepping: Stepping) -> dpsim::scenario::Scenario {
    let text = json!({
        "description": "sparse benchmark",
        "seed": 3,
        "duration": "1h",
        "stop_when_done": false,
        "stepping": stepping,
        "pipelines": [{"name": "nightly", "activations": RUNNERS, "definition": {"objects": [
            {"id": "Default", "name": "Default", "scheduleType": "ondemand", "workerGroup": "wg"},
            {"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "command": "copy.sh", "myWorkTime": "10 minutes"}]}}],
        "runners": [{"name": "worker", "count": RUNNERS, "machines": 4, "worker_group": "wg", "report_interval": "5m"}]
    });
    parse(&text.to_string()).expect("valid benchmark scenario")
}

/// Seven simulated days of an hourly (cron) pipeline: Extract, then Load, every hour, 20
/// runners.
fn week_scenario(stepping: Stepping) -> dpsim::scenario::Scenario {
    let text = json!({
        "description": "a week of an hourly pipeline",
        "seed": 5,
        "duration": "7d",
        "stop_when_done": false,
        "log": "anomalies",
        "stepping": stepping,
        "pipelines": [{"name": "hourly", "definition": {"objects": [
            {"id": "Default", "name": "Default", "scheduleType": "cron", "workerGroup": "wg", "schedule": {"ref": "Hourly"}},
            {"id": "Hourly", "name": "Hourly", "type": "Schedule", "period": "1 hours", "startAt": "FIRST_ACTIVATION_DATE_TIME"},
            {"id": "Extract", "name": "Extract", "type": "ShellCommandActivity", "command": "extract.sh", "myWorkTime": "10 minutes"},
            {"id": "Load", "name": "Load", "type": "ShellCommandActivity", "command": "load.sh", "myWorkTime": "5 minutes", "dependsOn": {"ref": "Extract"}}]}}],
        "runners": [{"name": "worker", "count": RUNNERS, "machines": 4, "worker_group": "wg", "report_interval": "5m"}]
    });
    parse(&text.to_string()).expect("valid benchmark scenario")
}

/// One run of the week, timed.
fn week(stepping: Stepping) {
    let scenario = week_scenario(stepping);
    let start = Instant::now();
    let out = dpsim::bench::simulate(&scenario);
    let report = Report::new("week", &scenario, &out);
    let wall = start.elapsed().as_secs_f64();
    assert!(report.passed(), "{}", report.summary_text());
    println!("RESULT wall={wall:.3} requests={} steps={} tasks={}", out.requests, out.steps, report.summary.tasks);
}

fn harness(stepping: Stepping) {
    let scenario = sparse_scenario(stepping);
    let (mut best, mut best_sim) = (f64::MAX, f64::MAX);
    let (mut requests, mut steps) = (0, 0);
    for _ in 0..REPEATS {
        let start = Instant::now();
        let out = dpsim::bench::simulate(&scenario);
        best_sim = best_sim.min(start.elapsed().as_secs_f64());
        let report = Report::new("sparse", &scenario, &out);
        best = best.min(start.elapsed().as_secs_f64());
        assert!(report.passed(), "{}", report.summary_text());
        (requests, steps) = (out.requests, out.steps);
    }
    println!("RESULT wall={best:.4} sim_wall={best_sim:.4} requests={requests} steps={steps}");
}

/// The service's clock in the baseline: tokio's paused time.
struct PausedClock(tokio::time::Instant);

impl dpsim::bench::Clock for PausedClock {
    fn now(&self) -> u64 {
        dpsim::bench::EPOCH_MS + self.0.elapsed().as_millis() as u64
    }
}

/// One AWS JSON 1.1 call over an in-memory connection; the answer's JSON.
async fn call(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    operation: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let request = http::Request::post("/")
        .header("x-amz-target", format!("DataPipeline.{operation}"))
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_default()
}

/// A connection to the service in memory: the same AWS front door `serve` uses.
async fn connect(host: &dpsim::bench::Host) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let (client, server) = tokio::io::duplex(1 << 16);
    let service = hyper_util::service::TowerToHyperService::new(dpsim::bench::router(host.clone()));
    tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(server), service));
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client)).await.unwrap();
    tokio::spawn(conn);
    sender
}

/// The baseline: a plain paused-clock tokio program with the same service in memory, 20
/// pipelines of one ten-minute task set up over the API, and 20 minimal runners (long poll,
/// a progress report every 5 minutes, FINISHED, a heartbeat every 15 minutes) for an hour:
/// the same requests, without the simulated network, dpsim's runner, recording or checks.
fn baseline() {
    let mut best = f64::MAX;
    let mut requests = 0;
    for _ in 0..REPEATS {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let start = Instant::now();
        let calls = runtime.block_on(async {
            // The service's rules as the harness gets them from the scenario.
            let scenario = sparse_scenario(Stepping::SkipIdle);
            let settings = dpsim::bench::settings(&scenario, scenario.seed());
            let config = dpsim::bench::HostConfig {
                settings,
                credentials: None,
                keep_journal: true,
                rate_limits: false,
                journal_limit: None,
            };
            let host = dpsim::bench::Host::new(config, std::sync::Arc::new(PausedClock(tokio::time::Instant::now())));
            tokio::spawn(host.clone().run_deadlines());
            let mut operator = connect(&host).await;
            let mut calls = 0u64;
            for p in 0..RUNNERS {
                let created = call(&mut operator, "CreatePipeline", json!({"name": format!("nightly-{p}"), "uniqueId": format!("u{p}")})).await;
                let id = created["pipelineId"].as_str().unwrap().to_string();
                let objects = json!([
                    {"id": "Default", "name": "Default", "fields": [
                        {"key": "scheduleType", "stringValue": "ondemand"}, {"key": "workerGroup", "stringValue": "wg"}]},
                    {"id": "Copy", "name": "Copy", "fields": [
                        {"key": "type", "stringValue": "ShellCommandActivity"}, {"key": "command", "stringValue": "copy.sh"}]}]);
                call(&mut operator, "PutPipelineDefinition", json!({"pipelineId": id, "pipelineObjects": objects})).await;
                call(&mut operator, "ActivatePipeline", json!({"pipelineId": id})).await;
                calls += 3;
            }
            let end = tokio::time::Instant::now() + Duration::from_millis(HOUR_MS);
            let mut runners = Vec::new();
            for r in 0..RUNNERS {
                let host = host.clone();
                runners.push(tokio::spawn(async move {
                    let mut sender = connect(&host).await;
                    let mut beat = connect(&host).await;
                    let name = format!("worker-{r}");
                    let heartbeats = tokio::spawn({
                        let name = name.clone();
                        async move {
                            let mut n = 0u64;
                            while tokio::time::Instant::now() < end {
                                call(&mut beat, "ReportTaskRunnerHeartbeat", json!({"taskrunnerId": name, "workerGroup": "wg"})).await;
                                n += 1;
                                tokio::time::sleep(Duration::from_secs(15 * 60)).await;
                            }
                            n
                        }
                    });
                    let mut n = 0u64;
                    while tokio::time::Instant::now() < end {
                        let answer = call(&mut sender, "PollForTask", json!({"workerGroup": "wg", "hostname": name})).await;
                        n += 1;
                        let Some(task) = answer["taskObject"]["taskId"].as_str().map(str::to_string) else { continue };
                        // Acknowledge at once, then report every 5 minutes of the 10 minutes' work.
                        for _ in 0..2 {
                            call(&mut sender, "ReportTaskProgress", json!({"taskId": task})).await;
                            n += 1;
                            tokio::time::sleep(Duration::from_secs(5 * 60)).await;
                        }
                        call(&mut sender, "SetTaskStatus", json!({"taskId": task, "taskStatus": "FINISHED"})).await;
                        n += 1;
                    }
                    n + heartbeats.await.unwrap()
                }));
            }
            for r in runners {
                calls += r.await.unwrap();
            }
            calls
        });
        best = best.min(start.elapsed().as_secs_f64());
        requests = calls;
    }
    println!("RESULT wall={best:.4} requests={requests}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("sparse bench: run with `cargo bench --bench sparse`");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        match args.get(i + 1).map(String::as_str) {
            Some("skip-idle") => harness(Stepping::SkipIdle),
            Some("fixed-tick") => harness(Stepping::FixedTick),
            Some("baseline") => baseline(),
            Some("week-skip-idle") => week(Stepping::SkipIdle),
            Some("week-fixed-tick") => week(Stepping::FixedTick),
            other => panic!("unknown child mode {other:?}"),
        }
        return;
    }
    let runs = alternate(ROUNDS, &[("skip-idle", None), ("baseline", None)]);
    let (skipping, base) = (best(&runs[0], "wall"), best(&runs[1], "wall"));
    let fixed = child("fixed-tick", None);
    println!(
        "sparse: {RUNNERS} runners on 4 machines, {RUNNERS} ten-minute tasks, 1 simulated hour (best of {REPEATS} runs in each process; harness and baseline {ROUNDS} processes each, alternating)"
    );
    for (name, r) in [("harness, skip-idle", &skipping), ("harness, fixed-tick", &fixed), ("tokio baseline", &base)] {
        let sim =
            r.get("sim_wall").map(|s| format!("  ({s:.3} s simulating in {} steps)", r["steps"])).unwrap_or_default();
        println!("{name:<20} {:>8.3} s  {:>6} requests{sim}", r["wall"], r["requests"]);
    }
    let (low, high) = ratio_range(&runs[0], &runs[1], "wall");
    println!(
        "harness (skip-idle) / paused-clock tokio baseline: {:.2}x (process by process {low:.2}x..{high:.2}x); fixed-tick / skip-idle: {:.1}x",
        skipping["wall"] / base["wall"],
        fixed["wall"] / skipping["wall"]
    );
    let (week_skip, week_fixed) = (child("week-skip-idle", None), child("week-fixed-tick", None));
    println!(
        "a week of an hourly Extract -> Load pipeline, {RUNNERS} runners ({} instances, {} requests): skip-idle {:.2} s in {} steps, fixed-tick {:.2} s in {} steps ({:.1}x)",
        week_skip["tasks"],
        week_skip["requests"],
        week_skip["wall"],
        week_skip["steps"],
        week_fixed["wall"],
        week_fixed["steps"],
        week_fixed["wall"] / week_skip["wall"]
    );
}
