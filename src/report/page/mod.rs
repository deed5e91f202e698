//! The report page: one self-contained HTML file (no network access, nothing to build) that
//! leads with what broke, the violations grouped by the rule they break, each group's first
//! violation in full with the transitions and the faults before it, then the expectations, an
//! interactive timeline (canvas: zoom, pan, lanes by task or runner, hover, click to filter the
//! log) and the ownership log. Every violation, lease and time window has a URL fragment
//! (`#v=3`, `#lease=16`, `#t=240000-300000`).
//!
//! The page is `page.html` with `page.css`, `page.js` and the run's data ([`data::build`])
//! put in; the same page without data is `serve`'s live page, which fetches the data itself.

mod data;
mod trace_events;

use serde_json::Value;

use crate::report::Report;
use crate::trace::Trace;

const HTML: &str = include_str!("page.html");
const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page, with `data` embedded (`None`: the live page, which fetches `page.json`).
fn fill(title: &str, data: Option<&Value>) -> String {
    // Inside <script>, `</` could end the element: JSON lets `/` be written `\/`.
    let json = data.map_or_else(|| "null".to_string(), |d| d.to_string().replace("</", "<\\/"));
    HTML.replace("{{CSS}}", CSS)
        .replace("{{JS}}", JS)
        .replace("{{TITLE}}", &escape_html(title))
        .replace("{{DATA}}", &json)
}

/// The report page of a run.
pub(crate) fn render(title: &str, report: &Report, trace: &Trace) -> String {
    fill(title, Some(&data::build(title, report, trace)))
}

/// The data the page draws (what `serve` answers at `GET /_dpsim/page.json`).
pub(crate) fn data(title: &str, report: &Report, trace: &Trace) -> Value {
    data::build(title, report, trace)
}

/// `serve`'s live page: no data in it; it fetches `page.json` (with the admin token under
/// `--auth`) and again whenever the clock moves.
pub(crate) fn live(title: &str) -> String {
    fill(title, None)
}

/// The run in the Chrome trace event format, for Perfetto.
pub(crate) fn trace_events(title: &str, report: &Report, trace: &Trace) -> Value {
    trace_events::of(&data::build(title, report, trace))
}
