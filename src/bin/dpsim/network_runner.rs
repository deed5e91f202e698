//! `dpsim runner`: dpsim's own Task Runner against a real endpoint, one JSON line on stdout
//! for each thing it does or learns, until it hears `terminate: true`, Ctrl-C or SIGTERM.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use dpsim::runner::{NetworkRunner, RunnerEnded};
use dpsim::serve::Credentials;

/// What the command line gave.
pub struct Args {
    pub endpoint: http::Uri,
    /// A scenario file and the runner entry in it to be.
    pub entry: Option<(PathBuf, String)>,
    pub worker_group: Option<String>,
    pub name: Option<String>,
    pub seed: Option<u64>,
    pub poll_hold: Option<u64>,
    pub credentials: (Option<Credentials>, Option<String>),
    pub region: String,
}

pub fn run(args: Args) -> ExitCode {
    let runner = match runner(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dpsim runner: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dpsim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("dpsim runner {} calling {}", runner.name(), args.endpoint);
    let print = |event: &dpsim::runner::RunnerEvent| {
        let line = serde_json::to_string(event).expect("events serialise");
        let mut out = std::io::stdout().lock();
        // A closed stdout is no reason to stop working: the runner's calls still count.
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    };
    match runtime.block_on(runner.run(&args.endpoint, crate::stop_signal(), print)) {
        Ok(RunnerEnded::Terminated) => {
            eprintln!("dpsim runner: told to terminate");
            ExitCode::SUCCESS
        }
        Ok(RunnerEnded::Stopped) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dpsim runner: {e}");
            ExitCode::from(2)
        }
    }
}

fn runner(args: &Args) -> Result<NetworkRunner, Box<dyn std::error::Error>> {
    let mut runner = match (&args.entry, &args.worker_group) {
        (Some((path, entry)), _) => {
            let scenario = dpsim::scenario::load_file(path).map_err(|e| format!("invalid scenario: {e}"))?;
            NetworkRunner::from_scenario(&scenario, entry)?
        }
        (None, Some(group)) => NetworkRunner::new("dpsim-runner", group),
        (None, None) => return Err("give --worker-group, or --scenario and --runner".into()),
    };
    if let Some(name) = &args.name {
        runner = runner.named(name);
    }
    if let Some(seed) = args.seed {
        runner = runner.seed(seed);
    }
    if let Some(ms) = args.poll_hold {
        runner = runner.poll_hold(Duration::from_millis(ms));
    }
    if let (Some(credentials), token) = args.credentials.clone() {
        runner = runner.signing(credentials, token, &args.region);
    }
    Ok(runner)
}
