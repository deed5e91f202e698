//! The service's HTTP server inside the simulation: each request goes through the shared
//! edge ([`crate::faults`]), then back over turmoil's TCP.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};

use crate::faults::{EdgeCtx, Fate, handle_call};
use crate::protocol::{ErrorCode, ServiceError};
use crate::wire::http::render;

/// The edge and a count of requests received.
#[derive(Clone)]
pub struct Edge {
    /// The shared edge.
    pub ctx: EdgeCtx,
    /// HTTP requests received.
    pub requests: Arc<AtomicU64>,
}

/// Handles one HTTP request at the simulated service.
pub async fn handle(
    edge: Edge,
    request: http::Request<Incoming>,
) -> Result<http::Response<axum::body::Body>, Infallible> {
    edge.requests.fetch_add(1, Ordering::Relaxed);
    let host = &edge.ctx.host;
    let request_id = host.next_request_id();
    let (parts, body) = request.into_parts();
    let body: Bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let e = ServiceError::new(ErrorCode::SerializationException, "unreadable body");
            return Ok(render(host, request_id, Err(e)));
        }
    };
    match handle_call(&edge.ctx, &parts, &body).await {
        Fate::Answer(result) => Ok(render(host, request_id, result)),
        Fate::Silence => std::future::pending().await,
    }
}
