//! `dpsim chaos`: sweep seeds over a base scenario, summarise, write failing seeds as
//! standalone scenario files, shrink them, and print how to reproduce each.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::run::{EXIT_EXPECTATION_FAILED, EXIT_INVALID};
use dpsim::chaos::shrink::shrink;
use dpsim::chaos::stats::Distribution;
use dpsim::chaos::{SeedOutcome, seed_scenario, standalone, sweep};
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
        let _ = std::fs::write(&file, standalone(&seed_scenario(&base, outcome.seed)));
        let found: BTreeSet<&str> = outcome.violations.iter().map(|v| v.invariant).collect();
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
    let summary = summarise(&outcomes, wall);
    print!("{}", summary_text(&summary));
    let failing: Vec<&SeedOutcome> = outcomes.iter().filter(|o| o.failed()).collect();
    let mut repros = Vec::new();
    for (n, outcome) in failing.iter().enumerate() {
        let file = args.out.join(format!("seed-{}.json", outcome.seed));
        let _ = std::fs::write(&file, standalone(&seed_scenario(&base, outcome.seed)));
        let mut entry = json!({"seed": outcome.seed, "scenario": file.display().to_string(), "invariants": outcome.violations.iter().map(|v| v.invariant).collect::<Vec<_>>(), "probes": outcome.probes.keys().collect::<Vec<_>>()});
        if let Some(defect) = &outcome.harness_defect {
            entry["harness_defect"] = json!(defect);
        }
        println!("seed {}: {}", outcome.seed, describe(outcome));
        if !outcome.probes.is_empty() {
            println!("  probes hit: {}", outcome.probes.keys().copied().collect::<Vec<_>>().join(", "));
        }
        println!("  repro: cargo run --release -- run {}", file.display());
        if let (true, true, Some(first)) = (args.shrink, n < args.shrink_seeds, outcome.violations.first())
            && let Some(small) = shrink(&base, outcome.seed, first.invariant, args.shrink_runs, &programs)
        {
            let min_file = args.out.join(format!("seed-{}-min.json", outcome.seed));
            let _ = std::fs::write(&min_file, standalone(&small.scenario));
            println!(
                "  shrunk in {} runs to {} fault(s) ({} moved onto a deadline boundary), {} runner(s), {} activation(s): cargo run --release -- run {}",
                small.runs,
                small.plan.effective().len(),
                small.snapped,
                small.plan.runners,
                small.plan.activations,
                min_file.display()
            );
            entry["shrunk"] = json!({"scenario": min_file.display().to_string(), "faults": small.plan.effective().len(), "snapped": small.snapped, "runs": small.runs});
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

/// The raw figures behind a summary's distributions, kept so that shards merge exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Samples {
    /// Lease expiry to next handout, ms.
    pub reassignment_ms: Vec<u64>,
    /// Zombie work intervals, ms.
    pub zombie_ms: Vec<u64>,
    /// Cancel to the owner learning it, ms.
    pub cancel_propagation_ms: Vec<u64>,
}

/// The figures of a sweep.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// The seeds swept, `[start, end)`; merged shards list theirs.
    pub seeds: Vec<[u64; 2]>,
    /// Seeds run.
    pub runs: usize,
    /// Seeds that broke something.
    pub failed_runs: usize,
    /// Failing seeds per invariant.
    pub failures_per_invariant: BTreeMap<String, usize>,
    /// Simulation errors.
    pub errors: usize,
    /// Seeds whose violations a replay did not confirm: defects of the harness, not of the
    /// protocol (counted apart from every invariant).
    pub harness_defects: usize,
    /// Lease expiry to next handout.
    pub reassignment_latency: Distribution,
    /// Zombie work intervals.
    pub zombie_duration: Distribution,
    /// Cancel to the owner learning it.
    pub cancel_propagation: Distribution,
    /// Wall seconds for the sweep.
    pub wall_s: f64,
    /// Seeds per wall second.
    pub seeds_per_s: f64,
    /// The raw figures, in seed order.
    pub samples: Samples,
    /// Every coverage probe, with the number of seeds that hit it (0: never hit).
    pub probes: BTreeMap<String, usize>,
    /// The probes no seed hit: what this sweep never tested.
    pub probes_never_hit: Vec<String>,
    /// For each probe hit, the first seed that hit it: a run to replay to see it.
    pub probe_first_seed: BTreeMap<String, u64>,
}

/// Every probe with the number of seeds that hit it, from per-probe counts that may name only
/// some of them; and the probes never hit, in the order tables list probes.
fn probe_table(counts: &BTreeMap<String, usize>) -> (BTreeMap<String, usize>, Vec<String>) {
    let all = dpsim::check::probes::Probe::ALL.map(|p| p.name());
    let table: BTreeMap<String, usize> =
        all.iter().map(|n| (n.to_string(), counts.get(*n).copied().unwrap_or(0))).collect();
    let never = all.iter().filter(|n| table[**n] == 0).map(|n| n.to_string()).collect();
    (table, never)
}

