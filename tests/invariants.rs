//! The invariants catch a deliberately broken service, and stay quiet on a correct one.

use dpsim::check::Invariant;
use dpsim::protocol::Operation;
use dpsim::scenario::{Scenario, load_file};
use dpsim::trace::CallOutcome;
use dpsim::{Report, Simulation, Trace};

fn run(scenario: &Scenario) -> Report {
    Simulation::new(scenario.clone()).run().unwrap()
}

fn trace(scenario: &Scenario) -> Trace {
    Simulation::new(scenario.clone()).run_traced(None).unwrap().1
}

fn delayed_report() -> Scenario {
    load_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/progress-report-delayed-past-15-minutes.json"
    )))
    .unwrap()
}

#[test]
fn a_correct_service_breaks_no_invariant() {
    let report = run(&delayed_report());
    assert!(report.violations.is_empty(), "{}", report.violations_text());
}

#[test]
fn a_service_that_revives_late_leases_is_caught_with_the_transitions_that_led_to_it() {
    let scenario = delayed_report().with(["service.bug=extend_lease_on_late_report"]).unwrap();
    let report = run(&scenario);
    // The history checker, judging only the calls and answers at the edge, catches it too.
    let history =
        report.violations.iter().find(|v| v.invariant == Invariant::History).expect("the history checker catches it");
    assert!(history.message.contains("its progress deadline passed"), "{}", history.message);
    assert_eq!(history.runner.as_deref(), Some("runner-a"));
    let first =
        report.violations.iter().find(|v| v.invariant == Invariant::StaleNoChange).expect("the broken rule is caught");
    assert_eq!(first.task.as_deref(), Some("Copy@1"));
    assert_eq!(first.runner.as_deref(), Some("runner-a"));
    let trail: Vec<&str> = first.trail.iter().map(|l| l.what.name()).collect();
    assert!(trail.contains(&"expired") && trail.last() == Some(&"renewed"), "{trail:?}");
    assert!(!report.passed());
}

#[test]
fn a_service_that_ignores_try_cancel_is_caught_by_the_history_checker_alone() {
    let scenario = load_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/try-cancel-while-running.json"
    )))
    .unwrap();
    assert!(run(&scenario).violations.is_empty(), "the correct service breaks nothing");
    let scenario = scenario.with(["service.bug=ignore_try_cancel"]).unwrap();
    let report = run(&scenario);
    // The service writes no "canceled" event, so the journal-based cancel_learned has nothing
    // to check; the history checker holds the answers against the answered TRY_CANCEL.
    assert!(report.violations.iter().all(|v| v.invariant != Invariant::CancelLearned));
    let history = report.violations.iter().find(|v| v.invariant == Invariant::History).expect("caught from the edge");
    assert!(history.message.contains("TRY_CANCEL was answered"), "{}", history.message);
}

#[test]
fn a_fault_that_hits_another_runner_than_it_names_is_caught() {
    // Two runners on one machine; the fault names runner-b's SetTaskStatus.
    let scenario = load_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/duplicate-status-on-shared-machine.json"
    )))
    .unwrap();
    let mut out = trace(&scenario);
    assert!(Report::new("test", &scenario, &out).violations.is_empty(), "the harness hits the named runner");
    // A harness that applied the fault to the other runner on the shared machine: the edge's
    // record says whose call it hit, and the check holds it against the name.
    let hit = out
        .observations
        .iter_mut()
        .find(|o| matches!(o.kind, dpsim::trace::ObservationKind::MessageFault { .. }))
        .expect("the fault hit a call");
    hit.runner = Some("runner-a".into());
    let report = Report::new("test", &scenario, &out);
    let v = report.violations.iter().find(|v| v.invariant == Invariant::FaultTarget).expect("caught");
    assert!(v.message.contains("naming runner-b") && v.message.contains("from runner-a"), "{}", v.message);
}

