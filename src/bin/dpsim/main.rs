//! The `dpsim` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod chaos;
mod compare;
mod explore;
mod fuzz;
mod merge;
mod network_runner;
mod run;
mod sim_time;
mod upstream_credentials;
mod verify;

use crate::run::{self as cli_run, Format};
use dpsim::serve::Credentials;

/// Deterministic simulation and test harness for the AWS Data Pipeline task-runner protocol.
#[derive(Parser)]
#[command(name = "dpsim", version, about)]
struct Cli {
    /// Print tracing output (stamped with simulated time in `run`); RUST_LOG also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a scenario file and print its ownership log and expectation verdicts.
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// Seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also write log.txt, report.json, violations.txt, events.json, timeline.svg and report.html here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the ownership timeline as an SVG picture.
        #[arg(long)]
        timeline: Option<PathBuf>,
        /// Write the run in the Chrome trace event format, for Perfetto (ui.perfetto.dev).
        #[arg(long)]
        trace_events: Option<PathBuf>,
    },
    /// Sweep seeds over a base scenario, each drawing its own faults; check the invariants.
    Chaos {
        /// The base scenario.
        scenario: PathBuf,
        /// Seeds, A..B (B exclusive).
        #[arg(long, default_value = "0..100", value_parser = dpsim::chaos::parse_seeds)]
        seeds: std::ops::Range<u64>,
        /// Worker threads (default: all cores).
        #[arg(long, value_parser = at_least_one)]
        jobs: Option<usize>,
        /// Sweep only shard I (from 0) of N of the seeds: the I-th of N contiguous blocks, for
        /// one machine of many; `dpsim merge` merges the shards' directories.
        #[arg(long, value_name = "I/N", value_parser = dpsim::shard::parse_shard)]
        shard: Option<(u64, u64)>,
        /// Directory for failing seeds' scenario files and summary.json (default chaos-out/<name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do not shrink failing seeds.
        #[arg(long)]
        no_shrink: bool,
        /// Most simulations spent shrinking one failing seed.
        #[arg(long, default_value_t = 300)]
        shrink_runs: usize,
        /// Most failing seeds to shrink.
        #[arg(long, default_value_t = 3)]
        shrink_seeds: usize,
        /// Compare with this scenario: the same seeds and fault plans (drawn from the base) run
        /// against both; writes compare.json and compare.html to --out.
        #[arg(long, value_name = "OTHER.json")]
        compare: Option<PathBuf>,
        /// Compare with a variant: the base (or --compare's scenario) with key.path=value set,
        /// e.g. runners.0.report_interval=1m (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Merge shards run on several machines (`chaos --shard`, `verify --shard`) into the result
    /// one run gives.
    #[command(visible_alias = "chaos-merge")]
    Merge {
        /// Directories that `dpsim chaos --shard` (a summary.json each) or `dpsim verify --shard`
        /// (a verify.json each) wrote, every shard of one run.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the merged result goes (default chaos-out/merged or verify-out/merged).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Rerun a scenario with competing events one tick before, at and after every deadline.
    Explore {
        /// The scenario.
        scenario: PathBuf,
        /// Print the table as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Try every plan of at most K faults over a scenario (lost, duplicated or deadline-held
    /// calls, crashes, pauses, partitions, cancels), smallest first: a bounded proof, or the
    /// smallest counterexample as a scenario file.
    Verify {
        /// The scenario.
        scenario: PathBuf,
        /// Most faults per plan.
        #[arg(long, default_value_t = 2)]
        faults: usize,
        /// Worker threads (default: all cores); the result does not depend on it.
        #[arg(long, value_parser = at_least_one)]
        jobs: Option<usize>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Directory for verify.json and counterexample.json (default verify-out/<name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run plans whose runs reach the same state too (to measure what state hashing saves).
        #[arg(long)]
        no_prune: bool,
        /// Count a failed expectation as a counterexample, as a broken invariant is.
        #[arg(long)]
        strict: bool,
        /// Only faults that strike in this window of simulated time, e.g. 9h..12h.
        #[arg(long, value_name = "FROM..TO", value_parser = crate::verify::parse_window)]
        window: Option<std::ops::Range<u64>>,
        /// Change the scenario first: key.path=value, e.g. service.bug=reassigned_ack_grace
        /// (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Run only shard I (from 0) of N of the largest plans, for one machine of many (every
        /// shard runs the smaller plans); `dpsim merge` merges the shards' directories.
        #[arg(long, value_name = "I/N", value_parser = dpsim::shard::parse_shard)]
        shard: Option<(u64, u64)>,
    },
    /// Throw generated HTTP requests at serve's app and mutated scenarios at the loader.
    Fuzz {
        /// Seed of every generated case.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Requests to send.
        #[arg(long, default_value_t = 100_000)]
        requests: u64,
        /// Scenario mutations to load.
        #[arg(long, default_value_t = 10_000)]
        scenarios: u64,
        /// Directories whose scenario files are mutated.
        #[arg(long, default_values = ["scenarios", "chaos"])]
        bases: Vec<PathBuf>,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
    /// Run the virtual Data Pipeline service on a real port, for task runners in any language.
    Serve {
        /// Address to listen on (loopback unless told otherwise).
        #[arg(long, default_value = "127.0.0.1:8123")]
        addr: SocketAddr,
        /// Check SigV4 signatures against these credentials, as ACCESS_KEY:SECRET; the admin
        /// routes then need a signature too, or --admin-token.
        #[arg(long, env = "DPSIM_AUTH", hide_env_values = true)]
        auth: Option<Credentials>,
        /// A token that opens the admin routes under --auth (Authorization: Bearer TOKEN).
        #[arg(long, env = "DPSIM_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// How long PollForTask is held when no task is ready, in milliseconds. AWS holds 90 s;
        /// botocore times out after 60 s, so use less for Python clients.
        #[arg(long)]
        poll_hold_ms: Option<u64>,
        /// Seed for pipeline ids, taskId keys and request ids (default: from OS entropy, so
        /// taskIds cannot be forged).
        #[arg(long)]
        seed: Option<u64>,
        /// Throttle calls above AWS's documented per-account rates (ThrottlingException).
        #[arg(long)]
        rate_limits: bool,
        /// wall: the machine's time plus advances; manual: still until advanced.
        #[arg(long, value_enum, default_value_t = ClockArg::Wall)]
        clock: ClockArg,
        /// The manual clock's first instant, RFC 3339, or `now` (default 2026-01-01T00:00:00Z).
        #[arg(long, value_parser = parse_start)]
        start: Option<u64>,
        /// Play this scenario: create, define and activate its pipelines at their times and
        /// apply its message faults and control-plane events as the clock reaches them.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Write log.txt and report.json here at shutdown.
        #[arg(long)]
        out: Option<PathBuf>,
        /// How long a runner may go on calling about a task after an answer told it the task is
        /// gone (canceled: true, TaskNotFound, PipelineDeleted) before the report's zombie_bound
        /// breaks, e.g. 30s (default 1m; overrides the scenario's zombie_bound).
        #[arg(long, value_parser = parse_bound)]
        zombie_bound: Option<u64>,
    },
    /// Forward Data Pipeline calls to a real endpoint, applying message faults and checking the
    /// history of calls and answers from the outside.
    Proxy {
        /// The endpoint to forward to, e.g. http://127.0.0.1:8123 (another dpsim serve).
        #[arg(long)]
        upstream: http::Uri,
        /// Address to listen on (loopback unless told otherwise).
        #[arg(long, default_value = "127.0.0.1:8124")]
        addr: SocketAddr,
        /// Sign forwarded calls with these credentials, as ACCESS_KEY:SECRET (a client's own
        /// signature covers the proxy's host, so it cannot be forwarded as it is). Without it,
        /// the standard AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else
        /// the shared profile (AWS_PROFILE or default: keys, assume-role, SSO, credential_process).
        #[arg(long, env = "DPSIM_UPSTREAM_CREDENTIALS", hide_env_values = true)]
        upstream_credentials: Option<Credentials>,
        /// Take credentials from the AWS SDK's whole default chain instead (environment,
        /// profile, web identity, container and instance roles), as code on EC2 or ECS does.
        #[arg(long, conflicts_with = "upstream_credentials")]
        upstream_credential_chain: bool,
        /// The signing region (default: from the upstream's host, else us-east-1).
        #[arg(long)]
        region: Option<String>,
        /// Check clients' SigV4 signatures against these credentials, as ACCESS_KEY:SECRET; the
        /// admin routes then need a signature too, or --admin-token.
        #[arg(long, env = "DPSIM_AUTH", hide_env_values = true)]
        auth: Option<Credentials>,
        /// A token that opens the admin routes under --auth (Authorization: Bearer TOKEN).
        #[arg(long, env = "DPSIM_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// A scenario file whose `service` section gives the upstream's deadlines (ack_timeout,
        /// progress_timeout); AWS's defaults otherwise.
        #[arg(long)]
        settings: Option<PathBuf>,
        /// Write log.txt, report.json and report.html here at shutdown.
        #[arg(long)]
        out: Option<PathBuf>,
        /// How far apart the proxy's instants and the service's may be, e.g. 500ms (default
        /// 1s): a poll answered within it of its task becoming ready was not left waiting.
        #[arg(long, value_parser = parse_bound, default_value = "1s")]
        tolerance: u64,
        /// Longest wait for the upstream's answer, e.g. 30s (default 120s: above AWS's 90 s poll).
        #[arg(long, value_parser = parse_bound, default_value = "120s")]
        upstream_timeout: u64,
        /// Reach the upstream through this HTTP proxy (http://[user:password@]host:port, CONNECT),
        /// or `direct`. Default: HTTPS_PROXY / ALL_PROXY for an https:// upstream, NO_PROXY honoured.
        #[arg(long, value_parser = parse_upstream_proxy)]
        upstream_proxy: Option<dpsim::proxy::UpstreamProxy>,
        /// A PEM file of certificates to trust beside the Mozilla roots (a staging endpoint's
        /// own authority, a TLS-inspecting proxy's).
        #[arg(long)]
        upstream_ca: Option<PathBuf>,
    },
    /// Run dpsim's own Task Runner against a real endpoint (dpsim serve, dpsim proxy), printing
    /// what it does and learns as JSON lines.
    Runner {
        /// The endpoint, http://host:port (for an HTTPS one, put dpsim proxy in front).
        #[arg(long)]
        endpoint: http::Uri,
        /// A scenario file whose runner entry (--runner) gives the worker group, intervals,
        /// timeouts and behaviours.
        #[arg(long, requires = "runner")]
        scenario: Option<PathBuf>,
        /// The runner entry to be, from --scenario.
        #[arg(long, requires = "scenario")]
        runner: Option<String>,
        /// The worker group to poll, without --scenario.
        #[arg(long, conflicts_with = "scenario", required_unless_present = "scenario")]
        worker_group: Option<String>,
        /// The runner's name, its hostname (default: the entry's, else dpsim-runner).
        #[arg(long)]
        name: Option<String>,
        /// Seed of its retry jitter (default: the scenario's, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// How long the endpoint may hold a PollForTask, e.g. 20s (default 90s, AWS's).
        #[arg(long, value_parser = parse_bound)]
        poll_hold: Option<u64>,
        /// Sign calls with these credentials, as ACCESS_KEY:SECRET. Without it, the standard
        /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, if set.
        #[arg(long, env = "DPSIM_CREDENTIALS", hide_env_values = true)]
        credentials: Option<Credentials>,
        /// The signing region.
        #[arg(long, default_value = "us-east-1")]
        region: String,
    },
}

/// `--clock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ClockArg {
    /// The machine's time plus whatever `/_dpsim/clock/advance` added.
    Wall,
    /// Still: time moves only through `/_dpsim/clock/advance`.
    Manual,
}

/// `--upstream-proxy`: `direct`, or an http:// proxy URL.
fn parse_upstream_proxy(text: &str) -> Result<dpsim::proxy::UpstreamProxy, String> {
    if text == "direct" {
        return Ok(dpsim::proxy::UpstreamProxy::Direct);
    }
    let uri: http::Uri = text.parse().map_err(|_| "expected `direct` or http://host:port".to_string())?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err("expected `direct` or http://host:port (the proxy is asked to CONNECT)".into());
    }
    Ok(dpsim::proxy::UpstreamProxy::Via(uri))
}

/// `--zombie-bound`: a duration such as `30s` or `2m`.
fn parse_bound(text: &str) -> Result<u64, String> {
    dpsim::scenario::parse_duration(text).map_err(|e| e.to_string())
}

/// `--start`: an RFC 3339 instant, or `now`.
fn parse_start(text: &str) -> Result<u64, String> {
    if text == "now" {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?;
        return Ok(now.as_millis() as u64);
    }
    dpsim::time::parse_instant(text).ok_or_else(|| format!("expected an RFC 3339 instant or `now`, got {text:?}"))
}

/// Tracing on stderr: RUST_LOG's filter, or `-v`'s. A server (`serve`, `proxy`) says by
/// default what went wrong on a call (an upstream that cannot be reached, an event not
/// applied) and what it passed on without judging: its stderr is its log.
fn init_tracing(verbose: u8, simulated: bool, server: bool) {
    let from_env = std::env::var_os("RUST_LOG").is_some_and(|v| !v.is_empty());
    let filter = match verbose {
        0 if server && !from_env => tracing_subscriber::EnvFilter::new("dpsim=warn,dpsim::proxy=info"),
        0 => tracing_subscriber::EnvFilter::from_default_env(),
        1 => tracing_subscriber::EnvFilter::new("dpsim=debug"),
        _ => tracing_subscriber::EnvFilter::new("dpsim=trace,turmoil=debug"),
    };
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if simulated {
        builder.with_timer(sim_time::SimTime).init();
    } else {
        builder.init();
    }
}

/// Output piped into `head` ends as any Unix tool's does: the process ends quietly when the
/// reader goes away (Rust ignores SIGPIPE, so a print to a closed pipe panicked). `serve`
/// keeps ignoring it: a closed peer is an error on its socket, not the end of the server.
fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing on the main thread, before any other thread exists; it only
    // restores the default disposition of one signal.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve { .. } | Command::Proxy { .. }) {
        end_quietly_on_closed_pipe();
    }
    init_tracing(
        cli.verbose,
        matches!(
            cli.command,
            Command::Run { .. } | Command::Chaos { .. } | Command::Explore { .. } | Command::Verify { .. }
        ),
        matches!(cli.command, Command::Serve { .. } | Command::Proxy { .. }),
    );
    match cli.command {
        Command::Run { scenario, seed, format, out, timeline, trace_events } => {
            ExitCode::from(cli_run::run(&scenario, seed, format, out, timeline, trace_events, cli.verbose > 0))
        }
        Command::Chaos { scenario, seeds, jobs, shard, out, compare, sets, .. }
            if compare.is_some() || !sets.is_empty() =>
        {
            let seeds = shard.map_or(seeds.clone(), |s| dpsim::shard::shard_of(seeds, s));
            let args = crate::compare::CompareArgs {
                out: out.unwrap_or_else(|| {
                    let mut dir = crate::chaos::default_out(&scenario).into_os_string();
                    dir.push("-compare");
                    dir.into()
                }),
                scenario,
                other: compare,
                sets,
                seeds,
                jobs: jobs.unwrap_or_else(crate::chaos::default_jobs),
            };
            ExitCode::from(crate::compare::run(&args))
        }
        Command::Chaos { scenario, seeds, jobs, shard, out, no_shrink, shrink_runs, shrink_seeds, .. } => {
            let args = crate::chaos::ChaosArgs {
                out: out.unwrap_or_else(|| crate::chaos::default_out(&scenario)),
                scenario,
                seeds: shard.map_or(seeds.clone(), |s| dpsim::shard::shard_of(seeds, s)),
                jobs: jobs.unwrap_or_else(crate::chaos::default_jobs),
                shrink: !no_shrink,
                shrink_runs,
                shrink_seeds,
            };
            ExitCode::from(crate::chaos::run(&args))
        }
        Command::Merge { dirs, out } => ExitCode::from(crate::merge::run(&dirs, out.as_deref())),
        Command::Verify { scenario, faults, jobs, json, out, no_prune, strict, sets, window, shard } => {
            let args = crate::verify::VerifyArgs {
                out: out.unwrap_or_else(|| crate::verify::default_out(&scenario)),
                scenario,
                options: dpsim::verify::Options {
                    faults,
                    jobs: jobs.unwrap_or_else(crate::chaos::default_jobs),
                    prune: !no_prune,
                    strict,
                    window,
                    shard,
                },
                json,
                sets,
            };
            ExitCode::from(crate::verify::run(&args))
        }
        Command::Explore { scenario, json } => ExitCode::from(crate::explore::run(&scenario, json)),
        Command::Fuzz { seed, requests, scenarios, bases } => {
            ExitCode::from(fuzz::run(seed, requests, scenarios, &bases))
        }
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&dpsim::scenario::json_schema()).expect("schema serialises"));
            ExitCode::SUCCESS
        }
        Command::Proxy {
            upstream,
            addr,
            upstream_credentials,
            upstream_credential_chain,
            region,
            auth,
            admin_token,
            settings,
            out,
            tolerance,
            upstream_timeout,
            upstream_proxy,
            upstream_ca,
        } => {
            let options = dpsim::proxy::ProxyOptions {
                addr,
                upstream,
                upstream_credentials: None,
                upstream_session_token: None,
                upstream_credentials_provider: None,
                region,
                auth,
                admin_token,
                settings,
                out,
                tolerance_ms: tolerance,
                upstream_timeout: std::time::Duration::from_millis(upstream_timeout),
                upstream_proxy: upstream_proxy.unwrap_or_default(),
                upstream_ca,
            };
            let credentials = (upstream_credentials, upstream_credential_chain);
            run_server("proxy", proxy(options, credentials), |e| matches!(e, dpsim::proxy::ProxyError::Options(_)))
        }
        Command::Runner { endpoint, scenario, runner, worker_group, name, seed, poll_hold, credentials, region } => {
            network_runner::run(network_runner::Args {
                endpoint,
                entry: scenario.zip(runner),
                worker_group,
                name,
                seed,
                poll_hold,
                credentials: or_environment(credentials),
                region,
            })
        }
        Command::Serve {
            addr,
            auth,
            admin_token,
            poll_hold_ms,
            seed,
            rate_limits,
            clock,
            start,
            scenario,
            out,
            zombie_bound,
        } => {
            let options = dpsim::serve::ServeOptions {
                addr,
                auth,
                admin_token,
                poll_hold_ms,
                seed,
                rate_limits,
                clock: match clock {
                    ClockArg::Wall => dpsim::serve::ClockMode::Wall,
                    ClockArg::Manual => dpsim::serve::ClockMode::Manual,
                },
                start,
                scenario,
                out,
                zombie_bound,
            };
            run_server("serve", serve(options), |e| matches!(e, dpsim::serve::ServeError::Scenario(_)))
        }
    }
}

