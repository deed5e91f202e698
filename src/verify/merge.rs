//! Putting the shards of one search back together (`dpsim merge`): the result one unsharded
//! search gives, count for count.
//!
//! Every shard runs the fault-free run and the smaller plans, which decide what the largest
//! plans are, and then its own contiguous block of the largest ([`super::Options::shard`]). So
//! the merge takes the smaller plans' findings from any shard (they must agree), adds the blocks'
//! findings in search order up to the first counterexample (the search stops there: blocks after
//! it do not count), and unions the states the shards reached.

use std::collections::BTreeSet;

use super::search::{Findings, ShardPart, Verification, conclude};

/// Why the results of a search's shards do not merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardMergeError {
    /// A result was not run with `--shard`: it is a whole search already.
    NotAShard,
    /// No shard was given.
    Empty,
    /// Two shards searched different things (their `search` fingerprints).
    DifferentSearches(String, String),
    /// Two shards split the search into different numbers of shards.
    DifferentCounts(u64, u64),
    /// A shard (`I`, of `N`) was given twice.
    Twice(u64, u64),
    /// A shard (`I`, of `N`) is missing.
    Missing(u64, u64),
    /// Two shards (by index) found different things on the smaller plans every shard runs.
    Disagree(u64, u64),
}

impl std::fmt::Display for ShardMergeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShardMergeError::NotAShard => {
                f.write_str("a result to merge was not run with --shard: it is a whole search already")
            }
            ShardMergeError::Empty => f.write_str("nothing to merge: no shard given"),
            ShardMergeError::DifferentSearches(a, b) => {
                write!(f, "shards of different searches do not merge: {a} and {b}")
            }
            ShardMergeError::DifferentCounts(a, b) => {
                write!(f, "shards of {a} and of {b} do not merge: run every shard with the same N")
            }
            ShardMergeError::Twice(i, n) => write!(f, "shard {i}/{n} is given twice: its plans would count twice"),
            ShardMergeError::Missing(i, n) => {
                write!(f, "shard {i}/{n} is missing: without its plans the merge is not the search's result")
            }
            ShardMergeError::Disagree(a, b) => write!(
                f,
                "shards {a} and {b} disagree on the smaller plans, which every shard runs alike: were they built from different dpsim sources or with different runners?"
            ),
        }
    }
}

impl std::error::Error for ShardMergeError {}

/// Merges the results of every shard of one search (any order) into the result one search
/// gives. Refused: a result that is not a shard, shards of different searches or shard counts, a
/// shard missing or given twice, shards that disagree on the smaller plans.
pub fn merge(shards: &[Verification]) -> Result<Verification, ShardMergeError> {
    let mut parts: Vec<(&Verification, &ShardPart)> = Vec::new();
    for v in shards {
        let part = v.shard.as_ref().ok_or(ShardMergeError::NotAShard)?;
        parts.push((v, part));
    }
    parts.sort_by_key(|(_, p)| p.index);
    let Some(&(first, head)) = parts.first() else {
        return Err(ShardMergeError::Empty);
    };
    for (_, p) in &parts {
        if p.search != head.search {
            return Err(ShardMergeError::DifferentSearches(head.search.clone(), p.search.clone()));
        }
        if p.of != head.of {
            return Err(ShardMergeError::DifferentCounts(head.of, p.of));
        }
    }
    let indices: Vec<u64> = parts.iter().map(|(_, p)| p.index).collect();
    if let Some(w) = indices.windows(2).find(|w| w[0] == w[1]) {
        return Err(ShardMergeError::Twice(w[0], head.of));
    }
    if let Some(missing) = (0..head.of).find(|i| !indices.contains(i)) {
        return Err(ShardMergeError::Missing(missing, head.of));
    }
    let largest_level = first.levels.len().checked_sub(1).filter(|&l| l == first.bound && l > 0);
    let below = |v: &Verification| match largest_level {
        Some(l) => v.levels[..l].to_vec(),
        None => v.levels.clone(),
    };
    for (v, p) in &parts[1..] {
        let same_largest = match largest_level {
            Some(l) => v.levels.get(l).map(|x| &x.pruned) == Some(&first.levels[l].pruned),
            None => v.levels.len() == first.levels.len(),
        };
        if p.smaller != head.smaller || below(v) != below(first) || !same_largest || v.fault_space != first.fault_space
        {
            return Err(ShardMergeError::Disagree(head.index, p.index));
        }
    }
    let mut found: Findings = head.smaller.clone();
    let mut states: BTreeSet<&str> = BTreeSet::new();
    let (mut run, mut broke) = (0, 0);
    for (i, (_, p)) in parts.iter().enumerate() {
        // The search stops at its counterexample: later blocks were never reached.
        if i > 0 && found.counterexample.is_some() {
            break;
        }
        states.extend(p.states.iter().map(String::as_str));
        if found.counterexample.is_none() {
            run += p.largest.run;
            broke += p.largest.broke;
        }
        found.then(&p.largest);
    }
    let mut result = first.clone();
    result.shard = None;
    if let Some(l) = largest_level {
        let level = &mut result.levels[l];
        level.run = run;
        level.broke = broke;
        level.considered = run + level.pruned.total();
    }
    conclude(&mut result, found, states.len());
    Ok(result)
}
