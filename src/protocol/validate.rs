//! Member constraints the server enforces itself: required, length, pattern, enum.
//!
//! Clients only check required members and minimum lengths, so everything here must hold on
//! the server. Each failure becomes an InvalidRequestException naming the member.

use super::error::ServiceError;

/// True when every character is allowed by the model's string pattern
/// `[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t]*`.
pub fn matches_string_pattern(text: &str) -> bool {
    text.chars()
        .all(|c| matches!(c, '\r' | '\n' | '\t' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}') || c >= '\u{10000}')
}

/// Requires a member to be present.
pub fn required<'a, T>(value: &'a Option<T>, member: &str) -> Result<&'a T, ServiceError> {
    value.as_ref().ok_or_else(|| {
        ServiceError::invalid(format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"))
    })
}

/// Checks a string's length (in characters) and pattern.
pub fn string(value: &str, member: &str, min: usize, max: usize) -> Result<(), ServiceError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(ServiceError::invalid(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length between {min} and {max}, inclusive (got {len})"
        )));
    }
    if !matches_string_pattern(value) {
        return Err(ServiceError::invalid(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*"
        )));
    }
    Ok(())
}

/// Checks an optional string's length and pattern when present.
pub fn opt_string(value: &Option<String>, member: &str, min: usize, max: usize) -> Result<(), ServiceError> {
    match value {
        Some(v) => string(v, member, min, max),
        None => Ok(()),
    }
}

/// Checks a list's length.
pub fn list_len<T>(value: &[T], member: &str, min: usize, max: usize) -> Result<(), ServiceError> {
    if value.len() < min || value.len() > max {
        return Err(ServiceError::invalid(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length between {min} and {max}, inclusive (got {})",
            value.len()
        )));
    }
    Ok(())
}

/// Checks that a string is one of an enum's values.
pub fn one_of(value: &str, member: &str, allowed: &[&str]) -> Result<(), ServiceError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(ServiceError::invalid(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_allows_text_and_whitespace_but_not_controls() {
        assert!(matches_string_pattern("Copy \t\r\n é 漢 😀"));
        assert!(!matches_string_pattern("a\u{0}b"));
        assert!(!matches_string_pattern("\u{1b}[31m"));
        assert!(!matches_string_pattern("\u{FFFE}"));
    }

    #[test]
    fn lengths_count_characters() {
        assert!(string("é", "m", 1, 1).is_ok());
        let err = string("", "taskId", 1, 2048).unwrap_err();
        assert!(err.message.contains("'taskId'"), "{}", err.message);
    }

    #[test]
    fn enums_name_the_member_and_the_allowed_values() {
        let err = one_of("BOGUS", "taskStatus", &["FINISHED", "FAILED", "FALSE"]).unwrap_err();
        assert!(err.message.contains("taskStatus") && err.message.contains("FINISHED"));
    }
}
