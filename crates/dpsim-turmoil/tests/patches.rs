//! Tests of dpsim's patches against turmoil 0.7.2, one or more per patch the README lists.

use std::cell::Cell;
use std::future;
use std::rc::Rc;
use std::time::Duration;

use dpsim_turmoil::net::{TcpListener, TcpStream};
use dpsim_turmoil::{Builder, Leap, Sim};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A world with 100 ms ticks and a host that records, at each wake, the host clock it read.
fn sleeper(sleep_ms: u64) -> (Sim<'static>, Rc<std::cell::RefCell<Vec<Duration>>>) {
    let mut sim = Builder::new()
        .tick_duration(Duration::from_millis(100))
        .build();
    let wakes = Rc::new(std::cell::RefCell::new(Vec::new()));
    let in_host = wakes.clone();
    sim.host("host", move || {
        let wakes = in_host.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
                wakes
                    .borrow_mut()
                    .push(dpsim_turmoil::sim_elapsed().unwrap());
            }
        }
    });
    (sim, wakes)
}

/// Records the host's clock when dropped, as a service that gives up a dropped call does.
struct ReadOnDrop(Rc<Cell<Option<Duration>>>);

impl Drop for ReadOnDrop {
    fn drop(&mut self) {
        self.0.set(dpsim_turmoil::sim_elapsed());
    }
}

/// Patch "a host's clock between steps": a crash's teardown reads the instant of the crash,
/// after single steps, after a leap, and after a stretch of real time longer than the simulated
/// one. Upstream counted the last step twice, or read the machine's clock.
#[test]
fn a_crash_teardown_reads_the_instant_of_the_crash() {
    for (steps, leap, real_ms) in [(3, 1, 0), (1, 600, 0), (1, 1, 50)] {
        let read = Rc::new(Cell::new(None));
        let mut sim = Builder::new()
            .tick_duration(Duration::from_millis(1))
            .build();
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
        assert_eq!(
            read.get(),
            Some(at_crash),
            "{steps} step(s), a leap of {leap}, {real_ms} ms of real time"
        );
    }
}

/// Patch "checked leaps": a leap that ends exactly where a timer falls due is sound, and the
/// timer fires at the same instant as with single steps.
#[test]
fn a_leap_to_the_next_timer_is_sound_and_fires_it_on_time() {
    let (mut stepped, stepped_wakes) = sleeper(1_000);
    for _ in 0..25 {
        stepped.step().unwrap();
    }
    let (mut leapt, leapt_wakes) = sleeper(1_000);
    leapt.step().unwrap(); // the host starts and arms its first timer
    assert_eq!(leapt.idle_steps(), None, "nothing is in flight");
    for steps in [9, 10, 5] {
        let Leap { sound, .. } = leapt.leap(steps).unwrap();
        assert!(sound, "a leap of {steps} ends at the timer or before it");
    }
    assert_eq!(leapt.elapsed(), stepped.elapsed());
    assert_eq!(*leapt_wakes.borrow(), *stepped_wakes.borrow());
    assert_eq!(leapt_wakes.borrow().len(), 2);
}

/// Patch "checked leaps": a timer the caller did not know about, inside the leap, makes it
/// unsound (the caller then replays with single steps).
#[test]
fn a_leap_over_an_unknown_timer_is_unsound() {
    let (mut sim, _) = sleeper(250);
    sim.step().unwrap();
    let leap = sim.leap(10).unwrap();
    assert!(!leap.sound, "the 250 ms timer fell inside the leap");
}

/// Patch "checked leaps": a message in flight bounds the idle steps, and a leap during which a
/// host sends is unsound.
#[test]
fn messages_in_flight_bound_idle_steps_and_a_send_spoils_a_leap() {
    let mut sim = Builder::new()
        .tick_duration(Duration::from_millis(100))
        .min_message_latency(Duration::from_millis(450))
        .max_message_latency(Duration::from_millis(450))
        .build();
    sim.host("server", || async {
        let listener = TcpListener::bind(("0.0.0.0", 9000)).await?;
        let (mut stream, _) = listener.accept().await?;
        let mut byte = [0];
        stream.read_exact(&mut byte).await?;
        future::pending().await
    });
    sim.client("client", async {
        let mut stream = TcpStream::connect(("server", 9000)).await?;
        tokio::time::sleep(Duration::from_millis(2_000)).await;
        stream.write_all(&[1]).await?;
        future::pending().await
    });
    // The connect's SYN is in flight for 450 ms: the steps that end before it are idle.
    sim.step().unwrap();
    assert_eq!(sim.idle_steps(), Some(4));
    // Once it is delivered and answered, nothing is in flight until the write.
    while sim.idle_steps().is_some() {
        sim.step().unwrap();
    }
    let leap = sim.leap(30).unwrap();
    assert!(!leap.sound, "the client woke and sent inside the leap");
}

/// Patch "tasks outside the LocalSet": tasks spawned with `tokio::spawn` are counted, because
/// tokio orders them by counters that idle time moves.
#[test]
fn tasks_spawned_outside_the_local_set_are_counted() {
    let mut sim = Builder::new().build();
    sim.host("host", || async {
        tokio::spawn(future::pending::<()>());
        tokio::spawn(future::pending::<()>());
        tokio::task::spawn_local(future::pending::<()>());
        future::pending().await
    });
    sim.step().unwrap();
    assert_eq!(sim.spawned_tasks(), 2);
}
