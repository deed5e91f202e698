//! The ownership timeline as SVG: one lane per task (aggregated when there are many), lease
//! bars coloured per runner, zombie work hatched, deadlines as ticks, faults and control-plane
//! events marked on the time axis. Byte-stable for a seed, so it can be snapshot-tested.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::journal::EventKind;
use crate::time::Millis;
use crate::trace::ObservationKind;
use crate::trace::Trace;

use super::analysis::{Analysis, LeaseEnd, rel};
use super::log::stamp;

/// Most lanes drawn; more tasks share lanes.
pub const MAX_LANES: usize = 40;
const WIDTH: f64 = 1200.0;
const LABEL: f64 = 170.0;
const LANE: f64 = 20.0;
/// Height of one row of event labels above the lanes.
const LABEL_ROW: f64 = 11.0;
/// Most rows of event labels; events beyond keep their line and tooltip.
const LABEL_ROWS: usize = 4;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A stable colour per runner: evenly spaced hues in runner order.
fn colour(index: usize, total: usize) -> String {
    let hue = (index * 360 / total.max(1) + (index % 2) * 17) % 360;
    format!("hsl({hue},62%,48%)")
}

fn tick_step(end: Millis) -> Millis {
    let steps = [10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000];
    steps.into_iter().find(|s| end / s <= 12).unwrap_or(14_400_000)
}

/// Renders the timeline of a run.
pub fn svg(out: &Trace, a: &Analysis, title: &str) -> String {
    let end = out.end_ms.max(1);
    let x = |t: Millis| LABEL + (t.min(end) as f64 / end as f64) * (WIDTH - LABEL - 20.0);
    // (pipeline id, instance id): instance ids are unique only within their pipeline.
    let instances: Vec<(&str, &str)> =
        out.instances.iter().map(|i| (i.pipeline_id.as_str(), i.instance_id.as_str())).collect();
    let per_lane = instances.len().div_ceil(MAX_LANES).max(1);
    let lanes = instances.len().div_ceil(per_lane);
    let lane_of: BTreeMap<(&str, &str), usize> =
        instances.iter().enumerate().map(|(i, id)| (*id, i / per_lane)).collect();
    let runners: Vec<&str> = out.runners.iter().map(|r| r.name.as_str()).collect();
    let runner_colour: BTreeMap<&str, String> =
        runners.iter().enumerate().map(|(i, r)| (*r, colour(i, runners.len()))).collect();
    let legend_rows = if runners.len() <= 12 { 1 } else { 0 };
    let marks = marks(out, per_lane == 1);
    // Event labels go in rows above the lanes, each in the first row where it fits.
    let mut row_end = [f64::MIN; LABEL_ROWS];
    let placed: Vec<Option<usize>> = marks
        .iter()
        .map(|(t, what, _)| {
            let (start, width) = (x(*t), what.chars().count().min(48) as f64 * 6.2);
            let row = row_end.iter().position(|end| *end < start)?;
            row_end[row] = start + width + 6.0;
            Some(row)
        })
        .collect();
    let rows_used = placed.iter().flatten().max().map_or(0, |r| r + 1);
    #[allow(non_snake_case)]
    let TOP = 44.0 + rows_used as f64 * LABEL_ROW + 8.0;
    let height = TOP + lanes as f64 * LANE + 40.0 + legend_rows as f64 * 24.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="monospace" font-size="11">"#
    );
    s += r##"<defs><pattern id="zombie" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c0392b" stroke-width="3"/></pattern></defs>
