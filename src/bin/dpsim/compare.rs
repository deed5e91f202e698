//! `dpsim chaos BASE --compare OTHER.json` / `--set key.path=value`: one experiment, two
//! configurations, the same seeds and fault plans; prints the comparison and writes
//! `compare.json` and `compare.html`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::run::{EXIT_EXPECTATION_FAILED, EXIT_INVALID};
use dpsim::chaos::compare::{Config, compare};
use dpsim::runner::Programs;
use dpsim::scenario::load_file;

/// What to compare the base with.
#[derive(Clone, Debug)]
pub struct CompareArgs {
    /// The base scenario: the first configuration, and what seeds draw their plans from.
    pub scenario: PathBuf,
    /// Another scenario file as the second configuration.
    pub other: Option<PathBuf>,
    /// Assignments that make the second configuration (applied to `other`, or to the base).
    pub sets: Vec<String>,
    /// Seeds.
    pub seeds: std::ops::Range<u64>,
    /// Worker threads.
    pub jobs: usize,
    /// Where compare.json and compare.html go.
    pub out: PathBuf,
}

/// Runs the experiment; returns the exit status (non-zero when a configuration failed a seed).
pub fn run(args: &CompareArgs) -> u8 {
    let loaded = |path: &Path| {
        load_file(path).map_err(|e| {
            eprintln!("dpsim: invalid scenario: {e}");
            EXIT_INVALID
        })
    };
    let base = match loaded(&args.scenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (second, mut label) = match &args.other {
        Some(path) => match loaded(path) {
            Ok(s) => (s, path.display().to_string()),
            Err(code) => return code,
        },
        None => (base.clone(), args.scenario.display().to_string()),
    };
    let second = match second.with(&args.sets) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dpsim: invalid --set: {e}");
            return EXIT_INVALID;
        }
    };
    if !args.sets.is_empty() {
        label = format!("{label} with {}", args.sets.join(" "));
    }
    let configs = [
        Config { label: args.scenario.display().to_string(), scenario: base.clone() },
        Config { label, scenario: second },
    ];
    println!(
        "chaos comparison over seeds {}..{} on {} worker(s)\n  A: {}\n  B: {}",
        args.seeds.start, args.seeds.end, args.jobs, configs[0].label, configs[1].label
    );
    let bar = std::io::stderr().is_terminal().then(|| indicatif::ProgressBar::new(args.seeds.end - args.seeds.start));
    let start = std::time::Instant::now();
    let comparison = compare(&base, &configs, args.seeds.clone(), args.jobs, &Programs::default(), &|| {
        if let Some(b) = &bar {
            b.inc(1);
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    print!("{}", comparison.text());
    println!(
        "{:.1} seeds/s per configuration ({:.1} s)",
        comparison.failures[0].runs as f64 / start.elapsed().as_secs_f64().max(1e-9),
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("dpsim: cannot create {}: {e}", args.out.display());
        return EXIT_INVALID;
    }
    let json = serde_json::json!({
        "a": configs[0].label,
        "b": configs[1].label,
        "comparison": comparison,
    });
    let title = format!("{} vs {}", configs[0].label, configs[1].label);
    for (file, content) in [
        ("compare.json", serde_json::to_string_pretty(&json).expect("serialises")),
        ("compare.html", comparison.page(&title)),
    ] {
        let path = args.out.join(file);
        if let Err(e) = std::fs::write(&path, content) {
            eprintln!("dpsim: cannot write {}: {e}", path.display());
            return EXIT_INVALID;
        }
        println!("wrote {}", path.display());
    }
    if comparison.failures.iter().any(|f| f.failed_runs > 0) { EXIT_EXPECTATION_FAILED } else { 0 }
}