/// Summarises outcomes.
pub fn summarise(outcomes: &[SeedOutcome], wall_s: f64) -> Summary {
    let seeds = match (outcomes.first(), outcomes.last()) {
        (Some(a), Some(b)) => vec![[a.seed, b.seed + 1]],
        _ => Vec::new(),
    };
    let mut per = BTreeMap::new();
    for o in outcomes {
        for v in &o.violations {
            *per.entry(v.invariant.to_string()).or_insert(0) += 1;
        }
    }
    let gather =
        |f: fn(&SeedOutcome) -> &Vec<u64>| outcomes.iter().flat_map(|o| f(o).iter().copied()).collect::<Vec<_>>();
    let mut hit: BTreeMap<String, usize> = BTreeMap::new();
    let mut probe_first_seed: BTreeMap<String, u64> = BTreeMap::new();
    for o in outcomes {
        for name in o.probes.keys() {
            *hit.entry(name.to_string()).or_default() += 1;
            probe_first_seed.entry(name.to_string()).or_insert(o.seed);
        }
    }
    let (probes, probes_never_hit) = probe_table(&hit);
    let samples = Samples {
        reassignment_ms: gather(|o| &o.stats.reassignment_ms),
        zombie_ms: gather(|o| &o.stats.zombie_ms),
        cancel_propagation_ms: gather(|o| &o.stats.cancel_propagation_ms),
    };
    Summary {
        seeds,
        runs: outcomes.len(),
        failed_runs: outcomes.iter().filter(|o| o.failed()).count(),
        failures_per_invariant: per,
        errors: outcomes.iter().filter(|o| o.error.is_some()).count(),
        harness_defects: outcomes.iter().filter(|o| o.harness_defect.is_some()).count(),
        reassignment_latency: Distribution::of(samples.reassignment_ms.clone()),
        zombie_duration: Distribution::of(samples.zombie_ms.clone()),
        cancel_propagation: Distribution::of(samples.cancel_propagation_ms.clone()),
        wall_s,
        seeds_per_s: outcomes.len() as f64 / wall_s.max(1e-9),
        samples,
        probes,
        probes_never_hit,
        probe_first_seed,
    }
}

/// One shard's `summary.json`, as `merge` reads it.
#[derive(serde::Deserialize)]
struct Shard {
    base: String,
    seeds: Vec<[u64; 2]>,
    runs: usize,
    failed_runs: usize,
    failures_per_invariant: BTreeMap<String, usize>,
    errors: usize,
    #[serde(default)]
    harness_defects: usize,
    wall_s: f64,
    samples: Samples,
    failures: Vec<serde_json::Value>,
    #[serde(default)]
    probes: BTreeMap<String, usize>,
    #[serde(default)]
    probe_first_seed: BTreeMap<String, u64>,
}

