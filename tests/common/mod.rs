//! What several test files share.

#![allow(dead_code)]

use dpsim::Scenario;
use serde_json::Value;

/// A scenario changed as JSON, as a user edits a file: `edit` gets the scenario's JSON.
pub fn edited(scenario: &Scenario, edit: impl FnOnce(&mut Value)) -> Scenario {
    let mut json: Value = serde_json::from_str(&scenario.to_file_text()).expect("scenarios are JSON");
    edit(&mut json);
    dpsim::scenario::parse(&json.to_string()).unwrap_or_else(|e| panic!("the edited scenario is invalid: {e}"))
}

/// The path of a file of this repository.
pub fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}