/// Credentials given on the command line, else the standard AWS environment variables (with
/// a session token, if set), as AWS tools take them.
fn or_environment(given: Option<Credentials>) -> (Option<Credentials>, Option<String>) {
    if given.is_some() {
        return (given, None);
    }
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (from_env("AWS_ACCESS_KEY_ID"), from_env("AWS_SECRET_ACCESS_KEY")) {
        (Some(access_key_id), Some(secret_access_key)) => {
            (Some(Credentials { access_key_id, secret_access_key }), from_env("AWS_SESSION_TOKEN"))
        }
        _ => (None, None),
    }
}

/// `dpsim serve`: binds, prints the address on the first line of stdout (what a test harness
/// waits for), and serves until Ctrl-C or SIGTERM (a process manager's, or a test fixture's,
/// stop), writing `--out` either way.
async fn serve(options: dpsim::serve::ServeOptions) -> Result<(), dpsim::serve::ServeError> {
    let serving = dpsim::serve::bind(options).await?;
    println!("dpsim serve listening on http://{}", serving.local_addr());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    serving
        .serve_until(async {
            stop_signal().await;
            eprintln!("dpsim serve: shutting down");
        })
        .await
}

/// Runs `serve` or `proxy` on a multi-threaded runtime until it stops: exit status 0, 2 when
/// its input is invalid (`invalid`), 1 when it failed.
fn run_server<E: std::fmt::Display>(
    what: &str,
    server: impl std::future::Future<Output = Result<(), E>>,
    invalid: impl Fn(&E) -> bool,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dpsim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(server) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dpsim {what}: {e}");
            if invalid(&e) { ExitCode::from(2) } else { ExitCode::FAILURE }
        }
    }
}

