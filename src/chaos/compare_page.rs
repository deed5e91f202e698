//! The HTML page of a comparison: the verdicts in a table, then one plot per metric with
//! both configurations' distributions overlaid as CDFs. Self-contained (inline SVG, no
//! script), so it opens from a CI artifact as it is.

use std::fmt::Write;

use super::compare::{Comparison, Metric};
use crate::time::format_duration;

const COLOURS: [&str; 2] = ["#1f6fb4", "#d9480f"];
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;

/// The page, as HTML text.
pub(crate) fn html(c: &Comparison, title: &str) -> String {
    let mut out = String::new();
    let labels: Vec<&str> = c.failures.iter().map(|f| f.label.as_str()).collect();
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title><style>\
         body{{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1320px}}\
         h1{{font-size:20px;margin:0 0 4px}} h2{{font-size:15px;margin:18px 0 4px}}\
         table{{border-collapse:collapse;margin:8px 0 16px}} td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         th{{background:#f3f3f3}} td:first-child,th:first-child{{text-align:left}}\
         .yes{{background:#fff3bf;font-weight:600}} .plots{{display:flex;flex-wrap:wrap;gap:12px}}\
         .plot{{border:1px solid #ddd;padding:6px;width:{WIDTH}px}} .key span{{display:inline-block;width:14px;height:4px;margin:0 6px 3px 14px;vertical-align:middle}}\
         </style></head><body><h1>{t}</h1>",
        t = esc(title)
    );
    let _ = write!(
        out,
        "<div>Seeds {}..{}, the same fault plan per seed for both; differences are second minus first, with the \
         central 95% of {} paired bootstrap resamples over seeds.</div><div class=\"key\">",
        c.seeds[0], c.seeds[1], c.resamples
    );
    for (i, label) in labels.iter().enumerate() {
        let _ = write!(out, "<span style=\"background:{}\"></span>{}", COLOURS[i], esc(label));
    }
    out.push_str("</div><h2>Invariant failures</h2><table><tr><th>configuration</th><th>runs</th><th>failed</th><th>per invariant</th></tr>");
    for f in &c.failures {
        let per: Vec<String> = f.per_invariant.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.label),
            f.runs,
            f.failed_runs,
            esc(&per.join(", "))
        );
    }
    out.push_str("</table><h2>Distributions</h2><table><tr><th>metric</th>");
    for label in &labels {
        let _ = write!(out, "<th colspan=\"5\">{}</th>", esc(label));
    }
    out.push_str("<th>Δ p50 [95%]</th><th>Δ mean [95%]</th></tr><tr><th></th>");
    for _ in &labels {
        out.push_str("<th>n</th><th>p50</th><th>p90</th><th>p99</th><th>max</th>");
    }
    out.push_str("<th></th><th></th></tr>");
    for m in &c.metrics {
        let _ = write!(out, "<tr><td>{}</td>", esc(m.name));
        for d in &m.configs {
            let [p50, p90, p99, max] = quantiles(m, d);
            let _ = write!(out, "<td>{}</td><td>{p50}</td><td>{p90}</td><td>{p99}</td><td>{max}</td>", d.count);
        }
        for statistic in ["p50", "mean"] {
            match m.differences.iter().find(|d| d.statistic == statistic) {
                Some(d) => {
                    let _ = write!(
                        out,
                        "<td class=\"{}\">{} [{}, {}]{}</td>",
                        if d.beyond_noise { "yes" } else { "no" },
                        signed(m, d.delta),
                        signed(m, d.ci95[0]),
                        signed(m, d.ci95[1]),
                        if d.beyond_noise { " beyond noise" } else { "" }
                    );
                }
                None => out.push_str("<td>no data</td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</table><h2>CDFs</h2><div class=\"plots\">");
    for m in &c.metrics {
        out.push_str(&plot(m, &labels));
    }
    out.push_str("</div></body></html>\n");
    out
}

/// One metric's CDFs as an SVG figure.
fn plot(m: &Metric, labels: &[&str]) -> String {
    let mut svg = String::new();
    let max = m.configs.iter().map(|d| d.max).fold(0.0, f64::max);
    let span = if max > 0.0 { max } else { 1.0 };
    let x = |v: f64| LEFT + (WIDTH - LEFT - RIGHT) * v / span;
    let y = |q: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - q);
    let _ = write!(
        svg,
        "<div class=\"plot\"><b>{}</b> ({}) <svg width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-size=\"11\">",
        esc(m.name),
        m.configs.iter().zip(labels).map(|(d, l)| format!("{}: n={}", esc(l), d.count)).collect::<Vec<_>>().join(", ")
    );
    for i in 0..=4 {
        let q = f64::from(i) / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#eee\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{q:.2}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(q) + 4.0,
            y = y(q)
        );
    }
    let step = nice_step(span, m.unit == "ms");
    let mut v = 0.0;
    while v <= span * 1.0001 {
        let anchor = if x(v) > WIDTH - RIGHT - 30.0 { "end" } else { "middle" };
        let _ = write!(
            svg,
            "<line x1=\"{x}\" x2=\"{x}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#eee\"/>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 16.0,
            value(m, v),
            x = x(v)
        );
        v += step;
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{} (fraction at or below)</text>",
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 8.0,
        if m.unit == "ms" { "duration" } else { m.unit }
    );
    for (i, d) in m.configs.iter().enumerate() {
        if d.samples.is_empty() {
            continue;
        }
        let n = d.samples.len() as f64;
        let mut path = format!("M{:.1},{:.1}", x(0.0), y(0.0));
        let mut last = 0.0;
        // Large samples are drawn through at most 1,000 of their points: the picture is the same.
        let stride = d.samples.len().div_ceil(1000);
        for (k, v) in d.samples.iter().enumerate().filter(|(k, _)| (k + 1) % stride == 0 || k + 1 == d.samples.len()) {
            // A step: along at the previous level to v, then up to the new level.
            let _ = write!(path, " L{:.1},{:.1} L{:.1},{:.1}", x(*v), y(last), x(*v), y((k + 1) as f64 / n));
            last = (k + 1) as f64 / n;
        }
        let _ = write!(path, " L{:.1},{:.1}", x(span), y(1.0));
        let _ = write!(svg, "<path d=\"{path}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>", COLOURS[i]);
    }
    let _ = write!(
        svg,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/></svg></div>",
        WIDTH - LEFT - RIGHT,
        HEIGHT - TOP - BOTTOM
    );
    svg
}

/// A value in the metric's unit, for people (durations of 10 s and more to a tenth of a
/// second).
pub(crate) fn value(m: &Metric, v: f64) -> String {
    if m.unit != "ms" {
        return format!("{v:.1}");
    }
    let ms = v.round().max(0.0) as u64;
    format_duration(if ms >= 10_000 { (ms + 50) / 100 * 100 } else { ms })
}

/// A round step for about four to eight axis ticks over `span`: whole seconds, minutes and
/// hours for durations, 1-2-5 steps otherwise.
fn nice_step(span: f64, duration: bool) -> f64 {
    const S: f64 = 1000.0;
    const M: f64 = 60.0 * S;
    let steps: Vec<f64> = if duration {
        vec![
            S,
            2.0 * S,
            5.0 * S,
            10.0 * S,
            15.0 * S,
            30.0 * S,
            M,
            2.0 * M,
            5.0 * M,
            10.0 * M,
            15.0 * M,
            30.0 * M,
            60.0 * M,
            120.0 * M,
            360.0 * M,
        ]
    } else {
        (-2..8).flat_map(|e| [1.0, 2.0, 5.0].map(|k| k * 10f64.powi(e))).collect()
    };
    steps.into_iter().find(|s| span / s <= 8.0).unwrap_or(span / 4.0)
}

/// A distribution's p50, p90, p99 and max in the metric's unit, as both tables show them.
pub(crate) fn quantiles(m: &Metric, d: &super::compare::Dist) -> [String; 4] {
    [d.p50, d.p90, d.p99, d.max].map(|v| value(m, v))
}

/// A signed difference in the metric's unit.
pub(crate) fn signed(m: &Metric, v: f64) -> String {
    let sign = if v < 0.0 { "-" } else { "+" };
    format!("{sign}{}", value(m, v.abs()))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Comparison {
    /// The comparison as text, as `dpsim chaos --compare` prints it: failures, then one line
    /// per metric and configuration, then the differences and whether each is beyond
    /// seed-to-seed noise.
    pub fn text(&self) -> String {
        let c = self;
        let mut out = String::new();
        for (name, f) in ["A", "B"].iter().zip(&c.failures) {
            let per: Vec<String> = f.per_invariant.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            let _ = writeln!(out, "{name}: runs {}  failed {}  {}", f.runs, f.failed_runs, per.join(", "));
        }
        for m in &c.metrics {
            let _ = writeln!(out, "{}:", m.name);
            for (name, d) in ["A", "B"].iter().zip(&m.configs) {
                let [p50, p90, p99, max] = quantiles(m, d);
                let _ = writeln!(out, "  {name}: n={} p50={p50} p90={p90} p99={p99} max={max}", d.count);
            }
            for d in &m.differences {
                let _ = writeln!(
                    out,
                    "  B-A {}: {} (95% {} .. {}) {}",
                    d.statistic,
                    signed(m, d.delta),
                    signed(m, d.ci95[0]),
                    signed(m, d.ci95[1]),
                    if d.beyond_noise { "BEYOND seed-to-seed noise" } else { "within noise" }
                );
            }
        }
        out
    }

    /// The comparison as a self-contained HTML page (`compare.html`), titled `title`.
    pub fn page(&self, title: &str) -> String {
        html(self, title)
    }
}
