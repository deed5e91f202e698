//! One time base for the whole simulated world (issue 18): a host's clock, read at any moment
//! the driver lets it run (a step, a leap, the teardown of a crash), says the instant the world
//! is at, and a reading outside the step being run is caught as a harness defect.

use std::cell::Cell;
use std::future;
use std::rc::Rc;
use std::time::Duration;

use dpsim::sim::clock::{self, EPOCH_MS, sim_now, stray_reading};

/// Records the host's clock when dropped, as a service that gives up a dropped call does.
struct ReadOnDrop(Rc<Cell<Option<Duration>>>);

impl Drop for ReadOnDrop {
    fn drop(&mut self) {
        self.0.set(turmoil::sim_elapsed());
    }
}

/// A crash's teardown reads the instant of the crash, after single steps, after a leap, and
/// after a stretch of real time longer than the simulated one. Upstream turmoil counted the last
/// step twice (with a clock that tokio kept during teardown, as the patched one of earlier
/// versions did: 4m2s read as 5m3.1s after a 61.1 s leap) or read the machine's clock.
#[test]
fn a_crash_teardown_reads_the_instant_of_the_crash() {
    for (steps, leap, real_ms) in [(3, 1, 0), (1, 600, 0), (1, 1, 50)] {
        let read = Rc::new(Cell::new(None));
        let mut sim = turmoil::Builder::new().tick_duration(Duration::from_millis(1)).build();
        let in_host = read.clone();
        sim.host("host", move || {
            let read = in_host.clone();
            async move {
                let _guard = ReadOnDrop(read);
                future::pending().await
            }
        });
        for _ in 0..steps {
            sim.step().unwrap();
        }
        sim.leap(leap).unwrap();
        std::thread::sleep(Duration::from_millis(real_ms));
        let at_crash = sim.elapsed();
        sim.crash("host");
        assert_eq!(read.get(), Some(at_crash), "{steps} step(s), a leap of {leap}, {real_ms} ms of real time");
    }
}

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