/// `dpsim proxy`: binds, prints the address on the first line of stdout, and forwards until
/// Ctrl-C or SIGTERM, writing `--out` either way.
async fn proxy(
    mut options: dpsim::proxy::ProxyOptions,
    (given, chain): (Option<Credentials>, bool),
) -> Result<(), dpsim::proxy::ProxyError> {
    let upstream = options.upstream.to_string();
    let region = dpsim::proxy::signing_region(&options);
    match upstream_credentials::resolve(given, chain, &region).await {
        Some((provider, source)) => {
            eprintln!("dpsim proxy: signing for the upstream ({region}) with credentials from {source}");
            options.upstream_credentials_provider = Some(provider);
        }
        None => eprintln!("dpsim proxy: no upstream credentials configured; calls go upstream unsigned"),
    }
    let proxying = dpsim::proxy::bind(options).await?;
    println!("dpsim proxy listening on http://{} for {upstream}", proxying.local_addr());
    if let Some(through) = proxying.upstream_proxy() {
        eprintln!("dpsim proxy: reaching {upstream} through the HTTP proxy {through}");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    proxying
        .serve_until(async {
            stop_signal().await;
            eprintln!("dpsim proxy: shutting down");
        })
        .await
}

/// Ctrl-C, or SIGTERM on Unix.
pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    biased;
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `--jobs`: a count of worker threads, at least one.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
