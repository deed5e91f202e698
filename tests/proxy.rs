//! `dpsim proxy` in front of `dpsim serve` (the stand-in for the real service; `--auth` on both
//! sides, so the proxy's re-signing is exercised; the upstream on the wall clock with
//! deadlines of a couple of seconds from its scenario file, the proxy told the same settings).
//! A lost acknowledgement through the proxy tells the same ownership story as in `serve`; a
//! service with a broken lease rule is caught on the service side; a runner that ignores
//! `canceled: true` on the runner side; bad upstreams and bad clients get clear errors while
//! the proxy keeps serving.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const UPSTREAM: (&str, &str) = ("AKIDUPSTREAM", "upstream-secret");
const CLIENT: (&str, &str) = ("AKIDCLIENT", "client-secret");
const TOKEN: &str = "proxy-admin-token";

/// A child process killed on drop, with the URL its first line announced and what it has
/// written on stderr (its log) so far.
struct Process {
    child: Child,
    url: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Process {
    /// Its stderr so far.
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// Keeps what `child` writes on stderr, passing it on to the test's own.
fn keep_stderr(child: &mut Child) -> std::sync::Arc<std::sync::Mutex<String>> {
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (stderr, kept) = (child.stderr.take().unwrap(), log.clone());
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            kept.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    log
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Process {
    start_with(args, &[])
}

/// `dpsim` with `args`, stdout piped and stderr kept, in an environment of the test's own
/// making (`envs`), nothing from the machine's AWS or proxy settings.
fn spawn(args: &[&str], envs: &[(&str, &str)]) -> (Child, std::sync::Arc<std::sync::Mutex<String>>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dpsim"));
    // Nothing from the machine's environment decides what a test does: it sets what it needs.
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DPSIM_UPSTREAM_CREDENTIALS"]
        .into_iter()
        .chain(["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"])
    {
        command.env_remove(var);
    }
    command.env_remove("AWS_PROFILE");
    command.env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/dpsim-test/credentials");
    command.env("AWS_CONFIG_FILE", "/nonexistent/dpsim-test/config");
    let mut child = command
        .envs(envs.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dpsim");
    let log = keep_stderr(&mut child);
    (child, log)
}

fn start_with(args: &[&str], envs: &[(&str, &str)]) -> Process {
    let (mut child, log) = spawn(args, envs);
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url =
        line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line}")).to_string();
    Process { child, url, log }
}

fn settings(extra: Value) -> tempfile_path::TempFile {
    let mut scenario = json!({"duration": "1h", "service": {"ack_timeout": "2s", "progress_timeout": "3s"}, "pipelines": [], "runners": []});
    if let (Some(s), Some(e)) = (scenario.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if k == "service" {
                for (sk, sv) in v.as_object().unwrap() {
                    s["service"][sk] = sv.clone();
                }
            } else {
                s.insert(k.clone(), v.clone());
            }
        }
    }
    tempfile_path::TempFile::with(&scenario.to_string())
}

/// A scratch file, removed on drop.
mod tempfile_path {
    pub struct TempFile(pub std::path::PathBuf);
    impl TempFile {
        pub fn with(text: &str) -> TempFile {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "dpsim-proxy-test-{}-{}.json",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }
        pub fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// `serve` with --auth on the wall clock, and a proxy in front of it with its own --auth,
/// re-signing with the upstream's credentials.
fn pair(upstream_settings: &str, proxy_settings: &str) -> (Process, Process) {
    pair_holding(upstream_settings, proxy_settings, "0")
}

/// `serve` with --auth (the upstream's credentials) on the wall clock, holding an empty
/// PollForTask `poll_hold_ms`.
fn authed_serve(settings: &str, poll_hold_ms: &str) -> Process {
    let upstream = format!("{}:{}", UPSTREAM.0, UPSTREAM.1);
    start(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--seed",
        "7",
        "--poll-hold-ms",
        poll_hold_ms,
        "--auth",
        &upstream,
        "--admin-token",
        TOKEN,
        "--scenario",
        settings,
    ])
}

/// [`pair`], with the upstream holding an empty PollForTask `poll_hold_ms`.
fn pair_holding(upstream_settings: &str, proxy_settings: &str, poll_hold_ms: &str) -> (Process, Process) {
    let serve = authed_serve(upstream_settings, poll_hold_ms);
    let (client, upstream) = (format!("{}:{}", CLIENT.0, CLIENT.1), format!("{}:{}", UPSTREAM.0, UPSTREAM.1));
    let proxy = start(&[
        "proxy",
        "--upstream",
        &serve.url,
        "--addr",
        "127.0.0.1:0",
        "--auth",
        &client,
        "--admin-token",
        TOKEN,
        "--upstream-credentials",
        &upstream,
        "--settings",
        proxy_settings,
        "--tolerance",
        "300ms",
    ]);
    (serve, proxy)
}

/// A signed AWS call; `Err` when nothing came back within `timeout`.
async fn call(url: &str, op: &str, body: Value, timeout: Duration) -> Result<(u16, Value), String> {
    let body = body.to_string();
    let authority = url.trim_start_matches("http://").to_string();
    let headers = [
        ("host", authority.as_str()),
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", &format!("DataPipeline.{op}")),
    ]
    .map(|(k, v)| (k, v.to_string()));
    let identity = AwsCredentials::new(CLIENT.0, CLIENT.1, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("datapipeline")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let uri = format!("{url}/");
    let signable = SignableRequest::new(
        "POST",
        &uri,
        headers.iter().map(|(k, v)| (*k, v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::post(&uri);
    for (k, v) in &headers {
        request = request.header(*k, v);
    }
    let mut request = request.body(Full::new(Bytes::from(body))).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    send(request, timeout).await
}

async fn send(request: http::Request<Full<Bytes>>, timeout: Duration) -> Result<(u16, Value), String> {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let answer = tokio::time::timeout(timeout, client.request(request)).await.map_err(|_| "timed out".to_string())?;
    let response = answer.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let value =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Ok((status, value))
}

async fn admin(url: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let request = http::Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Full::new(Bytes::from(body.map(|b| b.to_string()).unwrap_or_default())))
        .unwrap();
    send(request, Duration::from_secs(10)).await.unwrap().1
}

const DEFINITION: &str = r#"[
    {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
    {"id": "Copy", "name": "Copy", "fields": [{"key": "type", "stringValue": "ShellCommandActivity"},
                                               {"key": "workerGroup", "stringValue": "wg-1"}]}]"#;

/// A pipeline of one Copy, activated through `url`; the taskId `runner` is handed.
async fn handed_out(url: &str, runner: &str) -> String {
    activated(url).await;
    let t = Duration::from_secs(10);
    let (_, polled) = call(url, "PollForTask", json!({"workerGroup": "wg-1", "hostname": runner}), t).await.unwrap();
    polled["taskObject"]["taskId"].as_str().unwrap_or_else(|| panic!("{polled}")).to_string()
}

/// Asserts that the proxy's log and serve's own tell one lost acknowledgement's story (runner-a
/// assigned, expired, runner-b handed the task, runner-a's stale report), and that the proxy's
/// report passes; returns the report.
async fn lost_ack_story_told(proxy: &Process, serve: &Process) -> Value {
    let proxy_log = admin(&proxy.url, "GET", "/_dpsim/log", None).await;
    let serve_log = admin(&serve.url, "GET", "/_dpsim/log", None).await;
    let (proxy_log, serve_log) = (proxy_log.as_str().unwrap(), serve_log.as_str().unwrap());
    let expected: Vec<(String, String)> =
        [("assigned", "runner-a"), ("expired", "runner-a"), ("reassigned", "runner-b"), ("stale", "runner-a")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
    assert_eq!(story(proxy_log), expected, "the proxy's log:\n{proxy_log}");
    assert_eq!(story(serve_log), expected, "serve's own log of the same calls:\n{serve_log}");
    let report = admin(&proxy.url, "GET", "/_dpsim/report", None).await;
    assert_eq!(report["passed"], true, "{report:#}");
    report
}

/// The (what, runner) of the lines that tell a lease's story.
fn story(log: &str) -> Vec<(String, String)> {
    log.lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let what = ["assigned", "expired", "reassigned", "stale"].iter().find(|w| words.get(2) == Some(*w))?;
            let runner = if *what == "stale" { words.get(4) } else { words.get(3) };
            Some((what.to_string(), runner?.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_acknowledgement_through_the_proxy_tells_the_story_serve_tells() {
    let upstream_settings = settings(json!({}));
    let (serve, proxy) = pair(upstream_settings.path(), upstream_settings.path());
    let task = handed_out(&proxy.url, "runner-a").await;
    let fault = json!({"kind": "message", "operation": "ReportTaskProgress", "runner": "runner-a", "effect": {"type": "drop_request"}});
    assert!(admin(&proxy.url, "POST", "/_dpsim/faults", Some(fault)).await["id"].is_u64());
    let lost = call(&proxy.url, "ReportTaskProgress", json!({"taskId": task}), Duration::from_millis(800)).await;
    assert_eq!(lost, Err("timed out".to_string()), "the acknowledgement is lost: the caller hears nothing");
    tokio::time::sleep(Duration::from_millis(2_500)).await; // past the 2-second ack deadline
    let t = Duration::from_secs(10);
    let (_, again) =
        call(&proxy.url, "PollForTask", json!({"workerGroup": "wg-1", "hostname": "runner-b"}), t).await.unwrap();
    assert!(again["taskObject"]["taskId"].is_string(), "the task is handed on: {again}");
    let (_, stale) = call(&proxy.url, "ReportTaskProgress", json!({"taskId": task}), t).await.unwrap();
    assert_eq!(stale, json!({"canceled": true}), "the answer passes through unchanged");
    let report = lost_ack_story_told(&proxy, &serve).await;
    assert!(
        report["not_judged"].as_array().unwrap().iter().any(|i| i == "no_lost_task"),
        "it says what it cannot judge"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_that_hands_out_leased_tasks_is_caught_on_the_service_side() {
    // The upstream hands a task out to a second runner while the first one's lease is live.
    let buggy = settings(json!({"service": {"bug": "hand_out_leased"}}));
    let correct = settings(json!({}));
    let (_serve, proxy) = pair(buggy.path(), correct.path());
    handed_out(&proxy.url, "runner-a").await;
    let t = Duration::from_secs(10);
    call(&proxy.url, "PollForTask", json!({"workerGroup": "wg-1", "hostname": "runner-b"}), t).await.unwrap();
    let report = admin(&proxy.url, "GET", "/_dpsim/report", None).await;
    assert_eq!(report["passed"], false, "{report:#}");
    // Two runners held one task: the outside's lease model (from the answers) says so.
    let owner = report["invariants"].as_array().unwrap().iter().find(|i| i["name"] == "single_owner").unwrap();
    assert_eq!(owner["held"], false, "{report:#}");
    assert!(owner["side"].as_str().unwrap().starts_with("service"), "{owner}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_that_ignores_canceled_is_caught_on_the_runner_side() {
    let upstream = settings(json!({}));
    let proxy_settings = settings(json!({"zombie_bound": "1s"}));
    let (_serve, proxy) = pair(upstream.path(), proxy_settings.path());
    let task = handed_out(&proxy.url, "runner-a").await;
    tokio::time::sleep(Duration::from_millis(2_500)).await; // unacknowledged: the lease expires
    let t = Duration::from_secs(10);
    for _ in 0..4 {
        let (_, answer) = call(&proxy.url, "ReportTaskProgress", json!({"taskId": task}), t).await.unwrap();
        assert_eq!(answer["canceled"], true);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    a_zombie_on_the_runner_side(&proxy).await;
}

/// A server that accepts connections and answers each with `reply` (or nothing).
fn fake_upstream(reply: Option<&'static [u8]>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            match reply {
                Some(bytes) => {
                    let _ = stream.write_all(bytes);
                }
                None => held.push(stream),
            }
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_upstreams_and_bad_clients_get_clear_errors_and_the_proxy_keeps_serving() {
    let t = Duration::from_secs(20);
    let poll = json!({"workerGroup": "wg-1", "hostname": "r"});
    // Nothing listens there.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let unreachable = start(&["proxy", "--upstream", &format!("http://{closed}"), "--addr", "127.0.0.1:0"]);
    let (status, answer) = call(&unreachable.url, "PollForTask", poll.clone(), t).await.unwrap();
    assert_eq!(status, 502, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("could not be reached"), "{answer}");
    // Not HTTP at all.
    let garbage =
        start(&["proxy", "--upstream", &fake_upstream(Some(b"\x00\x01garbage\r\n\r\n")), "--addr", "127.0.0.1:0"]);
    let (status, answer) = call(&garbage.url, "PollForTask", poll.clone(), t).await.unwrap();
    assert_eq!(status, 502, "{answer}");
    // Hangs.
    let hangs =
        start(&["proxy", "--upstream", &fake_upstream(None), "--addr", "127.0.0.1:0", "--upstream-timeout", "1s"]);
    let (status, answer) = call(&hangs.url, "PollForTask", poll.clone(), t).await.unwrap();
    assert_eq!(status, 504, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("did not answer within"), "{answer}");
    // Each proxy still serves its admin routes, and its log (stderr) says what went wrong.
    for (p, said) in
        [(&unreachable, "could not be reached"), (&garbage, "gave no readable HTTP answer"), (&hangs, "did not answer")]
    {
        let report = admin(&p.url, "GET", "/_dpsim/report", None).await;
        assert_eq!(report["passed"], true, "{report}");
        let log = p.log();
        assert!(log.contains("PollForTask: the upstream") && log.contains(said), "{log}");
    }
    // Garbage from a client reaches the upstream unchanged, and so does its answer.
    let upstream_settings = settings(json!({}));
    let (_serve, proxy) = pair(upstream_settings.path(), upstream_settings.path());
    let (status, answer) = call(&proxy.url, "PollForTask", json!("not an object"), t).await.unwrap();
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["__type"], "SerializationException", "the service's own error: {answer}");
    // An operation dpsim does not know goes upstream unchanged, its answer back, and the log says so.
    let (status, answer) = call(&proxy.url, "GetAccountLimits", json!({}), t).await.unwrap();
    assert_eq!(
        (status, answer["__type"].as_str()),
        (400, Some("UnknownOperationException")),
        "the upstream's: {answer}"
    );
    let log = proxy.log();
    assert!(log.contains("DataPipeline.GetAccountLimits: not an operation dpsim knows; forwarded unchanged"), "{log}");
    // An unsigned call is refused by the proxy's own --auth.
    let request = http::Request::post(format!("{}/", proxy.url))
        .header("x-amz-target", "DataPipeline.PollForTask")
        .body(Full::new(Bytes::from("{}")))
        .unwrap();
    let (status, answer) = send(request, t).await.unwrap();
    assert!(status >= 400 && answer["__type"] == "MissingAuthenticationTokenException", "{status} {answer}");
}

/// An https:// upstream is reached over TLS with its certificate checked: a self-signed one
/// (here `openssl s_server`'s) is refused, and the client hears why.
#[tokio::test(flavor = "multi_thread")]
async fn an_https_upstream_with_an_untrusted_certificate_is_refused() {
    let dir = std::env::temp_dir().join(format!("dpsim-proxy-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian's openssl package) makes the test's certificate");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &port.to_string(), "-cert"])
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let proxy = start(&["proxy", "--upstream", &format!("https://localhost:{port}"), "--addr", "127.0.0.1:0"]);
    let poll = json!({"workerGroup": "wg-1", "hostname": "r"});
    let (status, answer) = call(&proxy.url, "PollForTask", poll, Duration::from_secs(20)).await.unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status, 502, "{answer}");
    let message = answer["message"].as_str().unwrap_or_default().to_lowercase();
    assert!(message.contains("certificate"), "the client hears that the certificate was refused: {answer}");
}

/// A control-plane event posted to the proxy goes upstream as real calls (QueryObjects, then
/// SetStatus TRY_CANCEL, signed like every forwarded call), is recorded like them, and the
/// runner's next report hears `canceled: true`; a name that hits nothing is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_posted_to_the_proxy_goes_upstream_as_real_calls() {
    let upstream_settings = settings(json!({}));
    let (serve, proxy) = pair(upstream_settings.path(), upstream_settings.path());
    let task = handed_out(&proxy.url, "runner-a").await;
    let t = Duration::from_secs(10);
    call(&proxy.url, "ReportTaskProgress", json!({"taskId": task}), t).await.unwrap();
    let applied = admin(&proxy.url, "POST", "/_dpsim/faults", Some(json!({"kind": "cancel", "task": "Copy"}))).await;
    assert_eq!(applied["applied"], "TRY_CANCEL Copy (1 instance(s))", "{applied}");
    let (_, answer) = call(&proxy.url, "ReportTaskProgress", json!({"taskId": task}), t).await.unwrap();
    assert_eq!(answer["canceled"], true);
    let serve_log = admin(&serve.url, "GET", "/_dpsim/log", None).await;
    assert!(serve_log.as_str().unwrap().contains("TRY_CANCEL"), "the upstream saw the call: {serve_log}");
    let report = admin(&proxy.url, "GET", "/_dpsim/report", None).await;
    assert_eq!(report["passed"], true, "the history knows of the cancel it made: {report:#}");
    let refused =
        admin(&proxy.url, "POST", "/_dpsim/faults", Some(json!({"kind": "deactivate", "pipeline": "nope"}))).await;
    assert!(refused["error"].as_str().unwrap().contains("no pipeline is named \"nope\"; pipelines: copy"), "{refused}");
    let refused = admin(&proxy.url, "POST", "/_dpsim/faults", Some(json!({"kind": "cancel", "task": "Nope"}))).await;
    assert!(refused["error"].as_str().unwrap().contains("no instance of an activity \"Nope\""), "{refused}");
    let refused =
        admin(&proxy.url, "POST", "/_dpsim/faults", Some(json!({"kind": "terminate", "runner": "runner-a"}))).await;
    assert!(refused["error"].as_str().unwrap().contains("cannot be applied through the proxy"), "{refused}");
}

/// Without --upstream-credentials, the proxy signs with the standard AWS environment variables,
/// as every AWS tool does. (`serve` has no STS and refuses any session token, so
/// AWS_SESSION_TOKEN, which the proxy also signs with, is not set here.)
#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_signs_with_the_standard_aws_environment_variables() {
    let upstream_settings = settings(json!({}));
    let serve = authed_serve(upstream_settings.path(), "0");
    let proxy = start_with(
        &["proxy", "--upstream", &serve.url, "--addr", "127.0.0.1:0"],
        &[("AWS_ACCESS_KEY_ID", UPSTREAM.0), ("AWS_SECRET_ACCESS_KEY", UPSTREAM.1)],
    );
    let task = handed_out(&proxy.url, "runner-a").await;
    assert!(!task.is_empty(), "signed with the environment's credentials, the upstream answered");
    let unsigned = start(&["proxy", "--upstream", &serve.url, "--addr", "127.0.0.1:0"]);
    let poll = json!({"workerGroup": "wg-1", "hostname": "r"});
    let (status, answer) = call(&unsigned.url, "PollForTask", poll, Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        (status, answer["__type"].as_str()),
        (400, Some("UnrecognizedClientException")),
        "without credentials the client's own signature reaches the upstream, which refuses it: {answer}"
    );
}

/// `dpsim runner` as runner entry `entry` of `scenario`, signing with the client's
/// credentials; its events (JSON lines) are collected as they come.
struct Runner {
    _process: Process,
    events: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl Runner {
    fn start(url: &str, scenario: &str, entry: &str) -> Runner {
        let credentials = format!("{}:{}", CLIENT.0, CLIENT.1);
        let args = ["runner", "--endpoint", url, "--scenario", scenario, "--runner", entry, "--poll-hold", "2s"];
        let (mut child, log) = spawn(&[&args[..], &["--credentials", &credentials]].concat(), &[]);
        let stdout = child.stdout.take().unwrap();
        let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
                sink.lock().unwrap().push(event);
            }
        });
        Runner { _process: Process { child, url: String::new(), log }, events }
    }

    /// The first event of `kind`, waiting up to 20 s for it.
    async fn first(&self, kind: &str) -> Value {
        for _ in 0..1000 {
            if let Some(e) = self.events.lock().unwrap().iter().find(|e| e["kind"] == kind) {
                return e.clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no {kind} event in {:#?}", self.events.lock().unwrap());
    }
}

/// Runner entries for `dpsim runner`: quick reports, quick give-ups on a lost call.
fn runner_entries(behaviour: Value) -> Value {
    let entry = |name: &str| {
        json!({"name": name, "worker_group": "wg-1", "report_interval": "300ms", "request_timeout": "400ms",
               "heartbeat_interval": "5s", "backoff": "50ms", "backoff_max": "100ms", "behaviour": behaviour})
    };
    json!({"runners": [entry("runner-a"), entry("runner-b")]})
}

/// A fault dropping every progress report `runner` sends, until it is removed.
fn drop_reports_of(runner: &str) -> Value {
    json!({"kind": "message", "operation": "ReportTaskProgress", "runner": runner,
           "effect": {"type": "drop_request"}, "count": 100000})
}

/// A pipeline of one Copy activated through `url`, nobody polling yet.
async fn activated(url: &str) {
    let t = Duration::from_secs(10);
    let (_, created) = call(url, "CreatePipeline", json!({"name": "copy", "uniqueId": "copy"}), t).await.unwrap();
    let id = created["pipelineId"].as_str().unwrap_or_else(|| panic!("{created}")).to_string();
    let objects: Value = serde_json::from_str(DEFINITION).unwrap();
    call(url, "PutPipelineDefinition", json!({"pipelineId": id, "pipelineObjects": objects}), t).await.unwrap();
    call(url, "ActivatePipeline", json!({"pipelineId": id}), t).await.unwrap();
}

/// Runner-a (`dpsim runner`) behind the proxy, handed the task while the proxy drops its
/// progress reports, until its acknowledgement deadline (2 s) has passed upstream: the
/// runner, its taskId and the fault (to remove).
async fn runner_a_loses_its_acks(proxy: &Process, runners: &tempfile_path::TempFile) -> (Runner, String, Value) {
    let lost = admin(&proxy.url, "POST", "/_dpsim/faults", Some(drop_reports_of("runner-a"))).await;
    activated(&proxy.url).await;
    let a = Runner::start(&proxy.url, runners.path(), "runner-a");
    let task = a.first("starts_work").await["task_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    (a, task, lost)
}

/// Asserts the proxy's report breaks zombie_bound on the runner side while history holds.
async fn a_zombie_on_the_runner_side(proxy: &Process) {
    let report = admin(&proxy.url, "GET", "/_dpsim/report", None).await;
    let zombie = report["invariants"].as_array().unwrap().iter().find(|i| i["name"] == "zombie_bound").unwrap();
    assert_eq!(zombie["held"], false, "{report:#}");
    assert!(zombie["side"].as_str().unwrap().starts_with("runner"), "{zombie}");
    let history = report["invariants"].as_array().unwrap().iter().find(|i| i["name"] == "history").unwrap();
    assert_eq!(history["held"], true, "the service did nothing wrong: {report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dpsims_own_runner_behind_the_proxy_tells_the_lost_ack_story() {
    let upstream_settings = settings(json!({}));
    let runners = settings(runner_entries(json!({})));
    let (serve, proxy) = pair_holding(upstream_settings.path(), upstream_settings.path(), "1000");
    let (a, task, lost) = runner_a_loses_its_acks(&proxy, &runners).await;
    let b = Runner::start(&proxy.url, runners.path(), "runner-b");
    let handed_on = b.first("starts_work").await;
    assert_ne!(handed_on["task_id"], task, "runner-b is handed the expired task anew: {handed_on}");
    admin(&proxy.url, "DELETE", &format!("/_dpsim/faults/{}", lost["id"]), None).await;
    let learned = a.first("learns_lost").await;
    assert_eq!((learned["task_id"].as_str(), learned["how"].as_str()), (Some(task.as_str()), Some("canceled=true")));
    assert_eq!(a.first("stops_work").await["reason"], "lost the task", "it honours canceled");
    lost_ack_story_told(&proxy, &serve).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dpsims_runner_that_ignores_canceled_is_caught_behind_the_proxy_on_the_runner_side() {
    let upstream = settings(json!({}));
    let proxy_settings = settings(json!({"zombie_bound": "1s"}));
    let runners = settings(runner_entries(json!({"ignore_canceled": true})));
    let (_serve, proxy) = pair_holding(upstream.path(), proxy_settings.path(), "1000");
    let (a, task, lost) = runner_a_loses_its_acks(&proxy, &runners).await;
    admin(&proxy.url, "DELETE", &format!("/_dpsim/faults/{}", lost["id"]), None).await;
    let learned = a.first("learns_lost").await;
    assert_eq!((learned["task_id"].as_str(), learned["how"].as_str()), (Some(task.as_str()), Some("canceled=true")));
    tokio::time::sleep(Duration::from_millis(1_500)).await; // it keeps working past the 1 s bound
    a_zombie_on_the_runner_side(&proxy).await;
}

/// A certificate authority of the test's own, and a certificate for `localhost` it signed
/// (what a staging endpoint or a TLS-inspecting proxy presents): (ca.pem, leaf.pem, leaf.key).
fn test_authority(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let run = |args: &[&str]| {
        let made = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (Debian's openssl)");
        assert!(made.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&made.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=dpsim-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "leaf.key", "-out", "leaf.csr"]);
    std::fs::write(dir.join("ext"), "subjectAltName=DNS:localhost\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext",
        "-out",
        "leaf.pem",
    ]);
    (dir.join("ca.pem"), dir.join("leaf.pem"), dir.join("leaf.key"))
}

/// A TLS endpoint in front of `backend` (host:port), as the real service's HTTPS endpoint
/// stands in front of it: returns its port.
async fn tls_front(cert: &std::path::Path, key: &std::path::Path, backend: String) -> u16 {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(cert).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    #[allow(deprecated)] // ring, as the proxy uses it
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, backend) = (acceptor.clone(), backend.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}

/// An HTTP proxy that answers CONNECT with a tunnel to the named target, as a corporate
/// proxy does; returns its URL and the request heads it received.
async fn connect_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                seen.lock().unwrap().push(head.clone());
                let target = head.split_whitespace().nth(1).unwrap_or_default().to_string();
                let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (url, heads)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_upstream_is_reached_through_https_proxy_with_its_certificate_checked() {
    let dir = std::env::temp_dir().join(format!("dpsim-proxy-via-{}", std::process::id()));
    let (ca, cert, key) = test_authority(&dir);
    let serve = start(&["serve", "--addr", "127.0.0.1:0", "--poll-hold-ms", "0"]);
    let port = tls_front(&cert, &key, serve.url.trim_start_matches("http://").to_string()).await;
    let (proxy_url, heads) = connect_proxy().await;
    let via = proxy_url.replace("http://", "http://tunnel-user:tunnel-pass@");
    let upstream = format!("https://localhost:{port}");
    let args = ["proxy", "--upstream", &upstream, "--addr", "127.0.0.1:0", "--upstream-ca", ca.to_str().unwrap()];
    let through = start_with(&args, &[("HTTPS_PROXY", &via), ("NO_PROXY", "")]);
    let poll = json!({"workerGroup": "wg-1", "hostname": "r"});
    let (status, answer) = call(&through.url, "PollForTask", poll.clone(), Duration::from_secs(20)).await.unwrap();
    assert_eq!((status, &answer), (200, &json!({})), "serve's answer, through the tunnel and TLS");
    let head = heads.lock().unwrap().first().cloned().expect("the call went through the HTTP proxy");
    assert!(head.starts_with(&format!("CONNECT localhost:{port} HTTP/1.1\r\n")), "{head}");
    assert!(head.contains("Basic dHVubmVsLXVzZXI6dHVubmVsLXBhc3M="), "the proxy URL's credentials: {head}");
    // NO_PROXY covers the host: straight to the upstream, the HTTP proxy never asked.
    let direct = start_with(&args, &[("HTTPS_PROXY", &via), ("NO_PROXY", "localhost")]);
    let (status, _) = call(&direct.url, "PollForTask", poll.clone(), Duration::from_secs(20)).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(heads.lock().unwrap().len(), 1, "NO_PROXY honoured");
    // Without the authority it trusts, the same certificate is refused through the tunnel.
    let untrusted = start_with(&args[..5], &[("HTTPS_PROXY", &via)]);
    let (status, answer) = call(&untrusted.url, "PollForTask", poll, Duration::from_secs(20)).await.unwrap();
    assert_eq!(status, 502, "{answer}");
    assert!(answer["message"].as_str().unwrap_or_default().to_lowercase().contains("certificate"), "{answer}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_upstream_proxy_or_authority_file_is_refused_at_start() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_dpsim")).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let base = ["proxy", "--upstream", "https://localhost:1", "--addr", "127.0.0.1:0"];
    let garbage = tempfile_path::TempFile::with("not a certificate");
    let (code, err) = run(&[&base[..], &["--upstream-ca", garbage.path()]].concat());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no PEM certificate"), "{err}");
    let (code, err) = run(&[&base[..], &["--upstream-proxy", "socks5://127.0.0.1:1080"]].concat());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("expected `direct` or http://host:port"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_signs_with_a_shared_profile_as_aws_tools_do() {
    let upstream_settings = settings(json!({}));
    let serve = authed_serve(upstream_settings.path(), "0");
    let credentials = tempfile_path::TempFile::with(&format!(
        "[default]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = wrong\n\n\
         [staging]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        UPSTREAM.0, UPSTREAM.1
    ));
    let config = tempfile_path::TempFile::with("[profile staging]\nregion = us-east-1\n");
    let files = [("AWS_SHARED_CREDENTIALS_FILE", credentials.path()), ("AWS_CONFIG_FILE", config.path())];
    let args = ["proxy", "--upstream", &serve.url, "--addr", "127.0.0.1:0"];
    let staging = start_with(&args, &[&files[..], &[("AWS_PROFILE", "staging")]].concat());
    let task = handed_out(&staging.url, "runner-a").await;
    assert!(!task.is_empty(), "signed with profile staging's keys, the upstream answered");
    let default = start_with(&args, &files);
    let poll = json!({"workerGroup": "wg-1", "hostname": "r"});
    let (status, answer) = call(&default.url, "PollForTask", poll, Duration::from_secs(10)).await.unwrap();
    assert_eq!((status, answer["__type"].as_str()), (400, Some("UnrecognizedClientException")), "{answer}");
    // A profile that cannot give credentials stops the proxy at start, saying which.
    let broken = tempfile_path::TempFile::with("[default]\naws_access_key_id = AKIDHALF\n");
    let out = Command::new(env!("CARGO_BIN_EXE_dpsim"))
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env("AWS_SHARED_CREDENTIALS_FILE", broken.path())
        .env("AWS_CONFIG_FILE", "/nonexistent/dpsim-test/config")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("from the shared AWS profile \"default\"") && err.contains("upstream credentials: "), "{err}");
    assert!(err.contains("missing aws_secret_access_key"), "the SDK's own reason: {err}");
}

/// A server that answers every request `{}` and keeps the requests it received, as text.
fn capturing_upstream() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::Read;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = requests.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut text = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then as many body bytes as it announces.
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                text.extend_from_slice(&buf[..n]);
                let head_end = text.windows(4).position(|w| w == b"\r\n\r\n");
                let head = String::from_utf8_lossy(&text).to_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)));
                if head_end.is_some_and(|end| text.len() >= end + 4 + length.unwrap_or(0)) {
                    break;
                }
            }
            kept.lock().unwrap().push(String::from_utf8_lossy(&text).to_string());
            let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: 2\r\n\r\n{}";
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, requests)
}

#[tokio::test(flavor = "multi_thread")]
async fn temporary_credentials_sign_with_their_session_token() {
    let (upstream, requests) = capturing_upstream();
    let token = "FwoGZXIvYXdzEXAMPLE-session-token";
    let env = [
        ("AWS_ACCESS_KEY_ID", "ASIATEMPORARY"),
        ("AWS_SECRET_ACCESS_KEY", "temporary-secret"),
        ("AWS_SESSION_TOKEN", token),
    ];
    let proxy = start_with(&["proxy", "--upstream", &upstream, "--addr", "127.0.0.1:0"], &env);
    let poll = json!({"workerGroup": "wg-1", "hostname": "r"});
    let (status, _) = call(&proxy.url, "PollForTask", poll.clone(), Duration::from_secs(10)).await.unwrap();
    assert_eq!(status, 200);
    let request = requests.lock().unwrap().first().cloned().unwrap();
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
            .unwrap_or_else(|| panic!("no {name} in {head}"))
    };
    assert_eq!(header("x-amz-security-token"), token);
    let authorization = header("authorization");
    assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=ASIATEMPORARY/"), "{authorization}");
    assert!(authorization.contains("x-amz-security-token"), "the token is signed: {authorization}");
    // The signature is the one AWS's own signer gives the same request with the same token.
    let date = time::PrimitiveDateTime::parse(
        header("x-amz-date"),
        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
    )
    .unwrap()
    .assume_utc();
    let identity = AwsCredentials::new("ASIATEMPORARY", "temporary-secret", Some(token.into()), None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("datapipeline")
        .time(date.into())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signed: Vec<(&str, &str)> =
        ["host", "content-type", "x-amz-target"].iter().map(|name| (*name, header(name))).collect();
    let uri = format!("{upstream}/");
    let signable =
        SignableRequest::new("POST", &uri, signed.into_iter(), SignableBody::Bytes(body.as_bytes())).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let expected = instructions.headers().find(|(n, _)| n.eq_ignore_ascii_case("authorization")).unwrap().1;
    assert_eq!(authorization, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pipelines_report_progress_timeout_sets_the_proxys_deadlines() {
    // The settings say 3 s between reports; the pipeline's definition says 10 minutes.
    let upstream_settings = settings(json!({}));
    let (_serve, proxy) = pair(upstream_settings.path(), upstream_settings.path());
    let t = Duration::from_secs(10);
    let (_, created) =
        call(&proxy.url, "CreatePipeline", json!({"name": "slow", "uniqueId": "slow"}), t).await.unwrap();
    let id = created["pipelineId"].as_str().unwrap().to_string();
    let mut objects: Value = serde_json::from_str(DEFINITION).unwrap();
    objects[0]["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "reportProgressTimeout", "stringValue": "10 minutes"}));
    call(&proxy.url, "PutPipelineDefinition", json!({"pipelineId": id, "pipelineObjects": objects}), t).await.unwrap();
    call(&proxy.url, "ActivatePipeline", json!({"pipelineId": id}), t).await.unwrap();
    let (_, polled) =
        call(&proxy.url, "PollForTask", json!({"workerGroup": "wg-1", "hostname": "runner-a"}), t).await.unwrap();
    let task = polled["taskObject"]["taskId"].as_str().unwrap().to_string();
    let (_, acked) = call(&proxy.url, "ReportTaskProgress", json!({"taskId": task}), t).await.unwrap();
    assert_eq!(acked, json!({"canceled": false}));
    tokio::time::sleep(Duration::from_millis(3_500)).await; // past the settings' 3 s, well within 10 minutes
    let (_, renewed) = call(&proxy.url, "ReportTaskProgress", json!({"taskId": task}), t).await.unwrap();
    assert_eq!(renewed, json!({"canceled": false}), "the upstream holds the definition's deadline");
    let log = admin(&proxy.url, "GET", "/_dpsim/log", None).await;
    let log = log.as_str().unwrap();
    let acknowledged = log.lines().find(|l| l.contains("acknowledged")).unwrap_or_else(|| panic!("{log}"));
    assert!(acknowledged.contains("next report by +00:10:0"), "the inherited reportProgressTimeout: {log}");
    assert!(!log.contains("expired"), "{log}");
    let report = admin(&proxy.url, "GET", "/_dpsim/report", None).await;
    assert_eq!(report["passed"], true, "{report:#}");
}
