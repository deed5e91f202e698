//! The report page (issue 31): byte-identical for the same scenario and seed, self-contained
//! (nothing fetched), and leading with what broke: the failing chaos seed's 366 violations are
//! eight groups, each pointing at its first violation, its lease and its log line. The browser
//! checks (.ci/browser) judge it as a person sees it.

use dpsim::Simulation;
use serde_json::Value;

const FAILING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pages/ignore-try-cancel-seed-6.json");

fn page_of(file: &str) -> String {
    let sim = Simulation::from_file(file).unwrap();
    let (report, trace) = sim.run_traced(None).unwrap();
    dpsim::report::page("page", &report, &trace)
}

fn data_of(page: &str) -> Value {
    let start = page.find(r#"<script type="application/json" id="data">"#).expect("the data element");
    let rest = &page[start..];
    let body = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    serde_json::from_str(body).expect("the embedded data is JSON")
}

#[test]
fn the_page_is_byte_identical_for_the_same_scenario_and_seed() {
    assert_eq!(page_of(FAILING), page_of(FAILING));
    let passing = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/ack-at-deadline.json");
    assert_eq!(page_of(passing), page_of(passing));
}

#[test]
fn the_page_fetches_nothing() {
    let page = page_of(FAILING);
    for outside in ["http://", "https://", "<link", " src=", "@import", "fetch(\"http"] {
        assert!(!page.contains(outside), "the page names {outside}");
    }
}

#[test]
fn the_page_leads_with_the_groups_of_what_broke() {
    let data = data_of(&page_of(FAILING));
    let groups = data["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 8);
    assert_eq!(data["violations"].as_array().unwrap().len(), 366);
    let first = &data["violations"][groups[0]["first"].as_u64().unwrap() as usize];
    assert_eq!(groups[0]["first_at"], 243_900, "first seen at +00:04:03.900");
    assert_eq!(first["lease"], 16, "on lease t16");
    assert!(!first["trail"].as_array().unwrap().is_empty(), "with the transitions that led to it");
    let counts: u64 = groups.iter().map(|g| g["count"].as_u64().unwrap()).sum();
    assert_eq!(counts, 366, "every violation is in one group");
    // A mark of the TRY_CANCEL before it, during its lease's life or before.
    assert!(
        data["marks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m[1] == "control" && m[2].as_str().unwrap().contains("TRY_CANCEL"))
    );
}

#[test]
fn text_that_could_end_the_script_is_escaped() {
    let sim = Simulation::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/ack-at-deadline.json")).unwrap();
    let (report, trace) = sim.run_traced(None).unwrap();
    let page = dpsim::report::page("</script><script>alert(1)</script>", &report, &trace);
    assert!(!page.contains("</script><script>alert(1)"), "the title is escaped in HTML and in the data");
    assert_eq!(data_of(&page)["title"], "</script><script>alert(1)</script> (seed 1)");
}
