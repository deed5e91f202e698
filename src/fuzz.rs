//! `dpsim fuzz`: generative fuzzing on stable Rust, as a measured claim.
//!
//! - **Requests**: raw HTTP requests (methods, paths including the admin routes, targets,
//!   content types, bodies that are garbage, arbitrary JSON, or mutated valid calls) sent to
//!   `serve`'s whole app, on a manual clock that the fuzzer also moves. After each request:
//!   nothing panicked, the answer is a well-formed status, the kept journal and recorder stay
//!   within their bounds, and the core's own consistency check holds (no instance lost).
//! - **Scenarios**: the shipped scenario files, mutated (keys dropped, values replaced by
//!   other types, extremes, deep nesting), given to the loader: it must answer a scenario or an
//!   error that says where and what, never panic.
//!
//! Every case derives from one seed, so a failure is reproduced by its seed and index.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::time::Instant;

use axum::body::{Body, to_bytes};
use http::Request;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use crate::protocol::Operation;
use crate::serve::{ClockMode, ServeOptions};
use crate::serve::{Server, TRACE_LIMIT};

/// The figures of a fuzzing run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FuzzReport {
    /// Requests sent.
    pub requests: u64,
    /// Requests left unanswered on purpose (held or dropped by the faults the fuzzer installs).
    pub unanswered: u64,
    /// Requests per wall second.
    pub requests_per_s: f64,
    /// Scenario mutations loaded.
    pub scenarios: u64,
    /// Mutations per wall second.
    pub scenarios_per_s: f64,
    /// What went wrong, with the case that shows it (at most 20 kept).
    pub failures: Vec<String>,
    /// Failures in all.
    pub failure_count: u64,
}

impl FuzzReport {
    fn fail(&mut self, what: String) {
        self.failure_count += 1;
        if self.failures.len() < 20 {
            self.failures.push(what);
        }
    }
}

const METHODS: [&str; 5] = ["POST", "GET", "DELETE", "PUT", "PATCH"];
const PATHS: [&str; 8] = [
    "/",
    "/",
    "/",
    "/_dpsim/clock",
    "/_dpsim/clock/advance",
    "/_dpsim/faults",
    "/_dpsim/faults/1",
    "/_dpsim/faults/errors",
];
/// The log and report rebuild the whole ownership log: asked for rarely, as a test would.
const REPORT_PATHS: [&str; 2] = ["/_dpsim/log", "/_dpsim/report"];

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A string that hits edges: ids the service issued, lengths at limits, forbidden characters.
fn string(rng: &mut ChaCha8Rng, known: &[String]) -> String {
    match rng.random_range(0..10) {
        0 if !known.is_empty() => pick(rng, known).clone(),
        1 => "x".repeat(*pick(rng, &[0usize, 1, 255, 256, 257, 1024, 1025, 2048, 2049, 10_241])),
        2 => "a\u{0}b\u{FFFF}".into(),
        3 => pick(rng, &["FINISHED", "FAILED", "FALSE", "TRY_CANCEL", "RERUN", "PAUSE", "INSTANCE", "wg", "Copy"])
            .to_string(),
        4 => pick(rng, &["15 minutes", "307445734561825 minutes", "0 minutes", "-1 hours", "1 Hour"]).to_string(),
        5 => format!("{}.{}", rng.random::<u32>(), rng.random::<u64>()),
        _ => (0..rng.random_range(0..12)).map(|_| rng.random_range(b' '..=b'~') as char).collect(),
    }
}

/// An arbitrary JSON value, biased towards the members the API knows.
fn value(rng: &mut ChaCha8Rng, depth: u32, known: &[String]) -> Value {
    const MEMBERS: [&str; 22] = [
        "taskId",
        "workerGroup",
        "hostname",
        "fields",
        "key",
        "stringValue",
        "refValue",
        "taskStatus",
        "errorMessage",
        "pipelineId",
        "pipelineObjects",
        "id",
        "name",
        "uniqueId",
        "objectIds",
        "status",
        "sphere",
        "query",
        "selectors",
        "seconds",
        "kind",
        "effect",
    ];
    match rng.random_range(0..if depth == 0 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => json!(*pick(rng, &[0i64, 1, -1, i64::MAX, i64::MIN, 100_000, 4_294_967_296])),
        3 => json!(*pick(rng, &[0.5f64, 1e300, -1e-9, 3.0])),
        4 => Value::String(string(rng, known)),
        5 | 6 => {
            let mut m = Map::new();
            for _ in 0..rng.random_range(0..5) {
                m.insert(pick(rng, &MEMBERS).to_string(), value(rng, depth - 1, known));
            }
            Value::Object(m)
        }
        _ => Value::Array((0..rng.random_range(0..4)).map(|_| value(rng, depth - 1, known)).collect()),
    }
}

