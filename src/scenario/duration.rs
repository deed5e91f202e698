//! Durations as scenarios write them: Data Pipeline periods ("15 minutes", "2 Hours") or
//! short forms ("90s", "15m", "100ms", "1h30m").

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::time::{DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, format_duration, parse_period};

/// A duration in milliseconds, written in scenario files as text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub u64);

impl Dur {
    /// Milliseconds.
    pub fn ms(self) -> u64 {
        self.0
    }
}

/// The longest duration a scenario may write: ten years, as for a definition's periods.
/// Beyond it sums of deadlines could leave `u64`, and no run means it.
pub(crate) const MAX_DURATION_MS: u64 = crate::service::definition::MAX_PERIOD_MS;

/// A duration that does not parse, or is longer than ten years; says what a duration is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationError(String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DurationError {}

/// Parses a duration, in milliseconds: a Data Pipeline period (`"15 minutes"`, `"2 Hours"`)
/// or concatenated short forms (`"90s"`, `"1h30m"`, `"250ms"`), at most ten years.
///
/// ```
/// assert_eq!(dpsim::scenario::parse_duration("1h30m"), Ok(5_400_000));
/// assert_eq!(dpsim::scenario::parse_duration("15 minutes"), Ok(900_000));
/// assert!(dpsim::scenario::parse_duration("1.5s").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    let ms = parse_any_duration(text).map_err(DurationError)?;
    if ms > MAX_DURATION_MS {
        return Err(DurationError(format!("duration {text:?} is longer than ten years")));
    }
    Ok(ms)
}

fn parse_any_duration(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(0);
    }
    let bad = || {
        format!(
            "invalid duration {text:?}: expected a Data Pipeline period (\"15 minutes\", \"2 Hours\") or short forms such as \"90s\", \"15m\", \"1h30m\", \"100ms\""
        )
    };
    if trimmed.contains(' ') {
        return parse_period(trimmed).map_err(|_| bad());
    }
    let mut total: u64 = 0;
    let mut rest = trimmed;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => SECOND_MS,
            "m" => MINUTE_MS,
            "h" => HOUR_MS,
            "d" => DAY_MS,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
    }
    Ok(total)
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// Writes a duration in short forms that [`parse_duration`] reads back: `2m`, `1h30m`, `2m500ms`.
pub(crate) fn duration_spec(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, size) in [("h", HOUR_MS), ("m", MINUTE_MS), ("s", SECOND_MS), ("ms", 1)] {
        if rest >= size {
            out += &format!("{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Written scenarios (chaos repros) must parse again, so no fractional seconds here.
        s.serialize_str(&duration_spec(self.0))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"15 minutes\", \"90s\" or \"1h30m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                parse_duration(v).map(Dur).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A Data Pipeline period (\"15 minutes\", \"2 Hours\") or short forms (\"90s\", \"15m\", \"1h30m\", \"100ms\").",
            "pattern": "^(0|([0-9]+(ms|s|m|h|d))+|[0-9]+ +[A-Za-z]+)$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_forms() {
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("15m"), Ok(900_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("100ms"), Ok(100));
        assert_eq!(parse_duration("15 minutes"), Ok(900_000));
        assert_eq!(parse_duration("2 Hours"), Ok(7_200_000));
        assert_eq!(parse_duration("0"), Ok(0));
        for ms in [0, 100, 120_500, 3_600_000, 5_400_000, 90_061_001] {
            assert_eq!(parse_duration(&duration_spec(ms)), Ok(ms), "{ms} round-trips");
        }
        for bad in ["", "m", "15", "15x", "1.5s", "s15", "15 mins"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