"##;
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#fff"/>"##);
    let _ = writeln!(s, r#"<text x="8" y="18" font-size="14" font-weight="bold">{}</text>"#, esc(title));
    let summary = if per_lane > 1 {
        format!("{} tasks in {lanes} lanes of {per_lane}; bars overlap where tasks share a lane", instances.len())
    } else {
        format!("{} tasks", instances.len())
    };
    let _ = writeln!(
        s,
        r##"<text x="8" y="34" fill="#555">{}; hatched: zombie work (grey: frozen, still believing); ticks: deadlines; dashed: faults and control events</text>"##,
        esc(&summary)
    );
    // Time axis.
    let step = tick_step(end);
    let axis_y = TOP + lanes as f64 * LANE + 4.0;
    let mut t = 0;
    while t <= end {
        let tx = x(t);
        let _ = writeln!(s, r##"<line x1="{tx:.1}" y1="{TOP}" x2="{tx:.1}" y2="{axis_y:.1}" stroke="#eee"/>"##);
        let _ = writeln!(
            s,
            r##"<text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
            axis_y + 14.0,
            &stamp(t)[..9]
        );
        t += step;
    }
    // Lanes.
    for lane in 0..lanes {
        let y = TOP + lane as f64 * LANE;
        let label = if per_lane == 1 {
            a.label(instances[lane].0, instances[lane].1)
        } else {
            let first = lane * per_lane;
            let last = ((lane + 1) * per_lane).min(instances.len()) - 1;
            let (first, last) = (instances[first], instances[last]);
            format!("{}..{}", a.label(first.0, first.1), a.label(last.0, last.1))
        };
        let _ = writeln!(s, r##"<text x="8" y="{:.1}">{}</text>"##, y + 12.5, esc(&label));
        let _ = writeln!(
            s,
            r##"<line x1="{LABEL}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#f4f4f4"/>"##,
            y + LANE,
            WIDTH - 20.0,
            y + LANE
        );
    }
    let opacity = if per_lane > 1 { 0.35 } else { 0.9 };
    // Lease bars (upper part of the lane) and their end markers.
    for l in a.leases.values() {
        let Some(&lane) = lane_of.get(&(l.pipeline_id.as_str(), l.object_id.as_str())) else { continue };
        let y = TOP + lane as f64 * LANE + 2.0;
        let (x0, x1) = (x(l.assigned_at), x(l.ended_at.unwrap_or(end)));
        let fill = runner_colour.get(l.runner.as_str()).cloned().unwrap_or_else(|| "#888".into());
        let _ = writeln!(
            s,
            r#"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}" fill-opacity="{opacity}"><title>{} t{} {} {}..{}</title></rect>"#,
            (x1 - x0).max(1.0),
            LANE - 9.0,
            esc(&a.task_label(l.seq)),
            l.seq,
            esc(&l.runner),
            stamp(l.assigned_at),
            l.ended_at.map_or("end".into(), stamp)
        );
        if matches!(l.end, LeaseEnd::Taken(_)) {
            let _ = writeln!(
                s,
                r##"<line x1="{x1:.1}" y1="{:.1}" x2="{x1:.1}" y2="{:.1}" stroke="#c0392b" stroke-width="2"/>"##,
                y - 1.0,
                y + LANE - 5.0
            );
        }
    }
    // Deadlines as ticks.
    let lease_lane: BTreeMap<u64, usize> = a
        .leases
        .values()
        .filter_map(|l| lane_of.get(&(l.pipeline_id.as_str(), l.object_id.as_str())).map(|lane| (l.seq, *lane)))
        .collect();
    let mut last_deadline: BTreeMap<u64, Millis> = BTreeMap::new();
    for e in &out.journal {
        match (&e.kind, e.task) {
            (EventKind::Assigned { ack_deadline: d, .. }, Some(seq))
            | (EventKind::Acknowledged { progress_deadline: d }, Some(seq))
            | (EventKind::Renewed { progress_deadline: d }, Some(seq)) => {
                last_deadline.insert(seq, rel(*d));
            }
            _ => {}
        }
    }
    if per_lane == 1 {
        for (seq, d) in &last_deadline {
            let Some(lane) = lease_lane.get(seq) else { continue };
            let y = TOP + *lane as f64 * LANE;
            let dx = x(*d);
            let _ = writeln!(
                s,
                r##"<line x1="{dx:.1}" y1="{:.1}" x2="{dx:.1}" y2="{:.1}" stroke="#333" stroke-width="1"/>"##,
                y + 1.0,
                y + 5.0
            );
        }
    }
    // Zombie work, hatched in the lower part of the lane so the new owner's bar stays visible;
    // stretches the runner spent frozen while still believing it held the task are drawn grey
    // over the hatching: belief, not work.
    for w in a.work.iter().filter(|w| w.zombie_ms + w.frozen_ms > 0) {
        let Some(&lane) = lease_lane.get(&w.seq) else { continue };
        let y = TOP + lane as f64 * LANE + LANE - 7.0;
        let lost_from = w.to - w.zombie_ms - w.frozen_ms;
        let (x0, x1) = (x(lost_from), x(w.to));
        let _ = writeln!(
            s,
            r#"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="url(#zombie)" stroke="{}" stroke-width="1"><title>zombie work of {} on t{}: {}</title></rect>"#,
            (x1 - x0).max(1.0),
            6.0,
            runner_colour.get(w.runner.as_str()).cloned().unwrap_or_default(),
            esc(&w.runner),
            w.seq,
            crate::time::format_duration(w.zombie_ms)
        );
        for &(f0, f1) in a.frozen_spans(&w.runner) {
            let (f0, f1) = (f0.max(lost_from), f1.min(w.to));
            if f1 <= f0 {
                continue;
            }
            let _ = writeln!(
                s,
                r##"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="6.0" fill="#bbb" fill-opacity="0.9"><title>{} frozen on t{}, still believing it held the task: {}</title></rect>"##,
                x(f0),
                (x(f1) - x(f0)).max(1.0),
                esc(&w.runner),
                w.seq,
                crate::time::format_duration(f1 - f0)
            );
        }
    }
    // Faults and control-plane events on the time axis, labelled in rows above the lanes.
    for ((t, what, stroke), row) in marks.iter().zip(&placed) {
        let mx = x(*t);
        let top = 44.0 + row.unwrap_or(0) as f64 * LABEL_ROW;
        let _ = writeln!(
            s,
            r#"<line x1="{mx:.1}" y1="{top:.1}" x2="{mx:.1}" y2="{axis_y:.1}" stroke="{stroke}" stroke-dasharray="4 3"><title>{} {}</title></line>"#,
            stamp(*t),
            esc(what)
        );
        if let Some(row) = row {
            let ty = 44.0 + (*row as f64 + 1.0) * LABEL_ROW - 2.0;
            let label: String = what.chars().take(48).collect();
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{ty:.1}" fill="{stroke}" font-size="10">{}</text>"#,
                mx + 2.0,
                esc(&label)
            );
        }
    }
    // Legend.
    if legend_rows == 1 {
        let y = axis_y + 32.0;
        let mut lx = LABEL;
        for r in &runners {
            let _ = writeln!(
                s,
                r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="10" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                y - 9.0,
                runner_colour[r],
                lx + 16.0,
                y,
                esc(r)
            );
            lx += 24.0 + r.len() as f64 * 7.0;
        }
    }
    s += "</svg>\n";
    s
}

/// Faults and control-plane events to mark: time, words, colour.
fn marks(out: &Trace, with_message_faults: bool) -> Vec<(Millis, String, &'static str)> {
    let mut marks = Vec::new();
    for o in &out.observations {
        match &o.kind {
            ObservationKind::Applied { what, .. } => {
                let control = ["TRY_CANCEL", "deactivate", "activate", "delete"].iter().any(|c| what.starts_with(c));
                marks.push((rel(o.at), what.clone(), if control { "#2962ff" } else { "#e67e22" }));
            }
            ObservationKind::MessageFault { what, operation, .. } if with_message_faults => {
                marks.push((rel(o.at), format!("{what} {operation}"), "#8e44ad"));
            }
            _ => {}
        }
    }
    marks
}

/// The timeline picture of a run, titled with its name and seed.
pub fn svg_of(name: &str, out: &Trace) -> String {
    let analysis = crate::report::analysis::Analysis::of(out);
    svg(out, &analysis, &format!("{name} (seed {})", out.seed))
}
