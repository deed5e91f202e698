//! AWS's documented per-account API rate limits, as token buckets on the service's clock.
//!
//! Off by default: a simulation with limits on would throttle fleets that AWS would not (AWS's
//! limits are per account, and large fleets ask AWS to raise them). `serve --rate-limits`
//! turns them on so a client's throttling handling can be exercised.

use std::collections::BTreeMap;

use crate::protocol::Operation;
use crate::time::{Millis, SECOND_MS};

/// A rate and a burst, as AWS documents them ("2 per second, burst 100").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    /// Sustained calls per second.
    pub per_second: f64,
    /// Bucket size.
    pub burst: f64,
}

impl Limit {
    /// The limit AWS documents for an operation.
    pub fn aws(op: Operation) -> Limit {
        let per_second = match op {
            Operation::PollForTask => 2.0,
            Operation::ReportTaskProgress | Operation::SetTaskStatus => 10.0,
            _ => 1.0,
        };
        Limit { per_second, burst: 100.0 }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Millis,
}

/// Token buckets, one per operation.
#[derive(Clone, Debug, Default)]
pub struct RateLimiter {
    buckets: BTreeMap<Operation, Bucket>,
}

impl RateLimiter {
    /// Takes a token for `op` at `now`; false means the call is throttled.
    pub fn admit(&mut self, op: Operation, now: Millis) -> bool {
        let limit = Limit::aws(op);
        let bucket = self.buckets.entry(op).or_insert(Bucket { tokens: limit.burst, updated: now });
        let elapsed_s = now.saturating_sub(bucket.updated) as f64 / SECOND_MS as f64;
        bucket.tokens = (bucket.tokens + elapsed_s * limit.per_second).min(limit.burst);
        bucket.updated = bucket.updated.max(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_sustained_rate() {
        let mut limiter = RateLimiter::default();
        let t = 1_000_000;
        for _ in 0..100 {
            assert!(limiter.admit(Operation::PollForTask, t));
        }
        assert!(!limiter.admit(Operation::PollForTask, t), "burst of 100 spent");
        assert!(!limiter.admit(Operation::PollForTask, t + 499), "2/s: one token per 500 ms");
        assert!(limiter.admit(Operation::PollForTask, t + 500));
        assert!(limiter.admit(Operation::SetTaskStatus, t), "buckets are per operation");
    }
}
