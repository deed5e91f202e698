//! Drives `dpsim serve` with the real AWS SDK for Python (boto3, driven by
//! `tests/real_client/flow.py`), so the wire format, SigV4 checking and error
//! codes are judged by a client people actually use, not by our own reading of
//! the spec.
//!
//! Needs `python3` with pip; boto3 is installed on first use into
//! `CARGO_TARGET_TMPDIR/pydeps` from PyPI, so a fresh machine needs no manual
//! step.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Pinned so that a botocore change cannot silently alter what is tested.
const BOTO3_VERSION: &str = "1.44.8";
/// The AWS CLI the README's flow script is tested with.
const AWSCLI_VERSION: &str = "1.46.2";
/// Short, so the empty poll at the end of the main flow costs seconds, yet long
/// enough that flow.py can tell a poll woken by ActivatePipeline (well under a
/// second) from one that answered when its hold ran out.
const POLL_HOLD_MS: &str = "5000";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Far above the flow's normal few seconds: only a hang should reach it.
const FLOW_TIMEOUT: Duration = Duration::from_secs(300);
const LISTENING_PREFIX: &str = "dpsim serve listening on ";

/// Kills the child when dropped, so a failing assertion never leaks a process.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Copies a pipe into `sink` until EOF; the first line also goes to
/// `first_line`. Draining keeps the child from blocking on a full pipe.
fn drain(
    pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<String>>,
    first_line: Option<mpsc::Sender<String>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut first_line = first_line;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf);
            if let Some(tx) = first_line.take() {
                let _ = tx.send(line.trim_end().to_string());
            }
            sink.lock().unwrap().push_str(&line);
        }
    })
}

struct Server {
    child: ChildGuard,
    endpoint: String,
    output: Arc<Mutex<String>>,
}

impl Server {
    fn start(extra_args: &[&str]) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_dpsim"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dpsim serve");
        let mut server =
            Server { child: ChildGuard(child), endpoint: String::new(), output: Arc::new(Mutex::new(String::new())) };
        let stdout = server.child.0.stdout.take().unwrap();
        let stderr = server.child.0.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        drain(stdout, server.output.clone(), Some(tx));
        drain(stderr, server.output.clone(), None);

        let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("dpsim serve printed no line within {STARTUP_TIMEOUT:?}; output so far:\n{}", server.output())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Give the exit status a moment to appear, without hanging on
                // a server that closed stdout but keeps running.
                let deadline = Instant::now() + Duration::from_secs(5);
                let mut status = server.child.0.try_wait();
                while matches!(status, Ok(None)) && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(50));
                    status = server.child.0.try_wait();
                }
                panic!(
                    "dpsim serve closed stdout before its listening line (exit: {status:?}); output:\n{}",
                    server.output()
                )
            }
        };
        let endpoint = line
            .strip_prefix(LISTENING_PREFIX)
            .filter(|url| {
                url.strip_prefix("http://127.0.0.1:").is_some_and(|port| port.parse::<u16>().is_ok_and(|p| p != 0))
            })
            .unwrap_or_else(|| {
                panic!(
                    "dpsim serve's first stdout line is {line:?}, want \
                     \"{LISTENING_PREFIX}http://127.0.0.1:PORT\"; output:\n{}",
                    server.output()
                )
            });
        server.endpoint = endpoint.to_string();
        server
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }
}

fn require_python3() {
    match Command::new("python3").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`python3 --version` failed ({}): install Python 3 to run the real-client tests\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "cannot run python3 ({e}): install Python 3 with pip (e.g. `apt-get install python3 \
             python3-pip`) to run the real-client tests"
        ),
    }
}

