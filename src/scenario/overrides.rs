//! `--set key.path=value`: a variant of a scenario with some values changed, checked like a
//! file (an assignment that names nothing, or a value of the wrong kind, is an error naming
//! the assignment).

use serde_json::Value;

use super::load::{ScenarioError, parse};
use super::model::Scenario;

/// The scenario with each `key.path=value` assignment applied in order. Path segments are
/// object keys or array indices (`runners.0.report_interval` or `runners[0].report_interval`);
/// the value is JSON when it parses as JSON (`3`, `true`, `{"type": "drop_request"}`) and a
/// string otherwise (`5m`). A key may be added to an object; an index must exist.
pub fn with_assignments(scenario: &Scenario, assignments: &[String]) -> Result<Scenario, ScenarioError> {
    let mut json = serde_json::to_value(scenario).expect("scenarios serialise");
    for assignment in assignments {
        let fail = |message: String| ScenarioError {
            file: None,
            path: format!("--set {assignment}"),
            position: None,
            message,
        };
        let (path, text) = assignment
            .split_once('=')
            .ok_or_else(|| fail("expected key.path=value, as in runners.0.report_interval=1m".into()))?;
        let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()));
        let segments = segments(path);
        if segments.is_empty() {
            return Err(fail("the path is empty".into()));
        }
        set(&mut json, &segments, value).map_err(fail)?;
    }
    let text = serde_json::to_string(&json).expect("values serialise");
    parse(&text).map_err(|mut e| {
        e.message = format!("after {}: {}", assignments.join(" "), e.message);
        e
    })
}

/// `runners[0].report_interval` and `runners.0.report_interval` both give
/// `["runners", "0", "report_interval"]`.
fn segments(path: &str) -> Vec<String> {
    path.replace('[', ".").replace(']', "").split('.').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn set(json: &mut Value, segments: &[String], value: Value) -> Result<(), String> {
    let (first, rest) = segments.split_first().expect("non-empty path");
    let child = match json {
        Value::Object(map) if rest.is_empty() => {
            map.insert(first.clone(), value);
            return Ok(());
        }
        // A section the file left out (`harness`, say) is added, empty; the scenario's own
        // checks then refuse a key that means nothing.
        Value::Object(map) => map.entry(first.clone()).or_insert_with(|| Value::Object(Default::default())),
        Value::Array(items) => {
            let len = items.len();
            let slot = first
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| format!("{first:?} is not an index of this list of {len}"))?;
            if rest.is_empty() {
                *slot = value;
                return Ok(());
            }
            slot
        }
        _ => return Err(format!("{first:?} goes into a value that is neither an object nor a list")),
    };
    set(child, rest, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Scenario {
        parse(
            r#"{"duration": "1h", "pipelines": [],
                "runners": [{"name": "r", "worker_group": "wg", "report_interval": "5m"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn assignments_change_values_and_keep_the_rest() {
        let s = with_assignments(&base(), &["runners.0.report_interval=1m".into(), "seed=9".into()]).unwrap();
        assert_eq!(s.runners[0].report_interval.ms(), 60_000);
        assert_eq!(s.seed, 9);
        let t = with_assignments(&base(), &["runners[0].report_interval=2m".into()]).unwrap();
        assert_eq!(t.runners[0].report_interval.ms(), 120_000);
        assert_eq!(t.duration, base().duration);
    }

    #[test]
    fn a_bad_assignment_is_an_error_that_names_it() {
        for (bad, says) in [
            ("runners.3.report_interval=1m", "not an index"),
            ("nothing.here=1", "unknown field `nothing`"),
            ("runners.0.report_interval=soon", "runners[0].report_interval"),
            ("seed", "key.path=value"),
        ] {
            let e = with_assignments(&base(), &[bad.to_string()]).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
    }
}