/// A valid call of a random operation, then mutated.
fn near_valid(rng: &mut ChaCha8Rng, known: &[String]) -> (String, Value) {
    let op = *pick(rng, Operation::ALL);
    let pipeline = known.iter().find(|k| k.starts_with("df-")).cloned().unwrap_or_default();
    let task = known.iter().find(|k| k.contains('.')).cloned().unwrap_or_default();
    let mut body = match op {
        Operation::PollForTask => json!({"workerGroup": "wg", "hostname": "fuzz"}),
        Operation::ReportTaskProgress => json!({"taskId": task, "fields": [{"key": "k", "stringValue": "v"}]}),
        Operation::SetTaskStatus => json!({"taskId": task, "taskStatus": "FINISHED"}),
        Operation::ReportTaskRunnerHeartbeat => json!({"taskrunnerId": "fuzz"}),
        Operation::CreatePipeline => json!({"name": "f", "uniqueId": string(rng, known)}),
        Operation::PutPipelineDefinition | Operation::ValidatePipelineDefinition => json!({"pipelineId": pipeline,
            "pipelineObjects": [{"id": "Copy", "name": "Copy", "fields": [
                {"key": "type", "stringValue": "ShellCommandActivity"}, {"key": "workerGroup", "stringValue": "wg"},
                {"key": "dependsOn", "refValue": "Copy"}, {"key": "parent", "refValue": "Copy"}]}]}),
        Operation::SetStatus => json!({"pipelineId": pipeline, "objectIds": ["Copy"], "status": "PAUSE"}),
        Operation::QueryObjects => json!({"pipelineId": pipeline, "sphere": "INSTANCE"}),
        _ => json!({"pipelineId": pipeline}),
    };
    if let Value::Object(m) = &mut body {
        for _ in 0..rng.random_range(0..3) {
            let keys: Vec<String> = m.keys().cloned().collect();
            if keys.is_empty() {
                break;
            }
            let k = pick(rng, &keys).clone();
            if rng.random_bool(0.3) {
                m.remove(&k);
            } else {
                m.insert(k, value(rng, 2, known));
            }
        }
    }
    (op.as_str().to_string(), body)
}

/// One request of the fuzzer.
fn request(rng: &mut ChaCha8Rng, known: &[String]) -> Request<Body> {
    let aws = rng.random_bool(0.7);
    let (method, path) = if aws {
        ("POST", "/")
    } else if rng.random_bool(0.002) {
        (*pick(rng, &METHODS), *pick(rng, &REPORT_PATHS))
    } else {
        (*pick(rng, &METHODS), *pick(rng, &PATHS))
    };
    let (target, body): (Option<String>, Vec<u8>) = match rng.random_range(0..10) {
        0 => (None, (0..rng.random_range(0..64)).map(|_| rng.random()).collect()),
        1..=3 => (Some(pick(rng, Operation::ALL).as_str().to_string()), value(rng, 3, known).to_string().into_bytes()),
        4 if !aws => {
            let fault = json!({"kind": "message", "operation": pick(rng, &["PollForTask", "ReportTaskProgress", "SetTaskStatus"]),
                "count": rng.random_range(1..5), "effect": pick(rng, &[json!({"type": "drop_request"}),
                json!({"type": "error", "code": "InternalServiceError"}), json!({"type": "delay", "by": "30s"}),
                json!({"type": "duplicate"})])});
            (None, fault.to_string().into_bytes())
        }
        5 if !aws => (None, json!({"seconds": rng.random_range(0..200)}).to_string().into_bytes()),
        _ => {
            let (op, body) = near_valid(rng, known);
            (Some(op), body.to_string().into_bytes())
        }
    };
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(t) = target {
        builder = builder.header("x-amz-target", format!("DataPipeline.{t}"));
    }
    if rng.random_bool(0.8) {
        builder = builder
            .header("content-type", *pick(rng, &["application/x-amz-json-1.1", "application/json", "text/plain"]));
    }
    builder.body(Body::from(body)).expect("well-formed request parts")
}

