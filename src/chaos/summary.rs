//! The figures of a chaos sweep ([`ChaosSummary`]), and the merge of a sweep's shards (run on
//! several machines) into the summary one sweep over every seed gives.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::SeedOutcome;
use super::stats::Distribution;
use crate::check::Probe;
use crate::time::format_duration;

/// The raw figures behind a summary's distributions, kept so that shards merge exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Samples {
    /// Lease expiry to next handout, ms.
    pub reassignment_ms: Vec<u64>,
    /// Zombie work intervals, ms.
    pub zombie_ms: Vec<u64>,
    /// Cancel to the owner learning it, ms.
    pub cancel_propagation_ms: Vec<u64>,
}

/// The figures of a sweep: what failed, the distributions of reassignment latency, zombie work
/// and cancel propagation, and the coverage probes hit. `dpsim chaos` writes it (with the base
/// and the failing seeds) as `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct ChaosSummary {
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
    let all = Probe::ALL.map(|p| p.name());
    let table: BTreeMap<String, usize> =
        all.iter().map(|n| (n.to_string(), counts.get(*n).copied().unwrap_or(0))).collect();
    let never = all.iter().filter(|n| table[**n] == 0).map(|n| n.to_string()).collect();
    (table, never)
}

impl ChaosSummary {
    /// The summary of a sweep's outcomes (in seed order), which took `wall_s` seconds.
    pub fn of(outcomes: &[SeedOutcome], wall_s: f64) -> ChaosSummary {
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
        let samples = Samples {
            reassignment_ms: gather(|o| &o.stats.reassignment_ms),
            zombie_ms: gather(|o| &o.stats.zombie_ms),
            cancel_propagation_ms: gather(|o| &o.stats.cancel_propagation_ms),
        };
        let counts = Counts {
            seeds,
            runs: outcomes.len(),
            failed_runs: outcomes.iter().filter(|o| o.failed()).count(),
            failures_per_invariant: per,
            errors: outcomes.iter().filter(|o| o.error.is_some()).count(),
            harness_defects: outcomes.iter().filter(|o| o.harness_defect.is_some()).count(),
        };
        ChaosSummary::from_parts(counts, samples, &hit, probe_first_seed, wall_s)
    }

    fn from_parts(
        counts: Counts,
        samples: Samples,
        hit: &BTreeMap<String, usize>,
        probe_first_seed: BTreeMap<String, u64>,
        wall_s: f64,
    ) -> ChaosSummary {
        let (probes, probes_never_hit) = probe_table(hit);
        ChaosSummary {
            seeds: counts.seeds,
            runs: counts.runs,
            failed_runs: counts.failed_runs,
            failures_per_invariant: counts.failures_per_invariant,
            errors: counts.errors,
            harness_defects: counts.harness_defects,
            reassignment_latency: Distribution::of(samples.reassignment_ms.clone()),
            zombie_duration: Distribution::of(samples.zombie_ms.clone()),
            cancel_propagation: Distribution::of(samples.cancel_propagation_ms.clone()),
            wall_s,
            seeds_per_s: counts.runs as f64 / wall_s.max(1e-9),
            samples,
            probes,
            probes_never_hit,
            probe_first_seed,
        }
    }

    /// The summary as `dpsim chaos` prints it: failures per invariant, the distributions, the
    /// probe table and the speed.
    pub fn text(&self) -> String {
        let d = format_duration;
        let mut out = format!("runs: {}  failed: {}  errors: {}\n", self.runs, self.failed_runs, self.errors);
        if self.harness_defects > 0 {
            out += &format!(
                "  harness defects (a replay disagreed; not protocol violations): {} seed(s)\n",
                self.harness_defects
            );
        }
        for (inv, n) in &self.failures_per_invariant {
            out += &format!("  {inv}: {n} seed(s)\n");
        }
        for (name, x) in [
            ("reassignment latency after a deadline", &self.reassignment_latency),
            ("zombie work", &self.zombie_duration),
            ("cancel propagation", &self.cancel_propagation),
        ] {
            out += &format!("{name}: n={} p50={} p99={} max={}\n", x.count, d(x.p50_ms), d(x.p99_ms), d(x.max_ms));
        }
        let hit = self.probes.values().filter(|n| **n > 0).count();
        out += &format!(
            "probes hit: {hit} of {} (seeds that hit each, and their share of the seeds):\n",
            self.probes.len()
        );
        let rows: Vec<String> = Probe::ALL
            .map(|p| p.name())
            .iter()
            .map(|n| {
                let seeds = self.probes.get(*n).copied().unwrap_or(0);
                format!("{n} {seeds} ({})", rate(seeds, self.runs))
            })
            .collect();
        for row in rows.chunks(3) {
            out += &format!("  {}\n", row.iter().map(|r| format!("{r:<54}")).collect::<String>().trim_end());
        }
        let rare: Vec<String> = self
            .probes
            .iter()
            .filter(|(_, n)| **n > 0 && **n * 100 < self.runs)
            .map(|(name, n)| format!("{name} ({})", rate(*n, self.runs)))
            .collect();
        if !rare.is_empty() {
            out += &format!("probes hit by fewer than 1% of the seeds: {}\n", rare.join(", "));
        }
        if self.probes_never_hit.is_empty() {
            out += "every probe was hit\n";
        } else {
            out += &format!("probes never hit: {}\n", self.probes_never_hit.join(", "));
        }
        out += &format!("{:.1} seeds/s ({:.1} s)\n", self.seeds_per_s, self.wall_s);
        out
    }
}

