//! The names the log and the checks give events and effects are the scenario format's.

use std::path::Path;

use crate::scenario::load_file;

#[test]
fn event_and_effect_names_are_the_scenario_format_s() {
    for dir in ["scenarios", "chaos"] {
        for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let scenario = load_file(&path).unwrap();
            for e in &scenario.events {
                let json = serde_json::to_value(&e.action).unwrap();
                assert_eq!(json["kind"], e.action.kind().name(), "{}", path.display());
                if let crate::scenario::model::Action::Message(f) = &e.action {
                    assert_eq!(json["effect"]["type"], f.effect.kind().name(), "{}", path.display());
                }
            }
        }
    }
}