/// Sends `n` requests to a fresh `serve` on a manual clock and checks each. While it runs it
/// replaces the process's panic hook (putting the previous one back after), so a panic on any
/// thread is counted as a failure of the request being served rather than printed.
pub fn fuzz_requests(seed: u64, n: u64, report: &mut FuzzReport) {
    let _watch = PanicWatch::install();
    let args =
        ServeOptions { poll_hold_ms: Some(0), seed: Some(seed), clock: ClockMode::Manual, ..ServeOptions::default() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (server, _): (Server, _) = crate::serve::server(&args).expect("server");
    let app = server.app();
    let mut known: Vec<String> = Vec::new();
    let start = Instant::now();
    for i in 0..n {
        let req = request(&mut rng, &known);
        let what = format!("{} {} (seed {seed}, request {i})", req.method(), req.uri());
        let answered = catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(async {
                // Silent answers (dropped requests) and delays on the still clock never resolve:
                // give up on them at once, as a client that timed out would.
                tokio::time::timeout(std::time::Duration::from_millis(2), app.clone().oneshot(req)).await
            })
        }));
        report.requests += 1;
        // A panic in the handler, or in a task a request left running (seen while this one is
        // served), is a failure.
        for panic in PANICS.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            report.fail(format!("{what}: panicked: {panic}"));
        }
        let Ok(answered) = answered else { continue };
        let Ok(response) = answered else {
            report.unanswered += 1;
            continue;
        };
        let response = response.expect("the router is infallible");
        let status = response.status().as_u16();
        if !(200..600).contains(&status) || status == 500 && response.headers().get("x-amzn-errortype").is_none() {
            report.fail(format!("{what}: status {status}"));
        }
        if let Ok(bytes) = runtime.block_on(to_bytes(response.into_body(), 1 << 24)) {
            collect_ids(&bytes, &mut known);
        }
        if i % 256 == 255 {
            // Faults pile up as the fuzzer installs them; clearing them now and then lets most
            // requests still reach the service.
            for f in server.edge.faults.list() {
                server.edge.faults.remove(f.id);
            }
        }
        if i % 64 == 0 {
            let lost = server.host().with_core(|c| c.lost_instances());
            if !lost.is_empty() {
                report.fail(format!("{what}: the core lost track of {lost:?}"));
            }
            // Lengths only: copying up to 200,000 kept entries every 64 requests made a long
            // run slow down as the trace filled (1,553 requests/s over a million, not ~11,000).
            let journal = server.host().journal_len();
            let (observations, calls) = server.edge.recorder.kept();
            if journal > TRACE_LIMIT || observations > TRACE_LIMIT || calls > TRACE_LIMIT {
                report.fail(format!("{what}: the kept trace outgrew its bound"));
            }
        }
    }
    report.requests_per_s = report.requests as f64 / start.elapsed().as_secs_f64().max(1e-9);
}

/// Panics seen while [`PanicWatch`] is installed: tokio catches a panic in a spawned task and
/// hands it to a join handle nobody holds, so only the hook sees it.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records every panic's message and place into [`PANICS`] instead of printing it, until
/// dropped (which puts the previous hook back).
struct PanicWatch {
    previous: Option<PanicHook>,
}

/// What `std::panic::take_hook` hands back.
type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

impl PanicWatch {
    fn install() -> PanicWatch {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            PANICS.lock().unwrap_or_else(|p| p.into_inner()).push(format!("{message}{place}"));
        }));
        PanicWatch { previous: Some(previous) }
    }
}

impl Drop for PanicWatch {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            std::panic::set_hook(previous);
        }
    }
}

/// Remembers ids the service handed out, so later requests can name them.
fn collect_ids(bytes: &[u8], known: &mut Vec<String>) {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else { return };
    for id in [&v["pipelineId"], &v["taskObject"]["taskId"]].into_iter().filter_map(Value::as_str) {
        if known.len() < 64 && !known.iter().any(|k| k == id) {
            known.push(id.to_string());
        }
    }
}

/// Mutates a scenario's JSON in place.
fn mutate(rng: &mut ChaCha8Rng, v: &mut Value, known: &[String]) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let k = pick(rng, &keys).clone();
            match rng.random_range(0..4) {
                0 => {
                    m.remove(&k);
                }
                1 => {
                    m.insert(k, value(rng, 2, known));
                }
                2 => {
                    m.insert(string(rng, known), value(rng, 1, known));
                }
                _ => mutate(rng, m.get_mut(&k).expect("key listed"), known),
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = rng.random_range(0..a.len());
            match rng.random_range(0..3) {
                0 => {
                    a.remove(i);
                }
                1 => a.push(a[i].clone()),
                _ => mutate(rng, &mut a[i], known),
            }
        }
        _ => *v = value(rng, 2, known),
    }
}

/// Loads `n` mutations of the given scenario texts; each must load or fail with a message.
pub fn fuzz_scenarios(seed: u64, n: u64, bases: &[String], report: &mut FuzzReport) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5ce7_a410);
    let parsed: Vec<Value> = bases.iter().filter_map(|t| serde_json::from_str(t).ok()).collect();
    if parsed.is_empty() {
        return;
    }
    let start = Instant::now();
    for i in 0..n {
        let mut v = pick(&mut rng, &parsed).clone();
        for _ in 0..rng.random_range(1..4) {
            mutate(&mut rng, &mut v, &[]);
        }
        let text = if rng.random_bool(0.05) {
            let t = v.to_string();
            let cut = rng.random_range(0..=t.len());
            let cut = (0..=cut).rev().find(|i| t.is_char_boundary(*i)).unwrap_or(0);
            t[..cut].to_string()
        } else {
            v.to_string()
        };
        match catch_unwind(AssertUnwindSafe(|| crate::scenario::parse(&text))) {
            Err(_) => report.fail(format!("scenario mutation {i} (seed {seed}) panicked the loader: {text}")),
            Ok(Err(e)) if e.message.is_empty() => {
                report.fail(format!("scenario mutation {i} (seed {seed}): an error that says nothing"))
            }
            Ok(_) => {}
        }
        report.scenarios += 1;
    }
    report.scenarios_per_s = report.scenarios as f64 / start.elapsed().as_secs_f64().max(1e-9);
}
