//! `dpsim run`: replay a scenario and print (or write) its ownership log and verdicts.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde_json::json;

use dpsim::report::Report;
use dpsim::scenario::{Scenario, load_file};
use dpsim::simulation::{Simulation, SimulationError};
use dpsim::trace::Trace;

/// Output format of `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable log and summary.
    Text,
    /// The JSON report.
    Json,
}

/// Exit status for a run whose expectations failed.
pub const EXIT_EXPECTATION_FAILED: u8 = 1;
/// Exit status for an invalid scenario or a failed simulation.
pub const EXIT_INVALID: u8 = 2;

use dpsim::scenario::name_of as scenario_name;

/// Runs a loaded scenario with a progress bar on a terminal.
pub fn simulate(name: &str, scenario: &Scenario, seed: u64) -> Result<(Report, Trace), SimulationError> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(scenario.duration().as_secs());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} simulated s ({elapsed})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(name.to_string());
        bar
    });
    let mut tick = |now: u64, _total: u64| {
        if let Some(b) = &bar {
            b.set_position(now / 1000);
        }
    };
    let progress: Option<dpsim::simulation::Progress> = if bar.is_some() { Some(&mut tick) } else { None };
    let out = Simulation::new(scenario.clone()).name(name).seed(seed).run_traced(progress);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    out
}

/// `dpsim run`; returns the process exit status.
pub fn run(
    path: &Path,
    seed: Option<u64>,
    format: Format,
    out_dir: Option<PathBuf>,
    timeline: Option<PathBuf>,
    trace_events: Option<PathBuf>,
    verbose: bool,
) -> u8 {
    let scenario = match load_file(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dpsim: invalid scenario: {e}");
            return EXIT_INVALID;
        }
    };
    let seed = seed.unwrap_or(scenario.seed());
    let name = scenario_name(path);
    if format == Format::Text {
        println!("seed: {seed}");
    }
    let (report, output) = match simulate(&name, &scenario, seed) {
        Ok(r) => r,
        // A scenario the simulation refuses (a program the CLI does not have) is input to fix,
        // not a run to repeat: no repro line.
        Err(e @ dpsim::simulation::SimulationError::Scenario(_)) => {
            eprintln!("dpsim: {e}");
            return EXIT_INVALID;
        }
        Err(e) => {
            eprintln!("dpsim: {e}\nrepro: cargo run --release -- run {} --seed {seed}", path.display());
            return EXIT_INVALID;
        }
    };
    match format {
        Format::Text => {
            // Many violations are a few problems: the grouped summary comes first, so the first
            // screen explains the failure; the log and the full list follow.
            if report.violations.len() > dpsim::report::HANDFUL {
                print!("{}", report.summary_text());
                println!();
            }
            print!("{}", report.log_text());
            println!();
            print!("{}", report.summary_text());
            if !report.violations.is_empty() {
                println!();
                print!("{}", if verbose { report.all_violations_text() } else { report.violations_text() });
            }
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&report).expect("reports serialise")),
    }
    // Drawn once, for --timeline and --out alike.
    let svg = if timeline.is_some() || out_dir.is_some() {
        dpsim::report::timeline_svg(&name, &output)
    } else {
        String::new()
    };
    if let Some(file) = timeline
        && let Err(e) = std::fs::write(&file, &svg)
    {
        eprintln!("dpsim: cannot write {}: {e}", file.display());
        return EXIT_INVALID;
    }
    if let Some(file) = trace_events
        && let Err(e) = std::fs::write(&file, dpsim::report::trace_events(&name, &report, &output))
    {
        eprintln!("dpsim: cannot write {}: {e}", file.display());
        return EXIT_INVALID;
    }
    let out_dir_shown = out_dir.clone();
    if let Some(dir) = out_dir
        && let Err(e) = write_out(&dir, &report, &output, &svg, path)
    {
        eprintln!("dpsim: cannot write {}: {e}", dir.display());
        return EXIT_INVALID;
    }
    if report.passed() {
        0
    } else {
        if let Some(dir) = out_dir_shown {
            let fragment = dpsim::report::first_violation_fragment(&report).unwrap_or_default();
            eprintln!("dpsim: the report page: {}{fragment}", dir.join("report.html").display());
        }
        eprintln!(
            "dpsim: expectations or invariants failed\nrepro: cargo run --release -- run {} --seed {seed}",
            path.display()
        );
        EXIT_EXPECTATION_FAILED
    }
}

fn write_out(dir: &Path, report: &Report, out: &Trace, svg: &str, path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("log.txt"), format!("seed: {}\n{}", out.seed, report.snapshot_text()))?;
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(report).expect("reports serialise"))?;
    std::fs::write(dir.join("violations.txt"), report.all_violations_text())?;
    let raw = json!({"scenario": path.display().to_string(), "seed": out.seed, "journal": out.journal, "observations": out.observations});
    let name = scenario_name(path);
    std::fs::write(dir.join("timeline.svg"), svg)?;
    std::fs::write(dir.join("report.html"), dpsim::report::page(&name, report, out))?;
    std::fs::write(dir.join("events.json"), serde_json::to_string_pretty(&raw).expect("events serialise"))?;
    Ok(())
}
