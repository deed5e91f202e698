//! `dpsim verify`: every plan of up to k faults over a scenario, with a verdict, the search's
//! counts, and the smallest counterexample as a scenario file.

use std::path::{Path, PathBuf};

use dpsim::runner::Programs;
use dpsim::scenario::load_file;
use dpsim::verify::plan_text;
use dpsim::verify::{Options, Verification, verify};

use super::run::{EXIT_EXPECTATION_FAILED, EXIT_INVALID};

/// The arguments of `dpsim verify`.
#[derive(Clone, Debug)]
pub struct VerifyArgs {
    /// The scenario.
    pub scenario: PathBuf,
    /// The search's options.
    pub options: Options,
    /// Print JSON instead of text.
    pub json: bool,
    /// Where to write `verify.json` and `counterexample.json`.
    pub out: PathBuf,
    /// `key.path=value` changes to the scenario before the search (`service.bug=...`).
    pub sets: Vec<String>,
}

/// Parses `--window FROM..TO` (durations, as scenario files write them: `9h..12h`).
pub fn parse_window(text: &str) -> Result<std::ops::Range<u64>, String> {
    let (from, to) = text.split_once("..").ok_or_else(|| format!("expected FROM..TO, as in 9h..12h, not {text:?}"))?;
    let parse = |t: &str| dpsim::scenario::parse_duration(t.trim()).map_err(|e| e.to_string());
    let (from, to) = (parse(from)?, parse(to)?);
    if from >= to {
        return Err(format!("the window {text:?} is empty: FROM must come before TO"));
    }
    Ok(from..to)
}

/// Where `dpsim verify` writes by default: `verify-out/<scenario name>`.
pub fn default_out(scenario: &Path) -> PathBuf {
    PathBuf::from("verify-out").join(dpsim::scenario::name_of(scenario))
}

/// Runs `dpsim verify`; returns the exit status: 0 when no plan within the bound breaks
/// anything, 1 with a counterexample (or plans that failed to run), 2 for an invalid scenario.
pub fn run(args: &VerifyArgs) -> u8 {
    let base = match load_file(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dpsim: invalid scenario: {e}");
            return EXIT_INVALID;
        }
    };
    let base = match base.with(&args.sets) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dpsim: invalid --set: {e}");
            return EXIT_INVALID;
        }
    };
    let name = dpsim::scenario::name_of(&args.scenario);
    let mut result = verify(&base, &Programs::default(), &args.options);
    if let Some(part) = &mut result.shard {
        part.scenario.clone_from(&name);
    }
    show(&name, &result, &args.out, args.json)
}

/// Runs `dpsim merge` over the directories `dpsim verify --shard` wrote: writes and prints the
/// result one search gives; the exit status is verify's.
pub fn merge(dirs: &[PathBuf], out: &Path) -> u8 {
    let mut shards = Vec::new();
    for dir in dirs {
        let path = dir.join("verify.json");
        let shard = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<Verification>(&text).map_err(|e| e.to_string()));
        match shard {
            Ok(s) => shards.push(s),
            Err(e) => {
                eprintln!("dpsim: cannot read {}: {e}", path.display());
                return EXIT_INVALID;
            }
        }
    }
    let name = shards.iter().find_map(|s| s.shard.as_ref()).map(|p| p.scenario.clone()).unwrap_or_default();
    let result = match dpsim::verify::merge(&shards) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dpsim: cannot merge: {e}");
            return EXIT_INVALID;
        }
    };
    println!("merged {} shard(s) of verify {name}", shards.len());
    show(&name, &result, out, false)
}

/// Writes the result to `out`, prints it, and returns verify's exit status.
fn show(name: &str, result: &Verification, out: &Path, json: bool) -> u8 {
    if let Err(e) = write(out, result) {
        eprintln!("dpsim: cannot write {}: {e}", out.display());
        return EXIT_INVALID;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(result).expect("results serialise"));
    } else {
        print!("{}", text(name, result, out));
    }
    if result.proved() { 0 } else { EXIT_EXPECTATION_FAILED }
}

fn write(out: &Path, result: &Verification) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let json = serde_json::to_string_pretty(result).expect("results serialise") + "\n";
    std::fs::write(out.join("verify.json"), json)?;
    let file = out.join("counterexample.json");
    let page = out.join("counterexample.html");
    match &result.counterexample {
        Some(c) => {
            std::fs::write(&file, c.scenario.to_file_text())?;
            // The counterexample's report page, beside it (user programs are not known here).
            if crate::chaos::write_page(&file, &dpsim::runner::Programs::default()).is_none() && page.exists() {
                std::fs::remove_file(&page)?;
            }
            Ok(())
        }
        None => {
            for stale in [file, page] {
                if stale.exists() {
                    std::fs::remove_file(stale)?;
                }
            }
            Ok(())
        }
    }
}

/// The result as text: the search's counts per plan size, the counterexample, the verdict.
pub fn text(name: &str, r: &Verification, out: &Path) -> String {
    let mut s = format!("verify {name}: every plan of at most {} fault(s)", r.bound);
    if let Some(w) = &r.window {
        s += &format!(" striking in {}..{}", dpsim::time::stamp(w.start), dpsim::time::stamp(w.end));
    }
    s += "\n";
    s += &format!(
        "{:>6}  {:>10}  {:>9}  {:>11}  {:>10}  {:>11}  {:>5}\n",
        "faults", "considered", "run", "other order", "same state", "target gone", "broke"
    );
    for l in &r.levels {
        s += &format!(
            "{:>6}  {:>10}  {:>9}  {:>11}  {:>10}  {:>11}  {:>5}\n",
            l.faults, l.considered, l.run, l.pruned.other_order, l.pruned.same_state, l.pruned.target_gone, l.broke
        );
    }
    s += &format!(
        "{} placeable faults in the fault-free run{}; {} distinct end states{}\n",
        r.fault_space,
        if r.window.is_some() { " (in the window)" } else { "" },
        r.distinct_states,
        if r.prune { "" } else { " (state hashing off)" }
    );
    for e in &r.expectations {
        s += &format!(
            "expectation `{}` fails under {} plan(s); first: {} (found {})\n",
            e.expectation,
            e.plans,
            plan_text(&e.first),
            e.found
        );
    }
    if let Some(e) = &r.first_error {
        s += &format!("{} plan(s) failed to run; first: {e}\n", r.errors);
    }
    if let Some(c) = &r.counterexample {
        s += &format!("counterexample ({} fault(s)):\n", c.faults.len());
        for l in &c.labels {
            s += &format!("  - {l}\n");
        }
        for v in &c.violations {
            s += &format!("  breaks {} at {}: {}\n", v.invariant, dpsim::time::stamp(v.at), v.message);
        }
        s += &format!("  as a scenario: {} (dpsim run it)\n", out.join("counterexample.json").display());
    }
    if let Some(p) = &r.shard {
        s += &format!(
            "shard {}/{}: the smaller plans and plans {}..{} of the largest; `dpsim merge` the shards' directories for the search's result\n",
            p.index, p.of, p.plans[0], p.plans[1]
        );
        s += &format!("verdict (this shard): {}\n", r.verdict);
    } else {
        s += &format!("verdict: {}\n", r.verdict);
    }
    s
}
