//! Simulated time as dpsim writes and reads it: instants ([`Millis`]), the ownership log's
//! stamps since the start of a run ([`stamp`]), durations for people ([`format_duration`]),
//! and the instant of the simulation running now ([`simulated_stamp`]).
//!
//! The service core never reads a clock: every call is handed a [`Millis`] instant. Instants are
//! milliseconds since the Unix epoch so that they render directly as AWS timestamps.

pub use crate::ownership::log::stamp;

use std::fmt;

/// An instant: milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = u64;

/// One second in milliseconds.
pub(crate) const SECOND_MS: u64 = 1_000;
/// One minute in milliseconds.
pub(crate) const MINUTE_MS: u64 = 60 * SECOND_MS;
/// One hour in milliseconds.
pub(crate) const HOUR_MS: u64 = 60 * MINUTE_MS;
/// One day in milliseconds.
pub(crate) const DAY_MS: u64 = 24 * HOUR_MS;

/// Why a Data Pipeline period string was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PeriodError(pub String);

impl fmt::Display for PeriodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PeriodError {}

/// Parses a Data Pipeline period (`"15 minutes"`, `"1 Hour"`, `"2 weeks"`) into milliseconds.
///
/// Units are case-insensitive and may be singular. A month counts as 30 days: Data Pipeline
/// only uses months for schedules, where a fixed length keeps the simulation exact.
pub(crate) fn parse_period(text: &str) -> Result<u64, PeriodError> {
    let bad = || {
        PeriodError(format!(
            "invalid period {text:?}: expected \"<positive integer> <minutes|hours|days|weeks|months>\", e.g. \"15 minutes\""
        ))
    };
    let mut parts = text.split_whitespace();
    let (Some(count), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let count: u64 = count.parse().map_err(|_| bad())?;
    let unit_ms = match unit.to_ascii_lowercase().as_str() {
        "minute" | "minutes" => MINUTE_MS,
        "hour" | "hours" => HOUR_MS,
        "day" | "days" => DAY_MS,
        "week" | "weeks" => 7 * DAY_MS,
        "month" | "months" => 30 * DAY_MS,
        _ => return Err(bad()),
    };
    count.checked_mul(unit_ms).filter(|ms| *ms > 0).ok_or_else(bad)
}

/// Renders an instant the way Data Pipeline writes object times: `2012-12-12T00:00:00`.
pub(crate) fn format_dp_time(at: Millis) -> String {
    let t = to_offset_date_time(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Renders an instant as RFC 3339 with milliseconds: `2026-01-01T00:02:00.000Z`.
pub(crate) fn format_rfc3339(at: Millis) -> String {
    let t = to_offset_date_time(at);
    format!("{}.{:03}Z", format_dp_time(at), t.millisecond())
}

/// Renders an instant as an HTTP date (IMF-fixdate), for the `Date` response header.
pub(crate) fn format_http_date(at: Millis) -> String {
    let t = to_offset_date_time(at);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[t.weekday().number_days_from_monday() as usize],
        t.day(),
        MONTHS[u8::from(t.month()) as usize - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The whole second an instant falls in: object times have second resolution.
pub(crate) fn whole_second(at: Millis) -> Millis {
    at / SECOND_MS * SECOND_MS
}

/// Parses a Data Pipeline date-time (`2012-12-12T00:00:00`, optionally with `Z`) as UTC.
pub(crate) fn parse_dp_time(text: &str) -> Option<Millis> {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let text = text.strip_suffix('Z').unwrap_or(text);
    let t = time::PrimitiveDateTime::parse(text, &format).ok()?;
    u64::try_from(t.assume_utc().unix_timestamp()).ok().map(|s| s * SECOND_MS)
}

/// Parses an RFC 3339 instant (`2026-01-01T00:02:00Z`, `2026-01-01T00:02:00.5+01:00`), or a
/// Data Pipeline date-time taken as UTC; None before 1970 or when malformed.
///
/// ```
/// assert_eq!(dpsim::time::parse_instant("2026-01-01T00:02:00Z"), Some(1_767_225_720_000));
/// assert_eq!(dpsim::time::parse_instant("yesterday"), None);
/// ```
pub fn parse_instant(text: &str) -> Option<Millis> {
    if let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok();
    }
    parse_dp_time(text)
}

/// Renders a duration compactly for humans: `2m`, `15m`, `1h30m`, `1m30s`, `4m4.3s`, `250ms`.
///
/// ```
/// assert_eq!(dpsim::time::format_duration(5_400_000), "1h30m");
/// ```
pub fn format_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if ms < SECOND_MS {
        return format!("{ms}ms");
    }
    let (h, m, s, frac) = (ms / HOUR_MS, ms % HOUR_MS / MINUTE_MS, ms % MINUTE_MS / SECOND_MS, ms % SECOND_MS);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if frac > 0 {
        let digits = format!("{frac:03}");
        out += &format!("{s}.{}s", digits.trim_end_matches('0'));
    } else if s > 0 {
        out += &format!("{s}s");
    }
    out
}

fn to_offset_date_time(at: Millis) -> time::OffsetDateTime {
    let nanos = i128::from(at) * 1_000_000;
    // Millis beyond year 9999 cannot come from a sane clock; clamp rather than panic.
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// The current instant of the simulation running on this thread, as the ownership log stamps
/// it (`+00:02:00.100`): for tracing lines stamped with simulated time, never the machine's
/// (plug it into your subscriber's timer, as `dpsim -v` does). Between runs, and outside any,
/// it is the start, `+00:00:00.000`.
pub fn simulated_stamp() -> String {
    crate::ownership::log::stamp(crate::sim::clock::sim_now().saturating_sub(crate::trace::EPOCH_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_case_insensitively_and_singular() {
        assert_eq!(parse_period("15 minutes"), Ok(15 * MINUTE_MS));
        assert_eq!(parse_period("1 Hour"), Ok(HOUR_MS));
        assert_eq!(parse_period("2 Hours"), Ok(2 * HOUR_MS));
        assert_eq!(parse_period("1 day"), Ok(DAY_MS));
        assert_eq!(parse_period("2 WEEKS"), Ok(14 * DAY_MS));
        assert_eq!(parse_period("1 month"), Ok(30 * DAY_MS));
    }

    #[test]
    fn bad_periods_are_rejected() {
        for bad in [
            "",
            "15",
            "minutes",
            "15 mins",
            "-1 minutes",
            "0 minutes",
            "1.5 hours",
            "1 hour extra",
            "99999999999999999 weeks",
        ] {
            assert!(parse_period(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn times_render_in_aws_formats() {
        let at = 1_355_270_400_000; // 2012-12-12T00:00:00Z
        assert_eq!(format_dp_time(at), "2012-12-12T00:00:00");
        assert_eq!(format_rfc3339(at + 5), "2012-12-12T00:00:00.005Z");
        assert_eq!(format_http_date(at), "Wed, 12 Dec 2012 00:00:00 GMT");
        assert_eq!(parse_dp_time("2012-12-12T00:00:00"), Some(at));
        assert_eq!(parse_dp_time("2012-12-12T00:00:00Z"), Some(at));
        assert_eq!(parse_dp_time("yesterday"), None);
    }

    #[test]
    fn durations_render_compactly() {
        assert_eq!(format_duration(2 * MINUTE_MS), "2m");
        assert_eq!(format_duration(HOUR_MS + 30 * MINUTE_MS), "1h30m");
        assert_eq!(format_duration(90 * SECOND_MS), "1m30s");
        assert_eq!(format_duration(250), "250ms");
        assert_eq!(format_duration(244_300), "4m4.3s");
        assert_eq!(format_duration(60_100), "1m0.1s");
    }
}
