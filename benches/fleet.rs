//! The fleet benchmark: 1,000 runners over 10 machine hosts working 10,000 tasks for one
//! simulated hour, beside a bare turmoil baseline with the same hosts and tick exchanging the
//! same number of HTTP requests.
//!
//! `cargo bench --bench fleet` runs each side in a child process (so peak memory is its own)
//! and prints wall time, peak RSS, simulated time per wall time, and the harness/baseline
//! ratio measured in the same run.

#[path = "common/mod.rs"]
mod common;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use common::{alternate, best, child, peak_rss_mb, ratio_range};
use dpsim::report::Report;
use dpsim::scenario::parse;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::json;

const RUNNERS: u32 = 1_000;
const MACHINES: u32 = 10;
const COPIES: u32 = 10;
const ACTIVATIONS: u32 = 1_000;
const HOUR_MS: u64 = 3_600_000;
const TICK_MS: u64 = 100;
/// Alternating runs of each side; the best of each is compared.
const ROUNDS: usize = 3;

fn fleet_scenario() -> dpsim::scenario::Scenario {
    let text = json!({
        "description": "benchmark fleet",
        "seed": 7,
        "duration": "1h",
        "tick": format!("{TICK_MS}ms"),
        "stop_when_done": false,
        "log": "anomalies",
        "operator": {"concurrency": 64},
        "pipelines": [{"name": "bulk", "copies": COPIES, "activations": ACTIVATIONS, "definition": {"objects": [
            {"id": "Default", "name": "Default", "scheduleType": "ondemand"},
            {"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg", "myWorkTime": "5 minutes"}]}}],
        "runners": [{"name": "worker", "count": RUNNERS, "machines": MACHINES, "worker_group": "wg"}]
    });
    parse(&text.to_string()).expect("valid benchmark scenario")
}

fn harness() {
    let scenario = fleet_scenario();
    let start = Instant::now();
    let out = dpsim::bench::simulate(&scenario);
    let sim_wall = start.elapsed().as_secs_f64();
    let report = Report::new("fleet", &scenario, &out);
    let wall = start.elapsed().as_secs_f64();
    // A run that breaks an invariant measures nothing worth comparing.
    assert!(report.passed(), "{}{}", report.summary_text(), report.violations_text());
    let finished = report.summary.statuses.iter().find(|(s, _)| s == "FINISHED").map_or(0, |(_, n)| *n);
    println!(
        "RESULT wall={wall:.3} sim_wall={sim_wall:.3} rss={:.1} requests={} steps={} sim_ms={} finished={finished} tasks={}",
        peak_rss_mb(),
        out.requests,
        out.steps,
        out.end_ms,
        report.summary.tasks
    );
}

/// The same hosts and tick, `requests` bare HTTP calls spread evenly over the hour.
fn baseline(requests: u64) {
    let mut sim = turmoil::Builder::new()
        .rng_seed(7)
        .tick_duration(Duration::from_millis(TICK_MS))
        .simulation_duration(Duration::from_millis(HOUR_MS + 10 * TICK_MS))
        .min_message_latency(Duration::ZERO)
        .max_message_latency(Duration::ZERO)
        .tcp_capacity(1 << 16)
        .build();
    sim.host("service", || async {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", 80)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|request: http::Request<hyper::body::Incoming>| async move {
                    let _ = request.into_body().collect().await;
                    Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"{}"))))
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    sim.client("operator", async { Ok(()) });
    let per_client = requests.div_ceil(u64::from(RUNNERS));
    let interval = Duration::from_millis(HOUR_MS / per_client.max(1));
    for m in 0..MACHINES {
        sim.host(format!("machine-{m}").as_str(), move || async move {
            for c in 0..RUNNERS / MACHINES {
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(u64::from(c) * 2)).await;
                    let stream = turmoil::net::TcpStream::connect(("service", 80)).await.expect("connect");
                    let (mut sender, conn) =
                        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
                    tokio::spawn(conn);
                    for _ in 0..per_client {
                        let request = http::Request::post("/")
                            .header("x-amz-target", "DataPipeline.ReportTaskProgress")
                            .body(Full::new(Bytes::from_static(b"{\"taskId\": \"1.x\"}")))
                            .expect("request");
                        let response = sender.send_request(request).await.expect("response");
                        let _ = response.into_body().collect().await;
                        tokio::time::sleep(interval).await;
                    }
                });
            }
            std::future::pending::<()>().await;
            Ok(())
        });
    }
    let start = Instant::now();
    let mut steps = 0u64;
    while sim.elapsed() < Duration::from_millis(HOUR_MS) {
        sim.step().expect("baseline steps");
        steps += 1;
    }
    let wall = start.elapsed().as_secs_f64();
    println!(
        "RESULT wall={wall:.3} rss={:.1} requests={} steps={steps} sim_ms={HOUR_MS}",
        peak_rss_mb(),
        per_client * u64::from(RUNNERS)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("fleet bench: run with `cargo bench --bench fleet`");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        match args.get(i + 1).map(String::as_str) {
            Some("harness") => harness(),
            Some("baseline") => baseline(args.get(i + 2).and_then(|n| n.parse().ok()).unwrap_or(0)),
            other => panic!("unknown child mode {other:?}"),
        }
        return;
    }
    // The baseline makes as many requests as the harness does (deterministic, so one run tells).
    let requests = child("harness", None)["requests"] as u64;
    let runs = alternate(ROUNDS, &[("harness", None), ("baseline", Some(requests))]);
    let (h, b) = (best(&runs[0], "wall"), best(&runs[1], "wall"));
    let speed = |r: &std::collections::BTreeMap<String, f64>| r["sim_ms"] / 1000.0 / r["wall"];
    println!(
        "fleet: {RUNNERS} runners on {MACHINES} machines, {} tasks ({} finished), 1 simulated hour, tick {TICK_MS} ms",
        h["tasks"], h["finished"]
    );
    println!(
        "{:<10} {:>10} {:>12} {:>12} {:>10} {:>16}",
        "", "wall s", "peak RSS MB", "requests", "steps", "sim s per wall s"
    );
    for (name, r) in [("harness", &h), ("baseline", &b)] {
        println!(
            "{name:<10} {:>10.2} {:>12.1} {:>12.0} {:>10.0} {:>16.0}",
            r["wall"],
            r["rss"],
            r["requests"],
            r["steps"],
            speed(r)
        );
    }
    let (low, high) = ratio_range(&runs[0], &runs[1], "wall");
    println!(
        "harness / baseline wall time (best of {ROUNDS} alternating runs each): {:.2}x with the report, {:.2}x for the simulation alone ({:.2} s of the harness's {:.2} s); round by round {low:.2}x..{high:.2}x",
        h["wall"] / b["wall"],
        h["sim_wall"] / b["wall"],
        h["sim_wall"],
        h["wall"]
    );
}
