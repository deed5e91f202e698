//! `dpsim explore`: the deadline-boundary variants of a scenario as a table or JSON.

use std::path::Path;

use dpsim::Simulation;
use dpsim::explore::Variant;
use dpsim::scenario::load_file;

use super::run::{EXIT_EXPECTATION_FAILED, EXIT_INVALID};

/// Runs `dpsim explore`; returns the exit status (1 when a variant broke an invariant).
pub fn run(path: &Path, json: bool) -> u8 {
    let base = match load_file(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dpsim: invalid scenario: {e}");
            return EXIT_INVALID;
        }
    };
    match Simulation::new(base).explore() {
        Ok(rows) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&rows).expect("rows serialise"));
            } else {
                print!("{}", table(&rows));
            }
            let broken = rows.iter().filter(|r| !r.violations.is_empty()).count();
            if broken > 0 {
                eprintln!("dpsim: {broken} variant(s) broke an invariant");
                return EXIT_EXPECTATION_FAILED;
            }
            0
        }
        Err(e) => {
            eprintln!("dpsim: {e}");
            EXIT_INVALID
        }
    }
}

/// The variants as an aligned table.
pub fn table(rows: &[Variant]) -> String {
    let w0 = rows.iter().map(|r| r.deadline.len()).max().unwrap_or(8).max(8);
    let w1 = rows.iter().map(|r| r.variant.len()).max().unwrap_or(7).max(7);
    let w2 = rows.iter().map(|r| r.outcome.len()).max().unwrap_or(7).max(7);
    let mut out = format!(
        "{:<w0$}  {:<w1$}  {:<w2$}  {:<10}  {}\n",
        "deadline", "variant", "lease", "invariants", "expectations"
    );
    for r in rows {
        let inv = if r.violations.is_empty() {
            "ok".to_string()
        } else {
            r.violations.iter().map(|i| i.name()).collect::<Vec<_>>().join(",")
        };
        let exp =
            if r.failed_expectations == 0 { "ok".to_string() } else { format!("{} failed", r.failed_expectations) };
        out += &format!("{:<w0$}  {:<w1$}  {:<w2$}  {inv:<10}  {exp}\n", r.deadline, r.variant, r.outcome);
    }
    out
}