/// Runs `dpsim merge` of chaos shards: merges the `summary.json` of sweeps over the same base
/// (shards of one large sweep, run on several machines) into one, as if one sweep had run
/// every seed. Distributions are recomputed from the shards' raw samples; the wall time is the
/// longest shard's (shards run side by side). Returns the exit status.
pub fn merge(dirs: &[PathBuf], out: &Path) -> u8 {
    let mut shards = Vec::new();
    for dir in dirs {
        let path = dir.join("summary.json");
        let shard = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<Shard>(&text).map_err(|e| e.to_string()));
        match shard {
            Ok(s) => shards.push(s),
            Err(e) => {
                eprintln!("dpsim: cannot read {}: {e}", path.display());
                return EXIT_INVALID;
            }
        }
    }
    let Some(first) = shards.first() else {
        eprintln!("dpsim: merge needs at least one directory with a summary.json");
        return EXIT_INVALID;
    };
    if let Some(other) = shards.iter().find(|s| s.base != first.base) {
        eprintln!("dpsim: shards sweep different bases ({} and {}): they do not merge", first.base, other.base);
        return EXIT_INVALID;
    }
    let mut ranges: Vec<[u64; 2]> = shards.iter().flat_map(|s| s.seeds.iter().copied()).collect();
    ranges.sort_unstable();
    if let Some(w) = ranges.windows(2).find(|w| w[1][0] < w[0][1]) {
        eprintln!(
            "dpsim: seeds {}..{} and {}..{} overlap: a seed would be counted twice",
            w[0][0], w[0][1], w[1][0], w[1][1]
        );
        return EXIT_INVALID;
    }
    let mut samples = Samples::default();
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut hit: BTreeMap<String, usize> = BTreeMap::new();
    let mut probe_first_seed: BTreeMap<String, u64> = BTreeMap::new();
    for s in &shards {
        for (name, n) in &s.probes {
            *hit.entry(name.clone()).or_default() += n;
        }
        for (name, seed) in &s.probe_first_seed {
            let first = probe_first_seed.entry(name.clone()).or_insert(*seed);
            *first = (*first).min(*seed);
        }
        samples.reassignment_ms.extend(&s.samples.reassignment_ms);
        samples.zombie_ms.extend(&s.samples.zombie_ms);
        samples.cancel_propagation_ms.extend(&s.samples.cancel_propagation_ms);
        for (k, n) in &s.failures_per_invariant {
            *per.entry(k.clone()).or_default() += n;
        }
        failures.extend(s.failures.iter().cloned());
    }
    failures.sort_by_key(|f| f["seed"].as_u64().unwrap_or(u64::MAX));
    let runs = shards.iter().map(|s| s.runs).sum::<usize>();
    let wall_s = shards.iter().map(|s| s.wall_s).fold(0.0, f64::max);
    let (probes, probes_never_hit) = probe_table(&hit);
    let summary = Summary {
        seeds: ranges,
        runs,
        failed_runs: shards.iter().map(|s| s.failed_runs).sum(),
        failures_per_invariant: per,
        errors: shards.iter().map(|s| s.errors).sum(),
        harness_defects: shards.iter().map(|s| s.harness_defects).sum(),
        reassignment_latency: Distribution::of(samples.reassignment_ms.clone()),
        zombie_duration: Distribution::of(samples.zombie_ms.clone()),
        cancel_propagation: Distribution::of(samples.cancel_propagation_ms.clone()),
        wall_s,
        seeds_per_s: runs as f64 / wall_s.max(1e-9),
        samples,
        probes,
        probes_never_hit,
        probe_first_seed,
    };
    println!("merged {} shard(s) over {}", shards.len(), first.base);
    print!("{}", summary_text(&summary));
    for f in &failures {
        println!("seed {}: {}", f["seed"], f["invariants"]);
    }
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("dpsim: cannot create {}: {e}", out.display());
        return EXIT_INVALID;
    }
    let mut json_summary = serde_json::to_value(&summary).expect("summaries serialise");
    json_summary["failures"] = json!(failures);
    json_summary["base"] = json!(first.base);
    let path = out.join("summary.json");
    let _ = std::fs::write(&path, serde_json::to_string_pretty(&json_summary).expect("serialises"));
    println!("summary written to {}", path.display());
    if summary.failed_runs == 0 { 0 } else { EXIT_EXPECTATION_FAILED }
}

fn summary_text(s: &Summary) -> String {
    use dpsim::time::format_duration as d;
    let mut out = format!("runs: {}  failed: {}  errors: {}\n", s.runs, s.failed_runs, s.errors);
    if s.harness_defects > 0 {
        out += &format!(
            "  harness defects (a replay disagreed; not protocol violations): {} seed(s)\n",
            s.harness_defects
        );
    }
    for (inv, n) in &s.failures_per_invariant {
        out += &format!("  {inv}: {n} seed(s)\n");
    }
    for (name, x) in [
        ("reassignment latency after a deadline", &s.reassignment_latency),
        ("zombie work", &s.zombie_duration),
        ("cancel propagation", &s.cancel_propagation),
    ] {
        out += &format!("{name}: n={} p50={} p99={} max={}\n", x.count, d(x.p50_ms), d(x.p99_ms), d(x.max_ms));
    }
    let hit = s.probes.values().filter(|n| **n > 0).count();
    out += &format!("probes hit: {hit} of {} (seeds that hit each):\n", s.probes.len());
    let order = dpsim::check::probes::Probe::ALL.map(|p| p.name());
    let rows: Vec<String> = order.iter().map(|n| format!("{n} {}", s.probes.get(*n).copied().unwrap_or(0))).collect();
    for row in rows.chunks(3) {
        out += &format!("  {}\n", row.iter().map(|r| format!("{r:<46}")).collect::<String>().trim_end());
    }
    if s.probes_never_hit.is_empty() {
        out += "every probe was hit\n";
    } else {
        out += &format!("probes never hit: {}\n", s.probes_never_hit.join(", "));
    }
    out += &format!("{:.1} seeds/s ({:.1} s)\n", s.seeds_per_s, s.wall_s);
    out
}

/// The default number of workers: the machine's cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where output goes by default.
pub fn default_out(scenario: &Path) -> PathBuf {
    PathBuf::from("chaos-out").join(dpsim::scenario::name_of(scenario))
}
