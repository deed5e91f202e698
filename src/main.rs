//! The `dpsim` command line.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use dpsim::service::Settings;
use dpsim::wire::HostConfig;
use dpsim::wire::sigv4::Credentials;

/// Deterministic simulation and test harness for the AWS Data Pipeline task-runner protocol.
#[derive(Parser)]
#[command(name = "dpsim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the virtual Data Pipeline service on a real port, for real AWS clients.
    Serve {
        /// Address to listen on (loopback unless told otherwise).
        #[arg(long, default_value = "127.0.0.1:8123")]
        addr: SocketAddr,
        /// Check SigV4 signatures against these credentials, as ACCESS_KEY:SECRET.
        #[arg(long, env = "DPSIM_AUTH", hide_env_values = true)]
        auth: Option<Credentials>,
        /// How long PollForTask is held when no task is ready, in milliseconds. AWS holds 90 s;
        /// botocore times out after 60 s, so use less for Python clients.
        #[arg(long)]
        poll_hold_ms: Option<u64>,
        /// Seed for pipeline ids, taskId keys and request ids.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Throttle calls above AWS's documented per-account rates (ThrottlingException).
        #[arg(long)]
        rate_limits: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve { addr, auth, poll_hold_ms, seed, rate_limits } => {
            let mut settings = Settings { seed, ..Settings::default() };
            if let Some(ms) = poll_hold_ms {
                settings.poll_hold_ms = ms;
            }
            let config = HostConfig { settings, credentials: auth, keep_journal: false, rate_limits };
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("dpsim: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(dpsim::serve::run(addr, config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("dpsim serve: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
