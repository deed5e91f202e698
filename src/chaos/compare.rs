//! Chaos experiments that compare two configurations: the same seeds and the same drawn fault
//! plans (drawn from the base) run against each, their invariant failures and distributions
//! side by side, and which differences are larger than seed-to-seed noise.
//!
//! Noise is judged by a paired bootstrap over seeds: the seeds are resampled with replacement
//! (a seeded generator, so the verdict is deterministic), both configurations' figures of the
//! resampled seeds are pooled, and the difference of each statistic is recomputed. A
//! difference is called larger than noise when the central 95% of the resampled differences
//! lies on one side of zero.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::runner::Programs;
use crate::scenario::Scenario;

use super::stats::RunStats;
use super::{per_seed, plan, plan_for, violations_of};

/// Bootstrap resamples per statistic.
const RESAMPLES: usize = 1000;
/// Seed of the bootstrap's generator.
const BOOTSTRAP_SEED: u64 = 0xb007_5742;

/// One configuration of an experiment.
#[derive(Clone, Debug)]
pub struct Config {
    /// How the configuration is called in reports (a file name, or the `--set` assignments).
    pub label: String,
    /// Its scenario.
    pub scenario: Scenario,
}

/// What one seed gave under one configuration.
#[derive(Clone, Debug, Default)]
pub(crate) struct SeedRun {
    /// Invariants broken (and `expectation`), or `error` when the run could not complete.
    pub broken: Vec<String>,
    /// Figures of the run.
    pub stats: RunStats,
}

/// A metric compared: its name, unit, and per seed the figures of each configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Metric {
    /// Name, as printed.
    pub name: &'static str,
    /// `ms` or `calls`.
    pub unit: &'static str,
    /// Per configuration: the distribution over all seeds.
    pub configs: Vec<Dist>,
    /// Differences (second configuration minus the first) of the median and the mean.
    pub differences: Vec<Difference>,
    /// Per configuration, per seed, the figures (kept for plots and re-analysis).
    #[serde(skip)]
    pub per_seed: Vec<Vec<Vec<f64>>>,
}

/// A distribution with its counts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Dist {
    /// Sample size.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// The sorted sample.
    pub samples: Vec<f64>,
}

/// The difference of one statistic between the configurations, with its bootstrap interval.
#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    /// `p50` or `mean`.
    pub statistic: &'static str,
    /// Second configuration minus the first.
    pub delta: f64,
    /// Central 95% of the resampled differences.
    pub ci95: [f64; 2],
    /// True when the interval excludes zero: larger than seed-to-seed noise.
    pub beyond_noise: bool,
}

/// Failures of one configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Failures {
    /// The configuration's label.
    pub label: String,
    /// Seeds run.
    pub runs: usize,
    /// Seeds that broke something.
    pub failed_runs: usize,
    /// Failing seeds per invariant (and `expectation`, `error`).
    pub per_invariant: BTreeMap<String, usize>,
    /// The failing seeds.
    pub failing_seeds: Vec<u64>,
}

/// The result of an experiment.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// The seeds, `[start, end)`.
    pub seeds: [u64; 2],
    /// Failures per configuration.
    pub failures: Vec<Failures>,
    /// The metrics.
    pub metrics: Vec<Metric>,
    /// Bootstrap resamples behind each interval.
    pub resamples: usize,
}

/// Runs every seed under both configurations, with the plan each seed draws from `base`, on
/// `jobs` threads; `progress` is told after each seed.
pub fn compare(
    base: &Scenario,
    configs: &[Config; 2],
    seeds: std::ops::Range<u64>,
    jobs: usize,
    programs: &Programs,
    progress: &(dyn Fn() + Sync),
) -> Comparison {
    let base = Arc::new(base.clone());
    let runs = per_seed(seeds.clone(), jobs, progress, |seed| {
        let drawn = plan_for(&base, seed);
        let run = |c: &Config| {
            let scenario = plan::apply(&c.scenario, seed, &drawn);
            match violations_of(&scenario, programs) {
                Ok((violations, stats)) => {
                    SeedRun { broken: violations.iter().map(|v| v.invariant.to_string()).collect(), stats }
                }
                Err(_) => SeedRun { broken: vec!["error".into()], stats: RunStats::default() },
            }
        };
        [run(&configs[0]), run(&configs[1])]
    });
    analyse(seeds, configs, &runs)
}

