//! Throughput of the service core at 100 and 100,000 queued tasks.
//!
//! `cargo bench --bench core` prints calls per second of PollForTask (hand-out from the ready
//! queue), ReportTaskProgress (renewing one of N live leases) and deadline expiry, each at
//! both scales, and the ratio of the large to the small figure: near 1.0 means the cost per
//! call does not grow with the number of tasks. Ratios are measured in the same run, so a
//! busy machine moves both figures together.
//!
//! Knobs: `DPSIM_BENCH_CURVE=1` also prints 100 / 1k / 10k / 100k; `DPSIM_BENCH_ONLY=poll|report|expiry`
//! with `DPSIM_BENCH_N=<n>` runs one case, e.g. under
//! `valgrind --tool=callgrind --toggle-collect='*renew*'` to count instructions per report,
//! which separates algorithmic cost from cache effects.

use std::hint::black_box;
use std::time::{Duration, Instant};

use dpsim::bench::{Outcome, PollForTaskInput, ReportTaskProgressInput, Request, Response, Service, Settings};
use dpsim::protocol::{Field, Operation};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

const T0: u64 = 1_767_225_600_000;
const SMALL: usize = 100;
const LARGE: usize = 100_000;
const MID: usize = 10_000;

fn ok(svc: &mut Service, op: Operation, body: serde_json::Value) -> Response {
    match svc.handle(T0, Request::parse(op, body.to_string().as_bytes()).unwrap()) {
        Ok(Outcome::Done(r)) => r,
        other => panic!("{op}: {other:?}"),
    }
}

/// A service with `n` tasks queued in worker group `wg`.
fn queued(n: usize) -> Service {
    let mut svc = Service::new(Settings { poll_hold_ms: 0, ..Settings::default() }, T0);
    let Response::CreatePipeline(p) = ok(&mut svc, Operation::CreatePipeline, json!({"name": "p", "uniqueId": "u"}))
    else {
        unreachable!()
    };
    let id = p.pipeline_id;
    ok(
        &mut svc,
        Operation::PutPipelineDefinition,
        json!({"pipelineId": id, "pipelineObjects": [{"id": "Copy", "name": "Copy", "fields": [
            {"key": "type", "stringValue": "ShellCommandActivity"}, {"key": "workerGroup", "stringValue": "wg"}]}]}),
    );
    for _ in 0..n {
        ok(&mut svc, Operation::ActivatePipeline, json!({"pipelineId": id}));
    }
    svc.take_journal();
    assert_eq!(svc.ready_len(), n);
    svc
}

fn poll(svc: &mut Service, at: u64) -> String {
    let request = Request::PollForTask(PollForTaskInput {
        worker_group: Some("wg".into()),
        hostname: Some("bench".into()),
        instance_identity: None,
    });
    match svc.handle(at, request) {
        Ok(Outcome::Done(Response::PollForTask(out))) => out.task_object.expect("a queued task").task_id,
        other => panic!("{other:?}"),
    }
}

/// Seconds per PollForTask, draining batches of at most 1,000 from a queue of `n`.
fn poll_cost(n: usize, calls: usize) -> f64 {
    let template = queued(n);
    let batch = n.min(1_000);
    let mut spent = Duration::ZERO;
    let mut done = 0;
    while done < calls {
        let mut svc = template.clone();
        let start = Instant::now();
        drain(&mut svc, batch);
        spent += start.elapsed();
        done += batch;
        drop(svc);
    }
    spent.as_secs_f64() / done as f64
}

/// The measured loop of [`poll_cost`], apart so instruction counters can select it.
#[inline(never)]
fn drain(svc: &mut Service, batch: usize) {
    for i in 0..batch {
        black_box(poll(svc, T0 + i as u64));
    }
}

/// Seconds per ReportTaskProgress on one of `n` live leases, chosen at random.
fn report_cost(n: usize, calls: usize) -> f64 {
    let mut svc = queued(n);
    let tasks: Vec<String> = (0..n).map(|_| poll(&mut svc, T0)).collect();
    svc.take_journal();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let picks: Vec<usize> = (0..calls).map(|_| rng.random_range(0..n)).collect();
    let start = Instant::now();
    renew(&mut svc, &tasks, &picks);
    start.elapsed().as_secs_f64() / calls as f64
}

/// The measured loop of [`report_cost`], apart so instruction counters can select it.
#[inline(never)]
fn renew(svc: &mut Service, tasks: &[String], picks: &[usize]) {
    for (i, &k) in picks.iter().enumerate() {
        let request = Request::ReportTaskProgress(ReportTaskProgressInput {
            task_id: Some(tasks[k].clone()),
            fields: vec![Field::string("percentComplete", "50")],
        });
        // One millisecond apart: every lease stays live, every report renews.
        black_box(svc.handle(T0 + 1 + i as u64, request).unwrap());
        if i % 10_000 == 0 {
            svc.take_journal();
        }
    }
}

/// Seconds per lease expiry when `n` leases pass their ack deadline together.
fn expiry_cost(n: usize) -> f64 {
    let mut rounds = 0;
    let mut spent = Duration::ZERO;
    while rounds * n < 200_000 {
        let mut svc = queued(n);
        for _ in 0..n {
            poll(&mut svc, T0);
        }
        svc.take_journal();
        let start = Instant::now();
        svc.advance(T0 + 2 * 60_000);
        spent += start.elapsed();
        assert_eq!(svc.ready_len(), n, "every expired task is queued again");
        rounds += 1;
    }
    spent.as_secs_f64() / (rounds * n) as f64
}

fn row(name: &str, small: f64, large: f64) {
    println!("{name:<22} {:>14.0} {:>14.0} {:>10.2}", 1.0 / small, 1.0 / large, large / small);
}

fn main() {
    // `cargo test --benches` runs bench targets with --bench absent; skip the long work then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("core bench: run with `cargo bench --bench core`");
        return;
    }
    println!("{:<22} {:>14} {:>14} {:>10}", "operation", "calls/s @100", "calls/s @100k", "cost ratio");
    if let Ok(which) = std::env::var("DPSIM_BENCH_ONLY") {
        let n = std::env::var("DPSIM_BENCH_N").ok().and_then(|n| n.parse().ok()).unwrap_or(LARGE);
        let secs = match which.as_str() {
            "poll" => poll_cost(n, 200_000),
            "report" => report_cost(n, 20_000),
            _ => expiry_cost(LARGE),
        };
        println!("{which}: {:.0}/s", 1.0 / secs);
        return;
    }
    if std::env::var("DPSIM_BENCH_CURVE").is_ok() {
        for n in [SMALL, 1_000, MID, LARGE] {
            println!(
                "n={n} poll={:.0}/s report={:.0}/s expiry={:.0}/s",
                1.0 / poll_cost(n, 20_000),
                1.0 / report_cost(n, 100_000),
                1.0 / expiry_cost(n)
            );
        }
    }
    row("PollForTask", poll_cost(SMALL, 100_000), poll_cost(LARGE, 100_000));
    row("ReportTaskProgress", report_cost(SMALL, 200_000), report_cost(LARGE, 200_000));
    row("lease expiry", expiry_cost(SMALL), expiry_cost(LARGE));
}
