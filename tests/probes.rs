//! Coverage probes (issue 18): the README's probe table lists every probe, and the seed it
//! names as the first to hit each probe does hit it, so a probe that the shipped chaos bases
//! stop reaching fails here. Typed event and effect names agree with the scenario format.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use dpsim::chaos::run_seed;
use dpsim::check::Probe;
use dpsim::runner::Programs;
use dpsim::scenario::load_file;

/// The rows of the README's probe table: (probe, base, first seed).
fn readme_rows() -> Vec<(String, String, u64)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| `") && l.contains('.'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let name = cells.first()?.trim_matches('`').to_string();
            Probe::named(&name)?;
            let (base, seed) = cells.last()?.split_once(' ')?;
            Some((name, base.to_string(), seed.parse().ok()?))
        })
        .collect()
}

/// Every probe is hit by at least 1% of the seeds of some base: the table's counts (of 1,000
/// seeds per base) say so, and `each_probe_is_hit_by_the_seed_the_readme_names` keeps them
/// honest.
#[test]
fn every_probe_is_hit_by_one_percent_of_some_base() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut rare = Vec::new();
    for line in readme.lines().filter(|l| l.starts_with("| `") && l.contains('.')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let name = cells[0].trim_matches('`');
        if Probe::named(name).is_none() {
            continue;
        }
        let counts: Vec<u32> = cells[2..cells.len() - 1].iter().filter_map(|c| c.parse().ok()).collect();
        assert_eq!(counts.len(), 7, "{name}: a count per shipped base");
        if counts.iter().all(|n| *n < 10) {
            rare.push(format!("{name} {counts:?}"));
        }
    }
    assert!(rare.is_empty(), "probes hit by fewer than 1% of every base's seeds: {rare:?}");
}

#[test]
fn the_readme_lists_every_probe_once() {
    let rows = readme_rows();
    let listed: Vec<&str> = rows.iter().map(|(n, _, _)| n.as_str()).collect();
    let all: Vec<&str> = Probe::ALL.iter().map(|p| p.name()).collect();
    assert_eq!(listed, all, "the README's probe table, in Probe::ALL's order");
    let unique: BTreeSet<&str> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "probe names are unique");
}

#[test]
fn each_probe_is_hit_by_the_seed_the_readme_names() {
    let mut by_seed: BTreeMap<(String, u64), Vec<String>> = BTreeMap::new();
    for (name, base, seed) in readme_rows() {
        by_seed.entry((base, seed)).or_default().push(name);
    }
    let mut missed = Vec::new();
    for ((base, seed), names) in by_seed {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("chaos/{base}.json"));
        let scenario = load_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (outcome, _) = run_seed(&scenario, seed, &Programs::default());
        assert!(!outcome.failed(), "{base} seed {seed} fails: {:?} {:?}", outcome.violations, outcome.error);
        for name in names {
            if !outcome.probes.contains_key(name.as_str()) {
                missed.push(format!("{name} (chaos/{base}.json seed {seed})"));
            }
        }
    }
    assert!(missed.is_empty(), "probes the README says are hit, not hit: {missed:?}");
}
