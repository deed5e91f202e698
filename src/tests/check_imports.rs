//! No check calls the code it checks: the checks, the ownership analysis and the reports may use
//! only plain data (the protocol's names and shapes, the trace and the journal's records, the
//! scenario as loaded, time formats) and each other. A rule they need a number or a reading
//! for (deadlines, defaults, definitions, schedules) is their own (`check/rules.rs`), so a bug
//! in the service, the simulator or a runner cannot hide in both.

use std::path::{Path, PathBuf};

/// What the checking side may name outside itself, each with why it is plain data.
const ALLOWED: &[(&str, &str)] = &[
    ("crate::check", "the checks themselves"),
    ("crate::ownership", "the ownership analysis: facts read off the trace"),
    ("crate::report", "the report: renders the checks' findings"),
    ("crate::trace", "the run's plain data: the calls and their answers, observations, records"),
    ("crate::journal::Event", "a record of the trace"),
    ("crate::journal::EventKind", "a record of the trace"),
    ("crate::journal::Deadline", "a field of a record of the trace"),
    ("crate::journal::CancelSource", "a field of a record of the trace"),
    ("crate::protocol::Operation", "an operation's name"),
    ("crate::protocol::ErrorCode", "an error's name"),
    ("crate::protocol::PipelineObject", "a definition's objects, as the client put them"),
    ("crate::protocol::Field", "a definition's fields, as the client put them"),
    ("crate::scenario::Scenario", "the scenario as loaded"),
    ("crate::scenario::model", "the scenario's own types, as loaded"),
    ("crate::scenario::ActionKind", "an event's name in the scenario format"),
    ("crate::scenario::EffectKind", "an effect's name in the scenario format"),
    ("crate::scenario::parse_duration", "the scenario format's durations (`myWorkTime`)"),
    ("crate::time::Millis", "an instant"),
    ("crate::time::format_duration", "a time format"),
    ("crate::time::format_dp_time", "a time format"),
    ("crate::time::parse_dp_time", "a time format"),
    ("crate::time::whole_second", "a time format: Data Pipeline times are whole seconds"),
];

/// The folders of the checking side.
const CHECKING: &[&str] = &["src/check", "src/ownership", "src/report"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::...` path the text names, with `use crate::a::{b, c::d}` groups spelled out.
fn crate_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let (paths, used) = path_at(&rest[at..]);
        out.extend(paths);
        rest = &rest[at + used.max(7)..];
    }
    out
}

/// The paths a `crate::...` expression names, and how many bytes it took.
fn path_at(text: &str) -> (Vec<String>, usize) {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut i = 0;
    let mut prefix = String::new();
    loop {
        let len = text[i..].find(|c: char| !ident(c)).unwrap_or(text.len() - i);
        prefix += &text[i..i + len];
        i += len;
        if !text[i..].starts_with("::") {
            return (vec![prefix], i);
        }
        i += 2;
        if text[i..].starts_with('{') {
            // A group: split at the top-level commas, each a path of its own under the prefix.
            let mut depth = 0;
            let mut start = i + 1;
            let mut paths = Vec::new();
            for (j, c) in text[i..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' | ',' if depth == 1 => {
                        let item = text[start..i + j].trim();
                        if !item.is_empty() {
                            let (inner, _) = path_at(item);
                            paths.extend(inner.into_iter().map(|p| format!("{prefix}::{p}")));
                        }
                        start = i + j + 1;
                        if c == '}' {
                            return (paths, i + j + 1);
                        }
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            return (paths, text.len());
        }
        prefix += "::";
    }
}

fn allowed(path: &str) -> bool {
    ALLOWED.iter().any(|(prefix, _)| path == *prefix || path.starts_with(&format!("{prefix}::")))
}

#[test]
fn the_checks_reports_and_ownership_analysis_name_only_plain_data() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in CHECKING {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    assert!(files.len() > 10, "the checking side's files: {files:?}");
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // Comments may name anything: only code is judged.
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .map(|l| l.split(" // ").next().unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        for path in crate_paths(&code) {
            if !allowed(&path) {
                wrong.push(format!("{}: {path}", file.strip_prefix(root).unwrap_or(file).display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the checking side names code it checks (give the check its own account, or add a plain-data type to ALLOWED with its reason):\n{}",
        wrong.join("\n")
    );
}

/// The rule itself catches what it must: the imports the checks had before they had their own
/// account of schedules and definitions.
#[test]
fn the_rule_catches_the_imports_the_checks_once_had() {
    let old = "use crate::service::definition::validate;\nuse crate::service::schedule::{Scheduled, instance_id};\n\
               use crate::runner::policy::MAX_ATTEMPTS;\nlet s = crate::scenario::settings(input.scenario, 1);";
    let paths = crate_paths(old);
    assert_eq!(
        paths,
        [
            "crate::service::definition::validate",
            "crate::service::schedule::Scheduled",
            "crate::service::schedule::instance_id",
            "crate::runner::policy::MAX_ATTEMPTS",
            "crate::scenario::settings"
        ]
    );
    assert!(paths.iter().all(|p| !allowed(p)), "{paths:?}");
    assert_eq!(
        crate_paths("use crate::time::{Millis, format_dp_time as f};"),
        ["crate::time::Millis", "crate::time::format_dp_time"]
    );
    assert!(crate_paths("use crate::time::{Millis, parse_period};").iter().any(|p| !allowed(p)));
}
