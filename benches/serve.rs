//! `serve` under load over loopback: N concurrent clients each repeating the task-runner cycle
//! PollForTask -> ReportTaskProgress -> SetTaskStatus on one kept-alive connection, against
//! `serve` (edge, front door, core) and, as the baseline measured in the same run, a bare axum
//! server on the same runtime answering `{}`. Then `dpsim proxy` in front of a `serve` of its
//! own against that `serve` called directly, in the same run: the proxy's overhead. Prints
//! requests/s and p50/p99 latency.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dpsim::serve::ServeOptions;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

const CYCLES_PER_CLIENT: usize = 400;

async fn connect(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    sender
}

async fn call(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    op: &str,
    body: Value,
    latencies: &mut Vec<Duration>,
) -> Value {
    let request = http::Request::post("/")
        .header("host", "localhost")
        .header("x-amz-target", format!("DataPipeline.{op}"))
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let start = Instant::now();
    sender.ready().await.expect("ready");
    let response = sender.send_request(request).await.expect("response");
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    latencies.push(start.elapsed());
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// Runs `clients` clients of `CYCLES_PER_CLIENT` cycles; returns requests/s and latencies.
async fn load(addr: SocketAddr, clients: usize) -> (f64, Vec<Duration>) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await;
            let mut latencies = Vec::with_capacity(CYCLES_PER_CLIENT * 3);
            let host = format!("bench-{c}");
            for _ in 0..CYCLES_PER_CLIENT {
                let polled =
                    call(&mut sender, "PollForTask", json!({"workerGroup": "wg", "hostname": host}), &mut latencies)
                        .await;
                let task = polled["taskObject"]["taskId"].as_str().unwrap_or("1.0").to_string();
                call(&mut sender, "ReportTaskProgress", json!({"taskId": task}), &mut latencies).await;
                let done = json!({"taskId": task, "taskStatus": "FINISHED"});
                call(&mut sender, "SetTaskStatus", done, &mut latencies).await;
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    let wall = start.elapsed().as_secs_f64();
    (all.len() as f64 / wall, all)
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn serve_under_test(tasks: usize) -> SocketAddr {
    let options = ServeOptions {
        addr: "127.0.0.1:0".parse().expect("addr"),
        poll_hold_ms: Some(0),
        seed: Some(1),
        ..ServeOptions::default()
    };
    let serving = dpsim::serve::bind(options).await.expect("bind");
    let addr = serving.local_addr();
    tokio::spawn(serving.serve_until(std::future::pending()));
    let mut sender = connect(addr).await;
    let mut ignored = Vec::new();
    let id = call(&mut sender, "CreatePipeline", json!({"name": "bench", "uniqueId": "bench"}), &mut ignored).await;
    let id = id["pipelineId"].as_str().expect("pipeline id").to_string();
    let objects = json!([
        {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
        {"id": "Copy", "name": "Copy", "fields": [{"key": "type", "stringValue": "ShellCommandActivity"},
                                                   {"key": "workerGroup", "stringValue": "wg"}]}]);
    call(&mut sender, "PutPipelineDefinition", json!({"pipelineId": id, "pipelineObjects": objects}), &mut ignored)
        .await;
    for _ in 0..tasks {
        call(&mut sender, "ActivatePipeline", json!({"pipelineId": id}), &mut ignored).await;
    }
    addr
}

/// `dpsim proxy` in front of `upstream`.
async fn proxy_in_front(upstream: SocketAddr) -> SocketAddr {
    let mut options = dpsim::proxy::ProxyOptions::new(format!("http://{upstream}").parse().expect("uri"));
    options.addr = "127.0.0.1:0".parse().expect("addr");
    let proxying = dpsim::proxy::bind(options).await.expect("bind the proxy");
    let addr = proxying.local_addr();
    tokio::spawn(proxying.serve_until(std::future::pending()));
    addr
}

async fn bare() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().fallback(|| async { ([("content-type", "application/x-amz-json-1.1")], "{}") });
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("serve bench: run with `cargo bench --bench serve`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        println!(
            "serve: {CYCLES_PER_CLIENT} PollForTask+ReportTaskProgress+SetTaskStatus cycles per client over loopback"
        );
        println!(
            "{:<8} {:>9} {:>12} {:>10} {:>10} {:>14} {:>12}",
            "clients", "", "requests/s", "p50 ms", "p99 ms", "bare req/s", "bare/serve"
        );
        for clients in [1, 8, 32] {
            let serve_addr = serve_under_test(clients * CYCLES_PER_CLIENT).await;
            let (rate, mut lat) = load(serve_addr, clients).await;
            lat.sort();
            let (bare_rate, _) = load(bare().await, clients).await;
            println!(
                "{clients:<8} {:>9} {rate:>12.0} {:>10.3} {:>10.3} {bare_rate:>14.0} {:>11.2}x",
                "serve",
                quantile(&lat, 0.5).as_secs_f64() * 1e3,
                quantile(&lat, 0.99).as_secs_f64() * 1e3,
                bare_rate / rate
            );
        }
        println!("proxy: the same cycles through `dpsim proxy` against calling its upstream `serve` directly");
        println!(
            "{:<8} {:>12} {:>10} {:>10} {:>14} {:>10} {:>12} {:>14}",
            "clients", "direct req/s", "p50 ms", "p99 ms", "proxied req/s", "p50 ms", "p99 ms", "added p50 ms"
        );
        for clients in [1, 8, 32] {
            let (direct, mut direct_lat) = load(serve_under_test(clients * CYCLES_PER_CLIENT).await, clients).await;
            direct_lat.sort();
            let upstream = serve_under_test(clients * CYCLES_PER_CLIENT).await;
            let (proxied, mut proxied_lat) = load(proxy_in_front(upstream).await, clients).await;
            proxied_lat.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "{clients:<8} {direct:>12.0} {:>10.3} {:>10.3} {proxied:>14.0} {:>10.3} {:>12.3} {:>14.3}",
                ms(quantile(&direct_lat, 0.5)),
                ms(quantile(&direct_lat, 0.99)),
                ms(quantile(&proxied_lat, 0.5)),
                ms(quantile(&proxied_lat, 0.99)),
                ms(quantile(&proxied_lat, 0.5)) - ms(quantile(&direct_lat, 0.5))
            );
        }
    });
}
