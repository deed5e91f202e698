//! Deadline-boundary exploration puts the competing call one tick before, at and after each
//! deadline; the rule "at or after the deadline is late" shows in the outcomes.

use dpsim::Simulation;

#[test]
fn the_ack_wins_only_before_its_deadline() {
    let rows = Simulation::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/happy-path.json"))
        .unwrap()
        .explore()
        .unwrap();
    let outcome = |deadline: &str, variant: &str| {
        rows.iter()
            .find(|r| r.deadline.starts_with(deadline) && r.variant == variant)
            .unwrap_or_else(|| panic!("{deadline} {variant} missing:\n{rows:#?}"))
            .outcome
            .clone()
    };
    assert!(outcome("ack t1", "ack -1 tick").starts_with("finished"), "{rows:#?}");
    assert_eq!(outcome("ack t1", "ack at"), "expired at +00:02:00.600");
    assert_eq!(outcome("ack t1", "ack +1 tick"), "expired at +00:02:00.600");
    assert!(outcome("progress t1", "next report -1 tick").starts_with("finished"));
    assert!(outcome("progress t1", "next report at").starts_with("expired at +00:15:00.700"));
    assert!(rows.iter().all(|r| r.violations.is_empty()), "{rows:#?}");
    assert_eq!(rows.len(), 36, "four deadlines, three competing events, three placements");
}

#[test]
fn a_competing_poll_gets_an_unacknowledged_task_exactly_at_the_deadline() {
    let rows =
        Simulation::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/never-acks-misbehaving-runner.json"))
            .unwrap()
            .explore()
            .unwrap();
    let outcome = |variant: &str| {
        rows.iter().find(|r| r.deadline.starts_with("ack t1") && r.variant == variant).unwrap().outcome.clone()
    };
    // One tick early the poll is held, and the held poll gets the task when the lease expires.
    assert!(outcome("poll -1 tick").ends_with("explore-poller got t2 at +00:02:00.600"), "{rows:#?}");
    assert!(outcome("poll at").ends_with("explore-poller got t2 at +00:02:00.600"));
    assert!(outcome("poll +1 tick").ends_with("explore-poller got t2 at +00:02:00.700"));
    // A cancel one tick early ends the lease by cancellation; at the deadline, expiry wins.
    assert_eq!(outcome("cancel -1 tick"), "canceled at +00:02:00.500");
    assert_eq!(outcome("cancel at"), "expired at +00:02:00.600");
}
