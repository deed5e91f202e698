//! The world `serve` answers from, and `POST /_dpsim/reset`, which swaps it for a fresh one.
//!
//! Every request takes the world current when it arrives and finishes in it; a reset builds a
//! new world from the same recipe (same seed, same scenario, a manual clock back at its
//! start), answers the old world's held polls `{}`, closes its other calls, stops its deadline
//! task and script, and starts the new world's. Nothing of the old world reaches the new log:
//! a connection accepted before the reset belongs to an earlier test (a runner it left
//! running), and its calls are refused rather than answered from the new world.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{FromRequestParts, Request, State};
use axum::response::Response;
use axum::serve::IncomingStream;
use http::request::Parts;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

use crate::faults::{Fate, handle_call};
use crate::protocol::{ErrorCode, ServiceError};
use crate::wire::Clock;
use crate::wire::http::{MAX_BODY_BYTES, render};

use super::{Server, admin, script};

/// When a connection was accepted: a call on a connection older than the last reset is a
/// call of an earlier test.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Accepted(Instant);

impl Connected<IncomingStream<'_, TcpListener>> for Accepted {
    fn connect_info(_: IncomingStream<'_, TcpListener>) -> Self {
        Accepted(Instant::now())
    }
}

struct Inner {
    world: Mutex<Server>,
    /// The current world's deadline task and script.
    tasks: Mutex<Vec<AbortHandle>>,
    /// The last reset: connections accepted before it are refused.
    reset_at: Mutex<Option<Instant>>,
    /// One reset at a time (a reset waits for the new world's pipelines to be set up).
    resets: tokio::sync::Mutex<()>,
}

/// The switch every route reads its world from.
#[derive(Clone)]
pub(crate) struct Served(Arc<Inner>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Served {
    /// A switch on `server`'s world; nothing runs until [`Served::start`].
    pub fn new(server: Server) -> Served {
        Served(Arc::new(Inner {
            world: Mutex::new(server),
            tasks: Mutex::new(Vec::new()),
            reset_at: Mutex::new(None),
            resets: tokio::sync::Mutex::new(()),
        }))
    }

    /// The world requests are answered from now.
    pub fn current(&self) -> Server {
        lock(&self.0.world).clone()
    }

    /// The full app: admin routes, then every other request to the AWS front door.
    pub fn app(&self) -> Router {
        admin::routes().fallback(aws).with_state(self.clone())
    }

    /// Sets up the current world's scenario (its pipelines created and defined before this
    /// returns, so the first call sees them), then runs its deadlines and timeline.
    pub async fn start(&self) {
        let world = self.current();
        let mut tasks = vec![tokio::spawn(world.host().clone().run_deadlines()).abort_handle()];
        if let Some(scenario) = world.recipe.played.clone() {
            match script::setup(&world, &scenario).await {
                Ok(steps) => tasks.push(tokio::spawn(script::run(world.clone(), steps)).abort_handle()),
                Err(e) => eprintln!("dpsim serve: the scenario could not be set up: {e}"),
            }
        }
        *lock(&self.0.tasks) = tasks;
    }

    /// Stops the current world's tasks and answers its held polls `{}` (at shutdown).
    pub fn stop(&self) {
        for task in lock(&self.0.tasks).drain(..) {
            task.abort();
        }
        self.current().release_held_polls();
    }

    /// Swaps in a fresh world and starts it; answers what the reset did.
    pub async fn reset(&self) -> Value {
        let _one_at_a_time = self.0.resets.lock().await;
        let fresh = self.current().fresh();
        let old = std::mem::replace(&mut *lock(&self.0.world), fresh);
        *lock(&self.0.reset_at) = Some(Instant::now());
        for task in lock(&self.0.tasks).drain(..) {
            task.abort();
        }
        // Held polls hear `{}`, as at shutdown; every other call still open in the old world
        // (a delay, a dropped answer) is closed with the reset error.
        old.release_held_polls();
        old.retired.send_replace(true);
        self.start().await;
        let world = self.current();
        let clock_reset = world.clock.is_manual();
        json!({
            "clock": admin::clock_json(&world),
            "clock_reset": clock_reset,
            "refused_calls": old.refused.load(Ordering::Relaxed),
        })
    }

    /// Whether a connection accepted at `accepted` was opened before the last reset.
    fn is_stale(&self, accepted: Accepted) -> bool {
        lock(&self.0.reset_at).is_some_and(|reset| accepted.0 < reset)
    }
}

/// Admin handlers take the current world as an argument.
impl FromRequestParts<Served> for Server {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(_: &mut Parts, served: &Served) -> Result<Server, Self::Rejection> {
        Ok(served.current())
    }
}

/// What a call from before a reset hears.
fn reset_error(why: &str) -> ServiceError {
    ServiceError::new(
        ErrorCode::InvalidRequestException,
        format!(
            "dpsim serve was reset (POST /_dpsim/reset) {why}: it belongs to an earlier test and is refused; open a new client"
        ),
    )
}

/// An AWS call through the edge: message faults, the front door, the service.
async fn aws(State(served): State<Served>, request: Request) -> Response {
    let stale = request.extensions().get::<ConnectInfo<Accepted>>().is_some_and(|c| served.is_stale(c.0));
    let server = served.current();
    let host = server.host();
    let request_id = host.next_request_id();
    if stale {
        server.refused.fetch_add(1, Ordering::Relaxed);
        return render(host, request_id, Err(reset_error("after this connection was opened")));
    }
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let e = ServiceError::new(
                ErrorCode::SerializationException,
                format!("Request body could not be read or exceeds {MAX_BODY_BYTES} bytes"),
            );
            return render(host, request_id, Err(e));
        }
    };
    let mut retired = server.retired.subscribe();
    let answered = async {
        match handle_call(&server.edge, &parts, &body).await {
            Fate::Answer(result) => result,
            // The caller hears nothing until it gives up; its connection stays open meanwhile.
            Fate::Silence => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        result = answered => render(host, request_id, result),
        _ = retired.wait_for(|retired| *retired) => {
            render(host, request_id, Err(reset_error("while this call was open")))
        }
    }
}
