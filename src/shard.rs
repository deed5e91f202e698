//! Splitting a chaos sweep's seeds, or the largest plans of a `dpsim verify` search, over
//! machines (`--shard I/N`): one rule for which shard takes what, so that `dpsim merge` can put
//! the shards back together into the result of one run.

/// A shard that does not parse: not `I/N` with `0 <= I < N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardError(String);

impl std::fmt::Display for ShardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid shard {:?}: expected I/N with 0 <= I < N, e.g. 0/4", self.0)
    }
}

impl std::error::Error for ShardError {}

/// Parses `--shard I/N`: shard I (from 0) of N.
///
/// ```
/// assert_eq!(dpsim::shard::parse_shard("1/4"), Ok((1, 4)));
/// assert!(dpsim::shard::parse_shard("4/4").is_err());
/// ```
pub fn parse_shard(text: &str) -> Result<(u64, u64), ShardError> {
    let bad = || ShardError(text.to_string());
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// What shard `i` of `n` takes of `items` (seeds, or positions in a list of plans): the i-th of
/// n contiguous blocks, as even as they can be (the first `len % n` blocks take one more). The
/// blocks cover the range exactly once and in order, so their results merge (`dpsim merge`)
/// into the whole run's.
pub fn shard_of(items: std::ops::Range<u64>, (i, n): (u64, u64)) -> std::ops::Range<u64> {
    let len = items.end - items.start;
    let (base, extra) = (len / n, len % n);
    let start = items.start + i * base + i.min(extra);
    let size = base + u64::from(i < extra);
    start..start + size
}

#[cfg(test)]
mod tests {
    use super::{parse_shard, shard_of};

    #[test]
    fn shards_cover_the_seeds_exactly_once_in_order() {
        for len in 0..40u64 {
            for n in 1..10u64 {
                let seeds = 7..7 + len;
                let blocks: Vec<_> = (0..n).map(|i| shard_of(seeds.clone(), (i, n))).collect();
                let joined: Vec<u64> = blocks.iter().flat_map(|b| b.clone()).collect();
                assert_eq!(joined, seeds.clone().collect::<Vec<_>>(), "{len} seeds in {n} shards: {blocks:?}");
                let sizes: Vec<u64> = blocks.iter().map(|b| b.end - b.start).collect();
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
            }
        }
    }

    #[test]
    fn a_shard_is_i_of_n_with_i_below_n() {
        assert_eq!(parse_shard("0/4"), Ok((0, 4)));
        assert_eq!(parse_shard("3/4"), Ok((3, 4)));
        for bad in ["4/4", "1/0", "x/2", "1", "-1/2", ""] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
