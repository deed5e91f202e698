//! Seed ranges as people write them: `A..B` (B exclusive) or a single seed `N`.

use std::ops::Range;

/// A seed range that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedRangeError(String);

impl std::fmt::Display for SeedRangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid seed range {:?}: expected A..B (B exclusive, A < B) or N, e.g. 0..200", self.0)
    }
}

impl std::error::Error for SeedRangeError {}

/// Parses `A..B` (B exclusive, `A < B`) or a single seed `N` (`N..N+1`), spaces allowed
/// around the numbers: `dpsim chaos --seeds`, `DPSIM_SEEDS` and a test sweep's seeds.
///
/// ```
/// assert_eq!(dpsim::chaos::parse_seeds("0..200"), Ok(0..200));
/// assert_eq!(dpsim::chaos::parse_seeds(" 5 .. 7 "), Ok(5..7));
/// assert_eq!(dpsim::chaos::parse_seeds("42"), Ok(42..43));
/// assert!(dpsim::chaos::parse_seeds("7..5").is_err());
/// ```
pub fn parse_seeds(text: &str) -> Result<Range<u64>, SeedRangeError> {
    let bad = || SeedRangeError(text.to_string());
    let number = |t: &str| t.trim().parse::<u64>().map_err(|_| bad());
    match text.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            if a >= b {
                return Err(bad());
            }
            Ok(a..b)
        }
        // The last u64 is no seed: `A..A+1` must exist.
        None => number(text).ok().and_then(|a| Some(a..a.checked_add(1)?)).ok_or_else(bad),
    }
}
