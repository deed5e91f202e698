//! `dpsim chaos`: sweep seeds over a base scenario, summarise, write failing seeds as
//! standalone scenario files, shrink them, and print how to reproduce each.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::run::{EXIT_EXPECTATION_FAILED, EXIT_INVALID};
use dpsim::chaos::shrink;
use dpsim::chaos::{ChaosSummary, MergeError, SeedOutcome, merge_summaries, seed_scenario, sweep};
use dpsim::runner::Programs;
use dpsim::scenario::load_file;

/// Options of a sweep.
pub struct ChaosArgs {
    /// Base scenario.
    pub scenario: PathBuf,
    /// Seeds.
    pub seeds: std::ops::Range<u64>,
    /// Worker threads.
    pub jobs: usize,
    /// Where failing seeds and the JSON summary go.
    pub out: PathBuf,
    /// Shrink failing seeds.
    pub shrink: bool,
    /// Most simulations spent shrinking one seed.
    pub shrink_runs: usize,
    /// Most failing seeds to shrink.
    pub shrink_seeds: usize,
}

/// Runs `dpsim chaos`; returns the exit status.
pub fn run(args: &ChaosArgs) -> u8 {
    let base = match load_file(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dpsim: invalid scenario: {e}");
            return EXIT_INVALID;
        }
    };
    let total = args.seeds.end - args.seeds.start;
    println!(
        "chaos over {} with seeds {}..{} on {} worker(s)",
        args.scenario.display(),
        args.seeds.start,
        args.seeds.end,
        args.jobs
    );
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("[{bar:40}] {pos}/{len} seeds ({per_sec}, eta {eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    });
    let start = std::time::Instant::now();
    let programs = Programs::default();
    let mut outcomes = sweep(&base, args.seeds.clone(), args.jobs, &programs, &|| {
        if let Some(b) = &bar {
            b.inc(1);
        }
    });
    let wall = start.elapsed().as_secs_f64();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("dpsim: cannot create {}: {e}", args.out.display());
        return EXIT_INVALID;
    }
    // The false-alarm guard's second half: a seed that broke invariants (and held them under
    // its fixed-tick replay) is run again by a fresh dpsim process, with nothing this process
    // did before it; it must break the same invariants.
    for outcome in outcomes.iter_mut().filter(|o| !o.violations.is_empty()) {
        let file = args.out.join(format!("seed-{}.json", outcome.seed));
        let _ = std::fs::write(&file, seed_scenario(&base, outcome.seed).to_file_text());
        let found: BTreeSet<&str> = outcome.violations.iter().map(|v| v.invariant.name()).collect();
        match fresh_process(&file, &args.out.join(format!("seed-{}-fresh", outcome.seed))) {
            Ok(again) if again.iter().map(String::as_str).eq(found.iter().copied()) => {}
            Ok(again) => outcome.disown(format!(
                "harness defect: the run broke {} but a fresh process running {} broke {}: the simulation depends on what ran before it in the process, which says nothing about the protocol",
                found.iter().copied().collect::<Vec<_>>().join(", "),
                file.display(),
                if again.is_empty() { "nothing".to_string() } else { again.into_iter().collect::<Vec<_>>().join(", ") }
            )),
            Err(e) => eprintln!("dpsim: could not replay seed {} in a fresh process: {e}", outcome.seed),
        }
    }
    let summary = ChaosSummary::of(&outcomes, wall);
    print!("{}", summary.text());
    let failing: Vec<&SeedOutcome> = outcomes.iter().filter(|o| o.failed()).collect();
    let mut repros = Vec::new();
    for (n, outcome) in failing.iter().enumerate() {
        let file = args.out.join(format!("seed-{}.json", outcome.seed));
        let _ = std::fs::write(&file, seed_scenario(&base, outcome.seed).to_file_text());
        let mut entry = json!({"seed": outcome.seed, "scenario": file.display().to_string(), "invariants": outcome.violations.iter().map(|v| v.invariant).collect::<Vec<_>>(), "probes": outcome.probes.keys().collect::<Vec<_>>()});
        if let Some(defect) = &outcome.harness_defect {
            entry["harness_defect"] = json!(defect);
        }
        println!("seed {}: {}", outcome.seed, describe(outcome));
        if !outcome.probes.is_empty() {
            println!("  probes hit: {}", outcome.probes.keys().copied().collect::<Vec<_>>().join(", "));
        }
        println!("  repro: cargo run --release -- run {}", file.display());
        if let Some(page) = write_page(&file, &programs) {
            println!("  page: {page}");
            entry["page"] = json!(page);
        }
        if let (true, true, Some(first)) = (args.shrink, n < args.shrink_seeds, outcome.violations.first())
            && let Some(small) = shrink(&base, outcome.seed, first.invariant, args.shrink_runs, &programs)
        {
            let min_file = args.out.join(format!("seed-{}-min.json", outcome.seed));
            let _ = std::fs::write(&min_file, small.scenario.to_file_text());
            println!(
                "  shrunk in {} runs to {} fault(s) ({} moved onto a deadline boundary), {} runner(s), {} activation(s): cargo run --release -- run {}",
                small.runs,
                small.faults(),
                small.snapped,
                small.runners(),
                small.activations(),
                min_file.display()
            );
            entry["shrunk"] = json!({"scenario": min_file.display().to_string(), "faults": small.faults(), "snapped": small.snapped, "runs": small.runs});
            if let Some(page) = write_page(&min_file, &programs) {
                println!("  shrunk page: {page}");
                entry["shrunk"]["page"] = json!(page);
            }
        }
        repros.push(entry);
    }
    let mut json_summary = serde_json::to_value(&summary).expect("summaries serialise");
    json_summary["failures"] = json!(repros);
    json_summary["base"] = json!(args.scenario.display().to_string());
    let path = args.out.join("summary.json");
    let _ = std::fs::write(&path, serde_json::to_string_pretty(&json_summary).expect("serialises"));
    println!("summary written to {}", path.display());
    if failing.is_empty() { 0 } else { EXIT_EXPECTATION_FAILED }
}

