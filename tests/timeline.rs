//! The timeline picture is byte-stable for a seed, so it is snapshot-tested like the log.

use std::path::Path;

use dpsim::Simulation;
use dpsim::report::timeline_svg;

fn svg(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(file);
    let (_, trace) = Simulation::from_file(&path).unwrap().run_traced(None).unwrap();
    timeline_svg(file.trim_end_matches(".json"), &trace)
}

#[test]
fn timeline_of_a_lost_ack() {
    let picture = svg("ack-request-lost.json");
    assert_eq!(picture, svg("ack-request-lost.json"), "byte-stable");
    assert!(picture.contains("url(#zombie)"), "zombie work is hatched");
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("timeline@ack-request-lost.svg", picture);
    });
}

#[test]
fn a_thousand_tasks_share_lanes() {
    let picture = svg("many-runners-many-tasks.json");
    let lanes = picture.matches("..Copy[").count();
    // The picture's limit of 40 lanes.
    assert_eq!(lanes, 40, "1,000 tasks fold into the lane limit");
}