/// Two copies of a pipeline activated in the same second: their instances have the same id
/// (`@Copy_2026-01-01T00:00:00`), as instance ids are unique only within a pipeline.
fn twin_pipelines() -> Scenario {
    dpsim::scenario::parse(
        r#"{"description": "two pipelines whose instances share an id", "seed": 1, "duration": "30m",
            "pipelines": [{"name": "p", "copies": 2, "definition": {"objects": [
                {"id": "Default", "name": "Default", "scheduleType": "ondemand", "workerGroup": "wg"},
                {"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "command": "copy.sh", "myWorkTime": "10 minutes"}]}}],
            "runners": [{"name": "worker", "count": 2, "worker_group": "wg"}]}"#,
    )
    .unwrap()
}

#[test]
fn instances_of_two_pipelines_that_share_an_id_are_two_tasks() {
    let scenario = twin_pipelines();
    let mut out = trace(&scenario);
    let ids: Vec<&str> = out.instances.iter().map(|i| i.instance_id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1], "the case needs instance ids that coincide");
    let report = Report::new("test", &scenario, &out);
    assert!(report.violations.is_empty(), "{}", report.violations_text());
    // Both work at once, each on its own pipeline's instance, under its own label.
    let log = report.log_text();
    assert!(log.contains("Copy[1]@1") && log.contains("Copy[2]@1"), "{log}");

    // Both leases moved onto one pipeline's instance: now one task has two owners.
    let first = out.instances[0].pipeline_id.clone();
    for e in out.journal.iter_mut().filter(|e| matches!(e.kind, dpsim::trace::EventKind::Assigned { .. })) {
        e.pipeline_id = Some(first.as_str().into());
    }
    let report = Report::new("test", &scenario, &out);
    let v = report.violations.iter().find(|v| v.invariant == Invariant::SingleOwner).expect("caught");
    assert!(v.message.contains("while t"), "{}", v.message);
}

#[test]
fn periods_of_two_pipelines_on_one_schedule_are_named_by_their_pipelines() {
    let scenario = dpsim::scenario::parse(
        r#"{"description": "two copies of an hourly pipeline", "seed": 1, "duration": "90m",
            "pipelines": [{"name": "hourly", "copies": 2, "definition": {"objects": [
                {"id": "Default", "name": "Default", "scheduleType": "cron", "workerGroup": "wg", "schedule": {"ref": "Hourly"}},
                {"id": "Hourly", "name": "Hourly", "type": "Schedule", "period": "1 hours", "startAt": "FIRST_ACTIVATION_DATE_TIME"},
                {"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "command": "copy.sh", "myWorkTime": "10 minutes"}]}}],
            "runners": [{"name": "worker", "count": 2, "worker_group": "wg"}]}"#,
    )
    .unwrap();
    let report = run(&scenario);
    assert!(report.violations.is_empty(), "{}", report.violations_text());
    let log = report.log_text();
    for label in
        ["hourly-1/Copy[2026-01-01T00:00]@1", "hourly-2/Copy[2026-01-01T00:00]@1", "hourly-2/Copy[2026-01-01T01:00]@1"]
    {
        assert!(log.contains(label), "{label} missing from\n{log}");
    }
}

#[test]
fn a_forged_task_id_names_no_lease() {
    // A client (under `serve`, any client) reports on `<seq>.forged` while lease <seq> is live;
    // the service rightly answers TaskNotFoundException. That says nothing about lease <seq>.
    let scenario = delayed_report();
    let mut out = trace(&scenario);
    let live = out
        .calls
        .iter()
        .find(|c| matches!(c.outcome, dpsim::trace::CallOutcome::Report { canceled: false }))
        .expect("an accepted report")
        .clone();
    // dpsim's taskIds are `<lease number>.<mac>`.
    let task_id = live.task_id.as_deref().unwrap();
    let seq = task_id.split_once('.').expect("a dpsim taskId").0;
    let mut forged = live.clone();
    forged.task_id = Some(format!("{seq}.forged"));
    forged.outcome = dpsim::trace::CallOutcome::Error { code: dpsim::protocol::ErrorCode::TaskNotFoundException };
    let at = out.calls.iter().position(|c| c == &live).unwrap();
    out.calls.insert(at + 1, forged);
    let report = Report::new("test", &scenario, &out);
    assert!(report.violations.is_empty(), "{}", report.violations_text());
}

/// Every check proves itself: each invariant has a broken mode (a service bug, a misbehaving
/// runner, or the harness's own broken step) that it catches on a shipped scenario, and this
/// fails if one stops catching it, or if an invariant has no broken mode at all.
#[test]
fn every_invariant_catches_its_broken_mode() {
    // (invariant, scenario, what is broken, as `key.path=value` assignments).
    let modes: &[(Invariant, &str, &[&str])] = &[
        (Invariant::SingleOwner, "ack-at-deadline", &["service.bug=hand_out_leased"]),
        (Invariant::NoEarlyHandout, "ack-request-lost", &["service.bug=early_expiry"]),
        (Invariant::NoStarvation, "ack-at-deadline", &["service.bug=skip_held_polls"]),
        (Invariant::NoLostTask, "ack-request-lost", &["service.bug=lose_ack_expired"]),
        (Invariant::CancelLearned, "try-cancel-while-running", &["service.bug=renew_canceled"]),
        (Invariant::StaleNoChange, "ack-at-deadline", &["service.bug=extend_lease_on_late_report"]),
        (Invariant::AttemptsBound, "retries-exhausted", &["service.bug=extra_retry"]),
        (Invariant::ZombieBound, "try-cancel-while-running", &["runners.0.behaviour.ignore_canceled=true"]),
        (Invariant::History, "try-cancel-while-running", &["service.bug=ignore_try_cancel"]),
        (Invariant::Liveness, "ack-at-deadline", &["service.bug=skip_held_polls"]),
        (
            Invariant::FaultTarget,
            "duplicate-status-on-shared-machine",
            &["harness.bug=fault_on_first_runner_of_machine"],
        ),
        (Invariant::OneInstancePerPeriod, "hourly-backfill-and-outage", &["service.bug=duplicate_period"]),
        (Invariant::FinishesOnce, "ack-at-deadline", &["service.bug=requeue_finished"]),
    ];
    for invariant in Invariant::ALL {
        let Some((_, file, broken)) = modes.iter().find(|(i, _, _)| *i == invariant) else {
            panic!("{invariant} has no broken mode that proves it catches anything");
        };
        let path = format!("{}/scenarios/{file}.json", env!("CARGO_MANIFEST_DIR"));
        let scenario = load_file(std::path::Path::new(&path)).unwrap();
        let correct = run(&scenario.with(["expect_violations=[]"]).unwrap());
        assert!(
            correct.violations.iter().all(|v| v.invariant != invariant),
            "{invariant} breaks on the correct {file}: {}",
            correct.violations_text()
        );
        let report = run(&scenario.with(broken.iter().chain(&["expect_violations=[]"])).unwrap());
        assert!(
            report.violations.iter().any(|v| v.invariant == invariant),
            "{invariant} does not catch {broken:?} on {file}; it found: {}",
            report.violations.iter().map(|v| v.invariant.name()).collect::<Vec<_>>().join(", ")
        );
    }
}

/// The happy path (with `extra` fields on its activity), its `nth` progress report moved to
/// `offset_ms` from `deadline_ms` after the handout and answered `canceled` as told, judged as
/// a history recorded `tolerance_ms` apart from the service's clock: the history verdicts.
fn report_moved(
    extra: &str,
    nth: usize,
    deadline_ms: u64,
    offset_ms: i64,
    canceled: bool,
    tolerance_ms: u64,
) -> Vec<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/happy-path.json")).unwrap();
    let text = text.replace(r#""myWorkTime": "12 minutes""#, &format!(r#""myWorkTime": "12 minutes"{extra}"#));
    let scenario = dpsim::scenario::parse(&text).unwrap().with(["service.ack_timeout=2m"]).unwrap();
    let mut out = trace(&scenario);
    let handed = out.calls.iter().find(|c| matches!(c.outcome, CallOutcome::Handout { .. })).unwrap().answered_at;
    let report = out.calls.iter_mut().filter(|c| c.operation == Operation::ReportTaskProgress).nth(nth).unwrap();
    let at = (handed + deadline_ms).checked_add_signed(offset_ms).unwrap();
    (report.at, report.served_at, report.answered_at) = (at, Some(at), at);
    report.outcome = CallOutcome::Report { canceled };
    out.tolerance_ms = tolerance_ms;
    let report = Report::new("test", &scenario, &out);
    report.violations.iter().filter(|v| v.invariant == Invariant::History).map(|v| v.message.clone()).collect()
}

fn ack_moved_to_deadline(offset_ms: i64, canceled: bool, tolerance_ms: u64) -> Vec<String> {
    report_moved("", 0, 120_000, offset_ms, canceled, tolerance_ms)
}

#[test]
fn a_history_from_the_outside_is_judged_within_its_tolerance_of_a_deadline() {
    // Accepted 300 ms after the deadline on the recorder's clock: late on an exact clock,
    // possibly in time on the service's when the clocks may be a second apart.
    let late = ack_moved_to_deadline(300, false, 0);
    assert!(late.iter().any(|m| m.contains("canceled=false") && m.contains("ack deadline passed")), "{late:?}");
    assert_eq!(ack_moved_to_deadline(300, false, 1_000), Vec::<String>::new());
    assert!(!ack_moved_to_deadline(1_300, false, 1_000).is_empty(), "beyond the tolerance it is late");
    // Refused 300 ms before the deadline: the service's clock may have passed it already.
    let live = |m: &String| m.contains("canceled=true") && m.contains("the lease was live");
    assert!(ack_moved_to_deadline(-300, true, 0).iter().any(live));
    assert!(!ack_moved_to_deadline(-300, true, 1_000).iter().any(live));
    assert!(ack_moved_to_deadline(-1_300, true, 1_000).iter().any(live), "beyond the tolerance it was live");
}

#[test]
fn an_attempt_timeout_is_judged_within_the_tolerance_too() {
    // attemptTimeout 4 minutes from the handout; the report after it is moved to its edge.
    let timed = |offset_ms, canceled, tolerance_ms| {
        report_moved(r#", "attemptTimeout": "4 minutes""#, 1, 240_000, offset_ms, canceled, tolerance_ms)
    };
    let late = timed(300, false, 0);
    assert!(late.iter().any(|m| m.contains("canceled=false") && m.contains("attemptTimeout")), "{late:?}");
    assert!(!timed(300, false, 1_000).iter().any(|m| m.contains("canceled=false")), "{:?}", timed(300, false, 1_000));
    let live = |m: &String| m.contains("canceled=true") && m.contains("the lease was live");
    assert!(timed(-300, true, 0).iter().any(live), "{:?}", timed(-300, true, 0));
    assert!(!timed(-300, true, 1_000).iter().any(live), "{:?}", timed(-300, true, 1_000));
}
