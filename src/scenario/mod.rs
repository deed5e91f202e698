//! Scenario files: the format, loading with precise errors, and the world they describe.

pub mod definition_file;
pub mod duration;
pub mod load;
pub mod model;
pub mod overrides;
pub mod world_plan;

pub use duration::Dur;
pub use load::{ScenarioError, Target, load_file, load_file_for, parse, parse_for, settings};
pub use model::Scenario;

/// The JSON Schema of scenario files, generated from the types.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_value(schema).expect("schemas serialise")
}

/// A scenario's name, from its file: the file's stem (`ack-lost` for
/// `tests/scenarios/ack-lost.json`), as reports and output directories call it.
pub fn name_of(path: &std::path::Path) -> String {
    path.file_stem().map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned())
}