/// Runs `dpsim run FILE --format json` in a new process and returns the invariants its report
/// says were broken beyond those the scenario expects (and `expectation` when one failed).
fn fresh_process(file: &Path, out: &Path) -> Result<BTreeSet<String>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let status = std::process::Command::new(exe)
        .args(["run", &file.display().to_string(), "--format", "json", "--out", &out.display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(out.join("report.json"))
        .map_err(|e| format!("{e} (dpsim run exited with {status})"))?;
    let report: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let expected: BTreeSet<&str> =
        report["expected_violations"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
    let mut broken: BTreeSet<String> = report["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["invariant"].as_str())
        .filter(|i| !expected.contains(i))
        .map(str::to_string)
        .collect();
    if report["expectations"].as_array().into_iter().flatten().any(|e| e["ok"] == false) {
        broken.insert("expectation".into());
    }
    let _ = std::fs::remove_dir_all(out);
    Ok(broken)
}

fn describe(o: &SeedOutcome) -> String {
    if let Some(e) = &o.error {
        return format!("simulation error: {e}");
    }
    if let Some(d) = &o.harness_defect {
        return d.clone();
    }
    o.violations.iter().map(|v| format!("{} ({})", v.invariant, v.message)).collect::<Vec<_>>().join("; ")
}

/// Runs `dpsim merge` of chaos shards: merges the `summary.json` of sweeps over the same base
/// (shards of one large sweep, run on several machines) into one, as if one sweep had run
/// every seed. Returns the exit status.
pub fn merge(dirs: &[PathBuf], out: &Path) -> u8 {
    let mut texts = Vec::new();
    for dir in dirs {
        let path = dir.join("summary.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => texts.push(text),
            Err(e) => {
                eprintln!("dpsim: cannot read {}: {e}", path.display());
                return EXIT_INVALID;
            }
        }
    }
    let merged = match merge_summaries(&texts) {
        Ok(m) => m,
        Err(MergeError::Unreadable(i, e)) => {
            eprintln!("dpsim: cannot read {}: {e}", dirs[i].join("summary.json").display());
            return EXIT_INVALID;
        }
        Err(e) => {
            eprintln!("dpsim: {e}");
            return EXIT_INVALID;
        }
    };
    println!("merged {} shard(s) over {}", dirs.len(), merged.base);
    print!("{}", merged.summary.text());
    for f in &merged.failures {
        println!("seed {}: {}", f["seed"], f["invariants"]);
    }
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("dpsim: cannot create {}: {e}", out.display());
        return EXIT_INVALID;
    }
    let mut json_summary = serde_json::to_value(&merged.summary).expect("summaries serialise");
    json_summary["failures"] = json!(merged.failures);
    json_summary["base"] = json!(merged.base);
    let path = out.join("summary.json");
    let _ = std::fs::write(&path, serde_json::to_string_pretty(&json_summary).expect("serialises"));
    println!("summary written to {}", path.display());
    if merged.summary.failed_runs == 0 { 0 } else { EXIT_EXPECTATION_FAILED }
}

/// The default number of workers: the machine's cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where output goes by default.
pub fn default_out(scenario: &Path) -> PathBuf {
    PathBuf::from("chaos-out").join(dpsim::scenario::name_of(scenario))
}

/// Runs a scenario file the sweep wrote and writes its report page beside it (`seed-6.json`:
/// `seed-6.html`); answers the page's path with the fragment of its first violation.
pub(crate) fn write_page(file: &Path, programs: &Programs) -> Option<String> {
    let sim = dpsim::Simulation::from_file(file).ok()?.programs(programs.clone());
    let (report, trace) = sim.run_traced(None).ok()?;
    let page = file.with_extension("html");
    let name = dpsim::scenario::name_of(file);
    std::fs::write(&page, dpsim::report::page(&name, &report, &trace)).ok()?;
    Some(format!("{}{}", page.display(), dpsim::report::first_violation_fragment(&report).unwrap_or_default()))
}
