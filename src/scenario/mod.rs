//! Scenario files: the format, loading with precise errors, and the world they describe.
//!
//! A scenario is one JSON file (the README's "Scenario files" section describes every key;
//! [`json_schema`] is the schema, which editors read through a `"$schema"` key). Loading is
//! strict: an unknown key, a wrong type, a bad value or a fault that cannot apply is an error
//! naming the file, line, column and JSON path ([`ScenarioError`]), and nothing runs.
//!
//! ```
//! let error = dpsim::scenario::parse(
//!     r#"{"duration": "1h", "pipelines": [], "runners": [{"name": "a", "worker_group": "wg", "colour": 1}]}"#,
//! )
//! .unwrap_err();
//! assert_eq!(error.path, "runners[0].colour");
//! assert!(error.to_string().contains("unknown field `colour`"), "{error}");
//! ```
//!
//! A variant of a scenario is the scenario with some values changed ([`Scenario::with`]), as
//! `dpsim chaos --set` and `dpsim verify --set` make them.

pub(crate) mod definition_file;
pub(crate) mod duration;
pub(crate) mod load;
pub(crate) mod model;
pub(crate) mod overrides;
pub(crate) mod world_plan;

pub(crate) use duration::Dur;
pub use duration::{DurationError, parse_duration};
pub(crate) use load::settings;
pub use load::{ScenarioError, Target, load_file, load_file_for, parse, parse_for};
pub use model::{ActionKind, EffectKind, Scenario, Stepping};

impl Scenario {
    /// The seed every random choice of a run derives from, unless a run overrides it.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// What the scenario shows, in words (its `description`).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The most simulated time a run takes.
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.duration.ms())
    }

    /// A variant: this scenario with each `key.path=value` assignment applied in order, and
    /// checked as a file is. Path segments are object keys or array indices
    /// (`runners.0.report_interval` or `runners[0].report_interval`); a value is JSON when it
    /// parses as JSON (`3`, `true`, `{"type": "drop_request"}`) and a string otherwise (`5m`).
    ///
    /// ```
    /// let base = dpsim::scenario::parse(
    ///     r#"{"duration": "1h", "pipelines": [], "runners": [{"name": "a", "worker_group": "wg"}]}"#,
    /// )
    /// .unwrap();
    /// let variant = base.with(["seed=9", "service.bug=ignore_try_cancel"]).unwrap();
    /// assert_eq!(variant.seed(), 9);
    /// assert!(base.with(["service.colour=red"]).unwrap_err().to_string().contains("colour"));
    /// ```
    pub fn with<I, S>(&self, assignments: I) -> Result<Scenario, ScenarioError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let assignments: Vec<String> = assignments.into_iter().map(|a| a.as_ref().to_string()).collect();
        overrides::with_assignments(self, &assignments)
    }

    /// The scenario as a file that replays on its own (pretty JSON with a `"$schema"` key):
    /// what chaos writes for a failing seed and verify for a counterexample.
    pub fn to_file_text(&self) -> String {
        let mut s = self.clone();
        s.schema = Some("../scenario.schema.json".into());
        serde_json::to_string_pretty(&s).expect("scenarios serialise") + "\n"
    }
}

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