/// `n` of `of` seeds as a percentage, one decimal.
fn rate(n: usize, of: usize) -> String {
    format!("{:.1}%", 100.0 * n as f64 / of.max(1) as f64)
}

/// The counts of a summary, before its distributions and probes are worked out.
struct Counts {
    seeds: Vec<[u64; 2]>,
    runs: usize,
    failed_runs: usize,
    failures_per_invariant: BTreeMap<String, usize>,
    errors: usize,
    harness_defects: usize,
}

/// One shard's `summary.json`, as a merge reads it.
#[derive(Deserialize)]
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
    failures: Vec<Value>,
    #[serde(default)]
    probes: BTreeMap<String, usize>,
    #[serde(default)]
    probe_first_seed: BTreeMap<String, u64>,
}

/// Shards of one sweep, merged ([`merge_summaries`]).
#[derive(Clone, Debug)]
pub struct MergedSweep {
    /// The base scenario every shard swept (as its `summary.json` names it).
    pub base: String,
    /// The summary one sweep over every shard's seeds gives; the wall time is the longest
    /// shard's (shards run side by side).
    pub summary: ChaosSummary,
    /// Every shard's failing seeds (the entries of its `failures`), in seed order.
    pub failures: Vec<Value>,
}

/// Why shards do not merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeError {
    /// No shard was given.
    Empty,
    /// A shard's `summary.json` does not read as one (the index of the shard, and why).
    Unreadable(usize, String),
    /// Two shards swept different base scenarios.
    DifferentBases(String, String),
    /// Two shards swept overlapping seeds: a seed would be counted twice.
    Overlap([u64; 2], [u64; 2]),
}

impl std::fmt::Display for MergeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MergeError::Empty => f.write_str("merge needs at least one shard's summary.json"),
            MergeError::Unreadable(i, e) => write!(f, "shard {i}'s summary.json does not read: {e}"),
            MergeError::DifferentBases(a, b) => {
                write!(f, "shards sweep different bases ({a} and {b}): they do not merge")
            }
            MergeError::Overlap(a, b) => {
                write!(f, "seeds {}..{} and {}..{} overlap: a seed would be counted twice", a[0], a[1], b[0], b[1])
            }
        }
    }
}

impl std::error::Error for MergeError {}

/// Merges the `summary.json` texts of a sweep's shards (`dpsim chaos --shard I/N`, one per
/// machine) into the summary one sweep over all their seeds gives: counts added up,
/// distributions recomputed from the shards' raw samples, probes and their first seeds
/// combined. Shards must sweep the same base and no seed twice.
pub fn merge_summaries<S: AsRef<str>>(texts: &[S]) -> Result<MergedSweep, MergeError> {
    let shards = texts
        .iter()
        .enumerate()
        .map(|(i, t)| serde_json::from_str::<Shard>(t.as_ref()).map_err(|e| MergeError::Unreadable(i, e.to_string())))
        .collect::<Result<Vec<Shard>, MergeError>>()?;
    let first = shards.first().ok_or(MergeError::Empty)?;
    if let Some(other) = shards.iter().find(|s| s.base != first.base) {
        return Err(MergeError::DifferentBases(first.base.clone(), other.base.clone()));
    }
    let mut ranges: Vec<[u64; 2]> = shards.iter().flat_map(|s| s.seeds.iter().copied()).collect();
    ranges.sort_unstable();
    if let Some(w) = ranges.windows(2).find(|w| w[1][0] < w[0][1]) {
        return Err(MergeError::Overlap(w[0], w[1]));
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
    let counts = Counts {
        seeds: ranges,
        runs: shards.iter().map(|s| s.runs).sum(),
        failed_runs: shards.iter().map(|s| s.failed_runs).sum(),
        failures_per_invariant: per,
        errors: shards.iter().map(|s| s.errors).sum(),
        harness_defects: shards.iter().map(|s| s.harness_defects).sum(),
    };
    let wall_s = shards.iter().map(|s| s.wall_s).fold(0.0, f64::max);
    let summary = ChaosSummary::from_parts(counts, samples, &hit, probe_first_seed, wall_s);
    Ok(MergedSweep { base: first.base.clone(), summary, failures })
}
