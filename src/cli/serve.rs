//! `dpsim serve`: the virtual service on a real port, with a clock tests can move forward.
//!
//! The clock is real elapsed time plus an offset that `POST /_dpsim/clock/advance` grows, so a
//! real client can cross a 2-minute deadline at once. The admin routes live under `/_dpsim/`,
//! outside the AWS namespace.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::routing::{get, post};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::protocol::{ErrorCode, Operation};
use crate::time::{Millis, SECOND_MS, format_rfc3339};
use crate::wire::http::router;
use crate::wire::{Clock, Host, HostConfig};

/// Real time since start, plus an offset that only grows.
#[derive(Debug)]
pub struct OffsetClock {
    started_at: Millis,
    started: Instant,
    offset_ms: AtomicU64,
}

impl OffsetClock {
    /// A clock that reads the machine's time now.
    pub fn start() -> OffsetClock {
        let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        OffsetClock { started_at, started: Instant::now(), offset_ms: AtomicU64::new(0) }
    }

    /// Moves the clock forward.
    pub fn advance(&self, ms: u64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> Millis {
        self.started_at + self.started.elapsed().as_millis() as u64 + self.offset_ms.load(Ordering::SeqCst)
    }

    fn signing_now(&self) -> SystemTime {
        // Clients sign with their own wall clocks, which the admin offset does not move.
        SystemTime::now()
    }
}

#[derive(Clone)]
struct Admin {
    host: Host,
    clock: Arc<OffsetClock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    seconds: f64,
}

fn clock_body(host: &Host) -> Json<Value> {
    Json(json!({ "now": format_rfc3339(host.now()) }))
}

async fn get_clock(State(admin): State<Admin>) -> Json<Value> {
    clock_body(&admin.host)
}

async fn advance_clock(
    State(admin): State<Admin>,
    body: Result<Json<AdvanceBody>, JsonRejection>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let bad = |message: String| (StatusCode::BAD_REQUEST, Json(json!({ "error": message })));
    let Json(body) = body.map_err(|e| bad(format!("expected {{\"seconds\": <non-negative number>}}: {e}")))?;
    if !body.seconds.is_finite() || body.seconds < 0.0 || body.seconds > 1e12 {
        return Err(bad(format!("seconds must be a non-negative number, got {}", body.seconds)));
    }
    admin.clock.advance((body.seconds * SECOND_MS as f64).round() as u64);
    admin.host.clock_changed();
    // Apply what fell due now, so the answer reflects the new time.
    let now = admin.host.now();
    admin.host.with_core(|core| core.advance(now));
    Ok(clock_body(&admin.host))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectBody {
    operation: String,
    error: String,
    #[serde(default = "one")]
    count: usize,
}

fn one() -> usize {
    1
}

async fn inject_errors(
    State(admin): State<Admin>,
    body: Result<Json<InjectBody>, JsonRejection>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let bad = |message: String| (StatusCode::BAD_REQUEST, Json(json!({ "error": message })));
    let Json(body) = body.map_err(|e| {
        bad(format!(
            "expected {{\"operation\": \"PollForTask\", \"error\": \"InternalServiceError\", \"count\": 1}}: {e}"
        ))
    })?;
    let op = Operation::from_target(&format!("DataPipeline.{}", body.operation))
        .ok_or_else(|| bad(format!("unknown operation {:?}", body.operation)))?;
    let code = ErrorCode::parse(&body.error).ok_or_else(|| {
        let known: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        bad(format!("unknown error {:?}; expected one of {}", body.error, known.join(", ")))
    })?;
    admin.host.inject_errors(op, code, body.count);
    Ok(Json(json!({ "operation": op.as_str(), "error": code.as_str(), "count": body.count })))
}

/// The full `serve` app: admin routes plus the AWS router.
pub fn app(host: Host, clock: Arc<OffsetClock>) -> Router {
    let admin = Router::new()
        .route("/_dpsim/clock", get(get_clock))
        .route("/_dpsim/clock/advance", post(advance_clock))
        .route("/_dpsim/faults/errors", post(inject_errors))
        .with_state(Admin { host: host.clone(), clock });
    admin.merge(router(host))
}

/// Binds `addr`, prints the address, and serves until Ctrl-C.
pub async fn run(addr: SocketAddr, config: HostConfig) -> std::io::Result<()> {
    let clock = Arc::new(OffsetClock::start());
    let host = Host::new(config, clock.clone());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("dpsim serve listening on http://{local}");
    use std::io::Write;
    std::io::stdout().flush()?;
    let deadlines = tokio::spawn(host.clone().run_deadlines());
    let shutdown_host = host.clone();
    let result = axum::serve(listener, app(host, clock))
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("dpsim serve: shutting down");
            // Held polls would keep graceful shutdown waiting up to the hold time.
            shutdown_host.with_core(|core| core.release_held_polls());
        })
        .await;
    deadlines.abort();
    result
}
