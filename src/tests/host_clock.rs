//! One time base for the whole simulated world (issue 18): a reading of a host's clock outside
//! the step being run is caught as a harness defect. (That a crash's teardown reads the
//! instant of the crash is a patch of the fork, tested in `crates/dpsim-turmoil/tests/patches.rs`.)

use std::time::Duration;

use crate::sim::clock::{self, EPOCH_MS, sim_now, stray_reading};

/// The guard: a host that reads its clock outside the step the driver announced is recorded,
/// with what it read and the step, and only the first such reading is kept.
#[test]
fn a_reading_outside_the_step_is_a_stray_reading() {
    clock::begin_run();
    let mut sim = turmoil::Builder::new().tick_duration(Duration::from_millis(100)).build();
    sim.host("host", || async {
        loop {
            sim_now();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // Honest steps: the driver announces each one.
    for step in 0..5u64 {
        clock::set_step(EPOCH_MS + step * 100, EPOCH_MS + (step + 1) * 100);
        sim.step().unwrap();
    }
    assert_eq!(stray_reading(), None);
    // A step the driver believes is at +10 s: the host's reading (+0.5 s) is a stray one.
    clock::set_step(EPOCH_MS + 10_000, EPOCH_MS + 10_100);
    sim.step().unwrap();
    let stray = stray_reading().expect("the reading outside the step is caught");
    assert_eq!(stray.step, (EPOCH_MS + 10_000, EPOCH_MS + 10_100));
    assert!(stray.read < EPOCH_MS + 10_000, "{stray}");
    assert!(stray.to_string().starts_with("harness defect: "), "{stray}");
    clock::begin_run();
    assert_eq!(stray_reading(), None, "a new run starts clean");
}