/// A python3 command isolated from the developer's own AWS setup, so boto3
/// never finds real credentials, profiles, endpoints or a metadata service.
fn python(pydeps: &Path) -> Command {
    let mut cmd = Command::new("python3");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("PYTHONPATH", pydeps)
        .env("PYTHONNOUSERSITE", "1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        // botocore honours proxy variables; the server is on loopback.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null());
    cmd
}

/// Checks the version, not just the import: a system-wide package of another version would
/// otherwise satisfy the check.
fn pinned_importable(dir: &Path, module: &str, version: &str) -> bool {
    python(dir)
        .args(["-c", &format!("import sys, {module}; sys.exit({module}.__version__ != '{version}')")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs `package==version` (imported as `module`) from PyPI into `CARGO_TARGET_TMPDIR/dir`
/// unless it is there already.
fn install(dir: &str, package: &str, module: &str, version: &str) -> PathBuf {
    require_python3();
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.join(dir);
    fs::create_dir_all(tmp).expect("create CARGO_TARGET_TMPDIR");
    // The OnceLock serialises the tests of this binary; the file lock also
    // covers runners that put each test in its own process (nextest).
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(tmp.join(format!("{dir}.lock")))
        .expect("open the install lock");
    lock.lock().expect("lock the install lock");
    if pinned_importable(&target, module, version) {
        return target;
    }
    // Install beside it and rename, because pip --target will not overwrite
    // what an interrupted earlier install left behind.
    let staging = tmp.join(format!("{dir}.partial"));
    let _ = fs::remove_dir_all(&staging);
    let out = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"])
        .arg(&staging)
        .arg(format!("{package}=={version}"))
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .output()
        .expect("run python3 -m pip");
    assert!(
        out.status.success(),
        "installing {package}=={version} with pip failed ({}); install pip for python3 \
         (e.g. `apt-get install python3-pip`) and make PyPI reachable\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = fs::remove_dir_all(&target);
    fs::rename(&staging, &target).expect("move the install into place");
    assert!(
        pinned_importable(&target, module, version),
        "{package}=={version} installed into {} but python3 cannot import it",
        target.display()
    );
    target
}

fn pydeps() -> &'static Path {
    static PYDEPS: OnceLock<PathBuf> = OnceLock::new();
    PYDEPS.get_or_init(|| install("pydeps", "boto3", "boto3", BOTO3_VERSION))
}

/// Runs flow.py against `server` and fails the test unless it completes.
fn run_flow(pydeps: &Path, server: &Server, mode: &str, extra_args: &[&str], envs: &[(&str, &str)]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real_client/flow.py");
    let mut cmd = python(pydeps);
    cmd.arg("-u").arg(&script).arg(&server.endpoint).arg(mode).args(extra_args).envs(envs.iter().copied());
    let stdout = run_to_end(cmd, &format!("flow.py {mode}"), server);
    // Guards against a script that exits 0 without reaching the end.
    assert!(
        stdout.lines().any(|l| l == format!("flow {mode}: OK")),
        "flow.py {mode} exited 0 without its closing line\nstdout:\n{stdout}\ndpsim serve output:\n{}",
        server.output()
    );
    // Shown with --nocapture; on failure the panic message already has it.
    println!("{stdout}");
}

#[test]
fn boto3_main_flow() {
    // Before the server starts: a first-run install can take a while.
    let pydeps = pydeps();
    let server = Server::start(&["--poll-hold-ms", POLL_HOLD_MS]);
    run_flow(
        pydeps,
        &server,
        "main",
        &[],
        &[
            // Signatures are not checked without --auth, but boto3 signs anyway.
            ("AWS_ACCESS_KEY_ID", "AKIDDPSIMFAKE"),
            ("AWS_SECRET_ACCESS_KEY", "dpsim-fake-secret"),
            ("DPSIM_POLL_HOLD_MS", POLL_HOLD_MS),
        ],
    );
}

#[test]
fn boto3_auth_flow() {
    let pydeps = pydeps();
    let credentials = "AKIDDPSIMAUTH:dpsim-auth-secret";
    let server = Server::start(&["--auth", credentials]);
    run_flow(pydeps, &server, "auth", &[credentials], &[]);
}

/// Signed calls at any instant of a manual clock (issue 20): botocore corrects no clock skew,
/// so every call must pass at the default start (2026-01-01), after an hour's advance and after a
/// jump to a week later, while a signature an hour off the machine's clock is still refused.
#[test]
fn boto3_signs_at_any_instant_of_the_manual_clock() {
    let pydeps = pydeps();
    let credentials = "AKIDDPSIMCLOCK:dpsim-clock-secret";
    let server = Server::start(&["--auth", credentials, "--clock", "manual", "--admin-token", "clock-token"]);
    run_flow(pydeps, &server, "signed-clock", &[credentials, "clock-token"], &[]);
}

/// serve judges runners it sees only through their calls as strictly as the simulation (issue
/// 20): a boto3 runner that ignores `canceled: true` fails the report's zombie_bound by name,
/// while a correct one beside it is held to nothing.
#[test]
fn boto3_runner_that_ignores_canceled_fails_the_report() {
    let pydeps = pydeps();
    let server = Server::start(&["--clock", "manual", "--poll-hold-ms", "0"]);
    run_flow(
        pydeps,
        &server,
        "zombie",
        &[],
        &[("AWS_ACCESS_KEY_ID", "AKIDDPSIMFAKE"), ("AWS_SECRET_ACCESS_KEY", "dpsim-fake-secret")],
    );
}

/// The AWS SDK for JavaScript v3's Data Pipeline client, pinned like boto3.
const JS_SDK_VERSION: &str = "3.1029.0";

/// Installs the JS SDK's Data Pipeline client from the npm registry into
/// `CARGO_TARGET_TMPDIR/jsdeps` unless that version is there already; returns its
/// `node_modules`.
fn jsdeps() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.join("jsdeps");
    fs::create_dir_all(tmp).expect("create CARGO_TARGET_TMPDIR");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(tmp.join("jsdeps.lock"))
        .expect("open the install lock");
    lock.lock().expect("lock the install lock");
    let manifest = target.join("node_modules/@aws-sdk/client-data-pipeline/package.json");
    let installed = fs::read_to_string(&manifest)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|v| v["version"] == JS_SDK_VERSION);
    if !installed {
        fs::create_dir_all(&target).expect("create jsdeps");
        let out = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&target)
            .arg(format!("@aws-sdk/client-data-pipeline@{JS_SDK_VERSION}"))
            .stdin(Stdio::null())
            .output()
            .expect("run npm (install Node.js 18 or later with npm to run the JS SDK test)");
        assert!(
            out.status.success(),
            "npm install @aws-sdk/client-data-pipeline@{JS_SDK_VERSION} failed ({}); make the npm registry reachable\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    target.join("node_modules")
}

/// The same with the JS v3 SDK (issue 20), which corrects clock skew from `Date`: with one
/// attempt per call, the first signed call after each advance must already pass.
#[test]
fn js_sdk_signs_at_any_instant_of_the_manual_clock() {
    let node_modules = jsdeps();
    let credentials = "AKIDDPSIMJS:dpsim-js-secret";
    let server = Server::start(&["--auth", credentials, "--clock", "manual", "--admin-token", "js-token"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real_client/signed_clock.cjs");
    let mut cmd = Command::new("node");
    cmd.arg(&script)
        .args([server.endpoint.as_str(), credentials, "js-token"])
        .env("NODE_PATH", &node_modules)
        .env("NODE_NO_WARNINGS", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null());
    let stdout = run_to_end(cmd, "signed_clock.cjs", &server);
    assert!(stdout.lines().any(|l| l == "signed clock: OK"), "signed_clock.cjs did not finish\n{stdout}");
    println!("{stdout}");
}

/// Runs a command to its end (or kills it after FLOW_TIMEOUT) and fails the test unless it
/// succeeds; returns its stdout.
fn run_to_end(mut cmd: Command, what: &str, server: &Server) -> String {
    let mut child = ChildGuard(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn"));
    let stdout = Arc::new(Mutex::new(String::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let readers = [
        drain(child.0.stdout.take().unwrap(), stdout.clone(), None),
        drain(child.0.stderr.take().unwrap(), stderr.clone(), None),
    ];
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > FLOW_TIMEOUT {
            let _ = child.0.kill();
            let _ = child.0.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    for reader in readers {
        let _ = reader.join();
    }
    let (out, err) = (stdout.lock().unwrap().clone(), stderr.lock().unwrap().clone());
    let report = || format!("{what} stdout:\n{out}\n{what} stderr:\n{err}\ndpsim serve output:\n{}", server.output());
    assert!(status.is_some_and(|s| s.success()), "{what} failed or hung ({status:?})\n{}", report());
    out
}

/// pytest, for the Python package's plugin and the example suite.
const PYTEST_VERSION: &str = "9.2.0";
/// The OpenAPI validator the admin routes' document is checked with.
const OPENAPI_VALIDATOR_VERSION: &str = "0.9.0";

/// python3 with boto3, pytest, the validator and the package from this checkout (`python/src`)
/// importable, and `DPSIM_BIN` naming the binary cargo built: the package's suites as a
/// developer runs them before a wheel exists (`.ci/python` runs them against the installed
/// wheel).
fn python_with_package() -> Command {
    static DEPS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    let (pytest, validator) = DEPS.get_or_init(|| {
        (
            install("pytestdeps", "pytest", "pytest", PYTEST_VERSION),
            install("openapideps", "openapi-spec-validator", "openapi_spec_validator", OPENAPI_VALIDATOR_VERSION),
        )
    });
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = std::env::join_paths([pydeps(), pytest, validator, &root.join("python/src")]).unwrap();
    let mut cmd = python(pydeps());
    cmd.env("PYTHONPATH", path).env("DPSIM_BIN", env!("CARGO_BIN_EXE_dpsim")).env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// Runs pytest with the plugin in `dir` (relative to the checkout) and fails unless it passes.
fn pytest(dir: &str, extra: &[&str]) {
    // Only for the failure report's sake: the suites start their own servers.
    let server = Server::start(&["--clock", "manual"]);
    let mut cmd = python_with_package();
    cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .args(["-m", "pytest", "-p", "dpsim.pytest_plugin", "-p", "no:cacheprovider", "-q"])
        .args(extra);
    let out = run_to_end(cmd, &format!("pytest in {dir} {extra:?}"), &server);
    assert!(out.contains(" passed") && !out.contains("skipped"), "{out}");
    println!("{out}");
}

#[test]
fn python_runner_example_passes_with_one_server_reset_between_tests() {
    pytest("examples/python-runner", &[]);
}

#[test]
fn python_runner_example_passes_with_a_fresh_server_per_test() {
    pytest("examples/python-runner", &["--dpsim-fresh"]);
}

#[test]
fn python_package_suite_passes() {
    pytest("python", &["tests"]);
}

#[test]
fn the_readme_aws_cli_flow_runs_against_serve() {
    static AWSCLI: OnceLock<PathBuf> = OnceLock::new();
    let cli = AWSCLI.get_or_init(|| install("awscli", "awscli", "awscli", AWSCLI_VERSION));
    let server = Server::start(&["--clock", "manual"]);
    let mut cmd = python(cli);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PYTHONPATH", cli)
        .env("PYTHONNOUSERSITE", "1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("AWS", format!("python3 {}", cli.join("bin/aws").display()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws-cli/flow.sh");
    let mut bash = Command::new("bash");
    bash.envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))))
        .env_clear()
        .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))))
        .arg(&script)
        .arg(&server.endpoint)
        .stdin(Stdio::null());
    let out = run_to_end(bash, "examples/aws-cli/flow.sh", &server);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"true") && lines.contains(&"false"), "runner-a hears canceled, runner-b does not:\n{out}");
    assert!(out.contains("expired") && out.contains("reassigned") && out.contains("runner-b"), "{out}");
    assert!(out.contains("FINISHED"), "list-runs shows the finished instance:\n{out}");
}