/// The comparison of finished runs, in seed order.
pub(crate) fn analyse(seeds: std::ops::Range<u64>, configs: &[Config; 2], runs: &[(u64, [SeedRun; 2])]) -> Comparison {
    let failures = (0..2)
        .map(|i| {
            let mut per_invariant = BTreeMap::new();
            let mut failing_seeds = Vec::new();
            for (seed, pair) in runs {
                for b in &pair[i].broken {
                    *per_invariant.entry(b.clone()).or_insert(0) += 1;
                }
                if !pair[i].broken.is_empty() {
                    failing_seeds.push(*seed);
                }
            }
            Failures {
                label: configs[i].label.clone(),
                runs: runs.len(),
                failed_runs: failing_seeds.len(),
                per_invariant,
                failing_seeds,
            }
        })
        .collect();
    type Pick = fn(&RunStats) -> Vec<f64>;
    let picks: [(&'static str, &'static str, Pick); 5] = [
        ("reassignment latency", "ms", |s| ms(&s.reassignment_ms)),
        ("zombie work", "ms", |s| ms(&s.zombie_ms)),
        ("cancel propagation", "ms", |s| ms(&s.cancel_propagation_ms)),
        ("calls per task", "calls", |s| s.calls_per_task.into_iter().collect()),
        ("simulated makespan", "ms", |s| s.makespan_ms.into_iter().map(|x| x as f64).collect()),
    ];
    let metrics = picks
        .iter()
        .map(|(name, unit, pick)| {
            let per_seed: Vec<Vec<Vec<f64>>> =
                (0..2).map(|i| runs.iter().map(|(_, pair)| pick(&pair[i].stats)).collect()).collect();
            metric(name, unit, per_seed)
        })
        .collect();
    Comparison { seeds: [seeds.start, seeds.end], failures, metrics, resamples: RESAMPLES }
}

