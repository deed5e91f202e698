//! The run in the Chrome trace event format (`dpsim run --trace-events FILE`), so it opens in
//! Perfetto (ui.perfetto.dev) or chrome://tracing for deep zooming: a track per runner with
//! its leases as slices (and the zombie work after a lease ended as a slice of its own), its
//! calls as instants with their answers, and faults, control events and violations as global
//! instants. Built from the report page's data, so both show the same run.

use serde_json::{Value, json};

/// Microseconds, the format's unit, from milliseconds.
fn us(ms: &Value) -> u64 {
    ms.as_u64().unwrap_or(0) * 1000
}

/// The trace events of the page data `d` (see `data.rs` for its columns).
pub(crate) fn of(d: &Value) -> Value {
    let empty = Vec::new();
    let rows = |key: &str| d[key].as_array().unwrap_or(&empty).clone();
    let runners = rows("runners");
    let end = d["end"].as_u64().unwrap_or(0);
    let mut events = vec![json!({"name": "process_name", "ph": "M", "pid": 1, "args": {"name": d["title"]}})];
    for (tid, name) in runners.iter().enumerate() {
        events.push(json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": name}}));
    }
    for l in rows("leases") {
        let from = l[3].as_u64().unwrap_or(0);
        let to = l[4].as_u64().unwrap_or(end);
        events.push(json!({
            "name": format!("t{} {}", l[0], l[6].as_str().unwrap_or("")), "cat": "lease", "ph": "X",
            "ts": from * 1000, "dur": to.saturating_sub(from) * 1000, "pid": 1, "tid": l[2],
            "args": {"ended": l[5], "handed out again": l[7] == 1},
        }));
    }
    for w in rows("work") {
        let zombie = w[4].as_u64().unwrap_or(0);
        if zombie > 0 {
            let to = w[3].as_u64().unwrap_or(0);
            events.push(json!({
                "name": format!("zombie work on t{}", w[0]), "cat": "zombie", "ph": "X",
                "ts": to.saturating_sub(zombie) * 1000, "dur": zombie * 1000, "pid": 1, "tid": w[1],
            }));
        }
    }
    for c in rows("calls") {
        if c[1].is_null() {
            continue;
        }
        events.push(json!({
            "name": c[2], "cat": "call", "ph": "i", "s": "t", "ts": us(&c[0]), "pid": 1, "tid": c[1],
            "args": {"lease": c[3], "answer": c[4], "answered at (ms)": c[5]},
        }));
    }
    for m in rows("marks") {
        events.push(json!({"name": m[2], "cat": m[1], "ph": "i", "s": "g", "ts": us(&m[0]), "pid": 1}));
    }
    for v in rows("violations") {
        events.push(json!({
            "name": format!("{} violated", v["invariant"].as_str().unwrap_or("")), "cat": "violation",
            "ph": "i", "s": "g", "ts": us(&v["at"]), "pid": 1,
            "args": {"message": v["message"], "task": v["task"], "runner": v["runner"], "lease": v["lease"]},
        }));
    }
    json!({"traceEvents": events, "displayTimeUnit": "ms"})
}