fn metric(name: &'static str, unit: &'static str, per_seed: Vec<Vec<Vec<f64>>>) -> Metric {
    let pooled = |config: &[Vec<f64>], pick: &mut dyn Iterator<Item = usize>| {
        pick.flat_map(|s| config[s].iter().copied()).collect::<Vec<f64>>()
    };
    let seeds = per_seed[0].len();
    let configs: Vec<Dist> = per_seed.iter().map(|c| dist(pooled(c, &mut (0..seeds)))).collect();
    type Statistic = fn(&mut [f64]) -> Option<f64>;
    let statistics: [(&'static str, Statistic); 2] = [("p50", median), ("mean", mean)];
    let mut differences = Vec::new();
    for (statistic, f) in statistics {
        let (Some(a), Some(b)) =
            (f(&mut pooled(&per_seed[0], &mut (0..seeds))), f(&mut pooled(&per_seed[1], &mut (0..seeds))))
        else {
            continue;
        };
        let mut rng = ChaCha8Rng::seed_from_u64(BOOTSTRAP_SEED);
        let mut deltas = Vec::with_capacity(RESAMPLES);
        for _ in 0..RESAMPLES {
            let pick: Vec<usize> = (0..seeds).map(|_| rng.random_range(0..seeds)).collect();
            let one = f(&mut pooled(&per_seed[0], &mut pick.iter().copied()));
            let two = f(&mut pooled(&per_seed[1], &mut pick.iter().copied()));
            if let (Some(one), Some(two)) = (one, two) {
                deltas.push(two - one);
            }
        }
        deltas.sort_by(f64::total_cmp);
        let at = |q: f64| deltas.get(((deltas.len().max(1) - 1) as f64 * q).round() as usize).copied().unwrap_or(0.0);
        let ci95 = [at(0.025), at(0.975)];
        let beyond_noise = deltas.len() * 10 >= RESAMPLES * 9 && (ci95[0] > 0.0 || ci95[1] < 0.0);
        differences.push(Difference { statistic, delta: b - a, ci95, beyond_noise });
    }
    Metric { name, unit, configs, differences, per_seed }
}

fn ms(v: &[u64]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn dist(mut samples: Vec<f64>) -> Dist {
    if samples.is_empty() {
        return Dist::default();
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[rank(samples.len(), q)];
    Dist {
        count: samples.len(),
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        max: samples[samples.len() - 1],
        mean: samples.iter().sum::<f64>() / samples.len() as f64,
        samples,
    }
}

/// The index of quantile `q` in `len` sorted samples (nearest rank, halves rounded up).
fn rank(len: usize, q: f64) -> usize {
    ((len.max(1) - 1) as f64 * q).round() as usize
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    // The same sample the printed p50 is, so "B-A p50" is the difference of the two p50s.
    let (_, m, _) = v.select_nth_unstable_by(rank(v.len(), 0.5), f64::total_cmp);
    Some(*m)
}

fn mean(v: &mut [f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(zombie: &[u64], calls: f64) -> RunStats {
        RunStats { zombie_ms: zombie.to_vec(), calls_per_task: Some(calls), ..RunStats::default() }
    }

    fn configs() -> [Config; 2] {
        let s: Scenario = crate::scenario::parse(r#"{"duration": "1h", "pipelines": [], "runners": []}"#).unwrap();
        [Config { label: "a".into(), scenario: s.clone() }, Config { label: "b".into(), scenario: s }]
    }

    #[test]
    fn a_clear_shift_is_beyond_noise_and_equal_configurations_are_not() {
        let runs: Vec<(u64, [SeedRun; 2])> = (0..40u64)
            .map(|seed| {
                let z = 1000 + seed * 37 % 500;
                let a = SeedRun { broken: vec![], stats: stats(&[z, z + 100], 10.0 + (seed % 3) as f64) };
                let b = SeedRun {
                    broken: if seed == 7 { vec!["single_owner".into()] } else { vec![] },
                    stats: stats(&[z + 2000, z + 2100], 10.0 + (seed % 3) as f64),
                };
                (seed, [a, b])
            })
            .collect();
        let c = analyse(0..40, &configs(), &runs);
        let zombie = c.metrics.iter().find(|m| m.name == "zombie work").unwrap();
        assert_eq!(zombie.configs[0].count, 80);
        let p50 = &zombie.differences[0];
        assert!(p50.beyond_noise && p50.delta > 1900.0 && p50.ci95[0] > 0.0, "{p50:?}");
        let calls = c.metrics.iter().find(|m| m.name == "calls per task").unwrap();
        assert!(calls.differences.iter().all(|d| !d.beyond_noise && d.delta == 0.0), "{:?}", calls.differences);
        assert_eq!(c.failures[1].failing_seeds, vec![7]);
        assert_eq!(c.failures[1].per_invariant["single_owner"], 1);
        assert_eq!(c.failures[0].failed_runs, 0);
    }

    #[test]
    fn noise_alone_is_not_beyond_noise() {
        // Two configurations whose figures are the same distribution, shuffled between seeds.
        let runs: Vec<(u64, [SeedRun; 2])> = (0..60u64)
            .map(|seed| {
                let x = |k: u64| (k * 7919 + 13) % 1000;
                let a = SeedRun { broken: vec![], stats: stats(&[x(seed), x(seed + 60)], 5.0) };
                let b = SeedRun { broken: vec![], stats: stats(&[x(seed + 120), x(seed + 180)], 5.0) };
                (seed, [a, b])
            })
            .collect();
        let c = analyse(0..60, &configs(), &runs);
        let zombie = c.metrics.iter().find(|m| m.name == "zombie work").unwrap();
        assert!(zombie.differences.iter().all(|d| !d.beyond_noise), "{:?}", zombie.differences);
    }
}
