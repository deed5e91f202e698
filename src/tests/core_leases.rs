//! The service core's lease rules, each tested at its exact boundary: deadline − 1 ms, the
//! deadline itself, and deadline + 1 ms. No I/O: time is handed in.

use crate::journal::{Deadline, EventKind};
use crate::protocol::{ErrorCode, Operation, Request, Response, ServiceError};
use crate::service::{Effect, Outcome, Service, Settings};
use crate::time::{MINUTE_MS, SECOND_MS};
use serde_json::{Value, json};

const T0: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

struct Sim {
    svc: Service,
    pipeline: String,
}

fn call(svc: &mut Service, at: u64, op: Operation, body: Value) -> Result<Outcome, ServiceError> {
    let request = Request::parse(op, body.to_string().as_bytes())?;
    svc.handle(at, request)
}

fn ok(svc: &mut Service, at: u64, op: Operation, body: Value) -> Value {
    match call(svc, at, op, body) {
        Ok(Outcome::Done(r)) => serde_json::to_value(r).unwrap(),
        other => panic!("{op} at {at}: {other:?}"),
    }
}

fn err(svc: &mut Service, at: u64, op: Operation, body: Value) -> ErrorCode {
    match call(svc, at, op, body) {
        Err(e) => e.code,
        other => panic!("{op} at {at} should fail: {other:?}"),
    }
}

/// A pipeline with one activity `Copy` (extra fields merged in), activated at T0.
fn sim_with(settings: Settings, extra: &[(&str, &str)]) -> Sim {
    let mut svc = Service::new(settings, T0);
    let created = ok(&mut svc, T0, Operation::CreatePipeline, json!({"name": "p", "uniqueId": "u"}));
    let pipeline = created["pipelineId"].as_str().unwrap().to_string();
    let mut fields = vec![
        json!({"key": "type", "stringValue": "ShellCommandActivity"}),
        json!({"key": "workerGroup", "stringValue": "wg"}),
    ];
    fields.extend(extra.iter().map(|(k, v)| json!({"key": k, "stringValue": v})));
    let put = ok(
        &mut svc,
        T0,
        Operation::PutPipelineDefinition,
        json!({"pipelineId": pipeline, "pipelineObjects": [{"id": "Copy", "name": "Copy", "fields": fields}]}),
    );
    assert_eq!(put["errored"], false, "{put}");
    ok(&mut svc, T0, Operation::ActivatePipeline, json!({"pipelineId": pipeline}));
    Sim { svc, pipeline }
}

fn sim(extra: &[(&str, &str)]) -> Sim {
    sim_with(Settings { poll_hold_ms: 0, ..Settings::default() }, extra)
}

impl Sim {
    fn poll(&mut self, at: u64, host: &str) -> Option<(String, String)> {
        let out = ok(&mut self.svc, at, Operation::PollForTask, json!({"workerGroup": "wg", "hostname": host}));
        let task = out.get("taskObject")?;
        Some((task["taskId"].as_str()?.to_string(), task["attemptId"].as_str()?.to_string()))
    }
    fn report(&mut self, at: u64, task: &str) -> bool {
        let out = ok(&mut self.svc, at, Operation::ReportTaskProgress, json!({"taskId": task}));
        out["canceled"].as_bool().unwrap()
    }
    fn set_status(&mut self, at: u64, task: &str, status: &str) -> Result<Outcome, ServiceError> {
        call(&mut self.svc, at, Operation::SetTaskStatus, json!({"taskId": task, "taskStatus": status}))
    }
    fn field(&mut self, at: u64, object: &str, key: &str) -> Option<String> {
        let out = ok(
            &mut self.svc,
            at,
            Operation::DescribeObjects,
            json!({"pipelineId": self.pipeline, "objectIds": [object]}),
        );
        out["pipelineObjects"][0]["fields"]
            .as_array()?
            .iter()
            .find(|f| f["key"] == key)
            .and_then(|f| f["stringValue"].as_str().map(String::from))
    }
    fn instance(&mut self) -> String {
        let out =
            ok(&mut self.svc, T0, Operation::QueryObjects, json!({"pipelineId": self.pipeline, "sphere": "INSTANCE"}));
        out["ids"][0].as_str().unwrap().to_string()
    }
    fn status(&mut self, at: u64, object: &str) -> String {
        self.field(at, object, "@status").unwrap()
    }
}

const ACK: u64 = 2 * MINUTE_MS;
const PROGRESS: u64 = 15 * MINUTE_MS;

#[test]
fn ack_one_ms_before_the_deadline_keeps_the_task() {
    let mut s = sim(&[]);
    let (t1, _) = s.poll(T0, "a").unwrap();
    assert!(!s.report(T0 + ACK - 1, &t1));
    assert_eq!(s.poll(T0 + ACK + 1, "b"), None, "acknowledged task must not be handed out");
}

#[test]
fn ack_at_or_after_the_deadline_is_late_and_the_task_goes_to_a_later_poll() {
    for late in [T0 + ACK, T0 + ACK + 1] {
        let mut s = sim(&[]);
        let (t1, attempt) = s.poll(T0, "a").unwrap();
        assert!(s.report(late, &t1), "report at +{} ms must answer canceled", late - T0);
        let (t2, attempt2) = s.poll(late, "b").unwrap();
        assert_ne!(t1, t2, "a new taskId for the new lease");
        assert_eq!(attempt, attempt2, "the same attempt is handed out again");
        assert_eq!(s.field(late, &attempt, "@attemptNumber").as_deref(), Some("1"));
    }
}

#[test]
fn an_expired_lease_is_handed_out_only_by_a_later_poll() {
    let mut s = sim(&[]);
    let (_t1, attempt) = s.poll(T0, "a").unwrap();
    let instance = s.instance();
    s.svc.advance(T0 + 10 * MINUTE_MS);
    assert_eq!(s.status(T0 + 10 * MINUTE_MS, &instance), "WAITING_FOR_RUNNER");
    assert_eq!(s.status(T0 + 10 * MINUTE_MS, &attempt), "WAITING_FOR_RUNNER");
    let journal = s.svc.take_journal();
    let expired = journal.iter().find(|e| matches!(e.kind, EventKind::Expired { deadline: Deadline::Ack })).unwrap();
    assert_eq!(expired.at, T0 + ACK, "the lease ends at its deadline, not when someone looks");
}

#[test]
fn progress_deadline_boundaries() {
    let mut s = sim(&[]);
    let (t1, attempt) = s.poll(T0, "a").unwrap();
    let acked = T0 + SECOND_MS;
    assert!(!s.report(acked, &t1));
    assert!(!s.report(acked + PROGRESS - 1, &t1), "renewed 1 ms before the deadline");
    let renewed = acked + PROGRESS - 1;
    assert!(s.report(renewed + PROGRESS, &t1), "a report exactly at the deadline is late");
    assert_eq!(s.status(renewed + PROGRESS, &attempt), "TIMEDOUT");
    assert_eq!(s.field(renewed + PROGRESS, &attempt, "errorId").as_deref(), Some("Service_ReportProgressTimeout"));
}

#[test]
fn report_progress_timeout_overrides_fifteen_minutes() {
    let mut s = sim(&[("reportProgressTimeout", "30 minutes")]);
    let (t1, _) = s.poll(T0, "a").unwrap();
    assert!(!s.report(T0, &t1));
    assert!(!s.report(T0 + 30 * MINUTE_MS - 1, &t1));
    let mut s = sim(&[("reportProgressTimeout", "30 minutes")]);
    let (t1, _) = s.poll(T0, "a").unwrap();
    assert!(!s.report(T0, &t1));
    assert!(s.report(T0 + 30 * MINUTE_MS, &t1));
    let mut s = sim(&[("reportProgressTimeout", "5 minutes")]);
    let (t1, _) = s.poll(T0, "a").unwrap();
    assert!(!s.report(T0, &t1));
    assert!(s.report(T0 + 5 * MINUTE_MS + 1, &t1));
}

#[test]
fn attempt_timeout_boundaries_count_from_the_first_handout() {
    let limit = 20 * MINUTE_MS;
    for (offset, canceled) in [(limit - 1, false), (limit, true), (limit + 1, true)] {
        let mut s = sim(&[("attemptTimeout", "20 minutes")]);
        let (t1, attempt) = s.poll(T0, "a").unwrap();
        for k in 0..4 {
            assert!(!s.report(T0 + k * 5 * MINUTE_MS, &t1), "regular reports keep the lease");
        }
        assert_eq!(s.report(T0 + offset, &t1), canceled, "report at attemptTimeout {offset:+} ms");
        if canceled {
            assert_eq!(s.status(T0 + offset, &attempt), "TIMEDOUT");
            assert_eq!(s.field(T0 + offset, &attempt, "errorId").as_deref(), Some("Service_AttemptTimeout"));
        }
    }
}

#[test]
fn failures_retry_after_retry_delay_until_maximum_retries_is_spent() {
    let delay = 5 * MINUTE_MS;
    let mut s = sim(&[("maximumRetries", "1"), ("retryDelay", "5 minutes")]);
    let instance = s.instance();
    let (t1, a1) = s.poll(T0, "a").unwrap();
    s.set_status(T0 + 1, &t1, "FAILED").unwrap();
    assert_eq!(s.status(T0 + 1, &a1), "FAILED");
    assert_eq!(s.poll(T0 + 1 + delay - 1, "a"), None, "not before retryDelay");
    let (t2, a2) = s.poll(T0 + 1 + delay, "a").unwrap();
    assert_ne!(a1, a2);
    assert!(a2.ends_with("_Attempt=2"));
    s.set_status(T0 + 2 + delay, &t2, "FAILED").unwrap();
    assert_eq!(s.status(T0 + 2 + delay, &instance), "FAILED");
    assert_eq!(s.poll(T0 + 100 * MINUTE_MS, "a"), None, "no attempt beyond maximumRetries + 1");
    assert_eq!(s.field(T0 + 100 * MINUTE_MS, &instance, "@attemptCount").as_deref(), Some("2"));
}

#[test]
fn a_missed_ack_is_not_counted_as_a_retry() {
    let mut s = sim(&[("maximumRetries", "0")]);
    let instance = s.instance();
    for k in 0..3 {
        let at = T0 + k * (ACK + 1);
        assert!(s.poll(at, "a").is_some(), "handout {k}");
    }
    assert_eq!(s.status(T0 + 3 * (ACK + 1), &instance), "WAITING_FOR_RUNNER");
}

#[test]
fn try_cancel_ends_the_lease_and_the_owner_learns_at_its_next_report() {
    let mut s = sim(&[]);
    let instance = s.instance();
    let (t1, attempt) = s.poll(T0, "a").unwrap();
    assert!(!s.report(T0 + 1, &t1));
    let pipeline = s.pipeline.clone();
    ok(
        &mut s.svc,
        T0 + 2,
        Operation::SetStatus,
        json!({"pipelineId": pipeline, "objectIds": [instance], "status": "TRY_CANCEL"}),
    );
    assert!(s.report(T0 + 3, &t1));
    assert_eq!(s.set_status(T0 + 4, &t1, "FINISHED").unwrap_err().code, ErrorCode::TaskNotFoundException);
    assert_eq!(s.status(T0 + 5, &instance), "CANCELED");
    assert_eq!(s.status(T0 + 5, &attempt), "CANCELED");
    assert_eq!(s.svc.next_deadline(), None, "no deadline outlives a canceled lease");
}

#[test]
fn deactivate_cancels_running_work_by_default() {
    let mut s = sim(&[]);
    let (t1, _) = s.poll(T0, "a").unwrap();
    let pipeline = s.pipeline.clone();
    ok(&mut s.svc, T0 + 1, Operation::DeactivatePipeline, json!({"pipelineId": pipeline}));
    assert!(s.report(T0 + 2, &t1));
}

#[test]
fn deactivate_without_cancel_active_lets_running_work_finish_and_holds_the_rest() {
    let mut s = sim(&[]);
    let (t1, _) = s.poll(T0, "a").unwrap();
    let pipeline = s.pipeline.clone();
    ok(&mut s.svc, T0 + 1, Operation::DeactivatePipeline, json!({"pipelineId": pipeline, "cancelActive": false}));
    assert!(!s.report(T0 + 2, &t1));
    ok(&mut s.svc, T0 + 3, Operation::SetTaskStatus, json!({"taskId": t1, "taskStatus": "FAILED"}));
    let after_delay = T0 + 3 + 10 * MINUTE_MS;
    assert_eq!(s.poll(after_delay, "a"), None, "an inactive pipeline hands nothing out");
    ok(&mut s.svc, after_delay, Operation::ActivatePipeline, json!({"pipelineId": pipeline}));
    let (_, a2) = s.poll(after_delay, "a").unwrap();
    assert!(a2.ends_with("_Attempt=2"), "reactivation resumes the waiting retry");
}

#[test]
fn delete_makes_task_calls_answer_pipeline_deleted() {
    let mut s = sim(&[]);
    let (t1, _) = s.poll(T0, "a").unwrap();
    let pipeline = s.pipeline.clone();
    ok(&mut s.svc, T0 + 1, Operation::DeletePipeline, json!({"pipelineId": pipeline}));
    assert_eq!(
        err(&mut s.svc, T0 + 2, Operation::ReportTaskProgress, json!({"taskId": t1})),
        ErrorCode::PipelineDeletedException
    );
    assert_eq!(s.set_status(T0 + 2, &t1, "FINISHED").unwrap_err().code, ErrorCode::PipelineDeletedException);
    assert_eq!(
        err(&mut s.svc, T0 + 2, Operation::DescribePipelines, json!({"pipelineIds": [pipeline]})),
        ErrorCode::PipelineDeletedException
    );
    assert_eq!(s.poll(T0 + 3, "b"), None);
}

#[test]
fn stale_and_forged_task_ids_change_nothing() {
    let mut s = sim(&[]);
    let (t1, _) = s.poll(T0, "a").unwrap();
    s.svc.advance(T0 + ACK);
    let (t2, _) = s.poll(T0 + ACK, "b").unwrap();
    let before = s.svc.clone();
    assert!(s.report(T0 + ACK + 1, &t1), "stale report answers canceled");
    assert_eq!(s.set_status(T0 + ACK + 1, &t1, "FINISHED").unwrap_err().code, ErrorCode::TaskNotFoundException);
    let forged = format!("{}0", &t2[..t2.len() - 1]);
    let forged = if forged == t2 { format!("{}1", &t2[..t2.len() - 1]) } else { forged };
    assert_eq!(
        err(&mut s.svc, T0 + ACK + 1, Operation::ReportTaskProgress, json!({"taskId": forged})),
        ErrorCode::TaskNotFoundException
    );
    assert_eq!(
        s.set_status(T0 + ACK + 1, "999.00000000000000000000000000000000", "FINISHED").unwrap_err().code,
        ErrorCode::TaskNotFoundException
    );
    let mut expected = before.clone();
    expected.advance(T0 + ACK + 1);
    assert!(s.svc.same_state(&expected), "rejected calls must not change state");
    let kinds: Vec<&str> = s.svc.take_journal().iter().map(|e| e.kind.name()).collect();
    assert!(kinds.contains(&"stale call") && kinds.contains(&"forged call"), "{kinds:?}");
    assert!(!s.report(T0 + ACK + 2, &t2), "the live owner is unaffected");
}

#[test]
fn a_second_set_task_status_is_task_not_found() {
    let mut s = sim(&[]);
    let instance = s.instance();
    let (t1, _) = s.poll(T0, "a").unwrap();
    assert!(matches!(s.set_status(T0 + 1, &t1, "FINISHED"), Ok(Outcome::Done(Response::Empty(_)))));
    assert_eq!(s.set_status(T0 + 2, &t1, "FINISHED").unwrap_err().code, ErrorCode::TaskNotFoundException);
    assert_eq!(s.set_status(T0 + 2, &t1, "FAILED").unwrap_err().code, ErrorCode::TaskNotFoundException);
    assert_eq!(s.status(T0 + 3, &instance), "FINISHED");
}

#[test]
fn a_held_poll_is_answered_when_a_task_arrives_and_its_ack_clock_starts_then() {
    let settings = Settings { poll_hold_ms: 90 * SECOND_MS, ..Settings::default() };
    let mut svc = Service::new(settings, T0);
    let held = call(&mut svc, T0, Operation::PollForTask, json!({"workerGroup": "wg", "hostname": "a"})).unwrap();
    let Outcome::PollHeld(poll) = held else { panic!("{held:?}") };
    let created = ok(&mut svc, T0, Operation::CreatePipeline, json!({"name": "p", "uniqueId": "u"}));
    let pipeline = created["pipelineId"].as_str().unwrap();
    ok(
        &mut svc,
        T0,
        Operation::PutPipelineDefinition,
        json!({"pipelineId": pipeline, "pipelineObjects": [
        {"id": "Copy", "name": "Copy", "fields": [{"key": "type", "stringValue": "ShellCommandActivity"}, {"key": "workerGroup", "stringValue": "wg"}]}]}),
    );
    assert!(svc.take_effects().is_empty());
    let answered_at = T0 + 30 * SECOND_MS;
    ok(&mut svc, answered_at, Operation::ActivatePipeline, json!({"pipelineId": pipeline}));
    let effects = svc.take_effects();
    let [Effect::PollAnswered { poll: p, output, .. }] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!(*p, poll);
    let task = output.task_object.clone().expect("the held poll gets the task");
    assert_eq!(svc.next_deadline(), Some(answered_at + ACK), "ack deadline runs from the answer");
    let late =
        call(&mut svc, answered_at + ACK, Operation::ReportTaskProgress, json!({"taskId": task.task_id})).unwrap();
    assert_eq!(
        serde_json::to_value(match late {
            Outcome::Done(r) => r,
            o => panic!("{o:?}"),
        })
        .unwrap(),
        json!({"canceled": true})
    );
}

#[test]
fn a_held_poll_answers_empty_exactly_at_its_hold_time() {
    let hold = 90 * SECOND_MS;
    let mut svc = Service::new(Settings { poll_hold_ms: hold, ..Settings::default() }, T0);
    let Outcome::PollHeld(poll) = call(&mut svc, T0, Operation::PollForTask, json!({"workerGroup": "wg"})).unwrap()
    else {
        panic!()
    };
    svc.advance(T0 + hold - 1);
    assert!(svc.take_effects().is_empty());
    svc.advance(T0 + hold);
    assert_eq!(svc.take_effects(), [Effect::PollAnswered { poll, output: Default::default(), at: T0 + hold }]);
}

#[test]
fn an_expired_task_goes_to_a_held_poll_at_the_deadline_itself() {
    let mut s = sim_with(Settings { poll_hold_ms: 90 * SECOND_MS, ..Settings::default() }, &[]);
    let (_t1, attempt) = s.poll(T0, "a").unwrap();
    let Outcome::PollHeld(_) =
        call(&mut s.svc, T0 + ACK - SECOND_MS, Operation::PollForTask, json!({"workerGroup": "wg", "hostname": "b"}))
            .unwrap()
    else {
        panic!()
    };
    s.svc.take_journal();
    s.svc.advance(T0 + ACK + 5 * SECOND_MS);
    let effects = s.svc.take_effects();
    let [Effect::PollAnswered { output, .. }] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!(output.task_object.as_ref().unwrap().attempt_id, attempt);
    let journal = s.svc.take_journal();
    let assigned = journal.iter().find(|e| matches!(e.kind, EventKind::Assigned { reassigned: true, .. })).unwrap();
    assert_eq!((assigned.at, assigned.runner.as_deref()), (T0 + ACK, Some("b")));
}

#[test]
fn oldest_ready_task_first_and_worker_groups_match_exactly() {
    let mut s = sim(&[]);
    let pipeline = s.pipeline.clone();
    ok(&mut s.svc, T0 + SECOND_MS, Operation::ActivatePipeline, json!({"pipelineId": pipeline}));
    let (_, first) = s.poll(T0 + 2 * SECOND_MS, "a").unwrap();
    assert!(first.starts_with("@Copy_2026-01-01T00:00:00_Attempt"), "{first}");
    let out = ok(&mut s.svc, T0 + 3 * SECOND_MS, Operation::PollForTask, json!({"workerGroup": "WG"}));
    assert_eq!(out, json!({}), "worker groups are case-sensitive");
}

#[test]
fn dependencies_wait_for_upstream_and_cascade_on_failure() {
    let mut svc = Service::new(Settings { poll_hold_ms: 0, ..Settings::default() }, T0);
    let created = ok(&mut svc, T0, Operation::CreatePipeline, json!({"name": "p", "uniqueId": "u"}));
    let pipeline = created["pipelineId"].as_str().unwrap().to_string();
    let activity = |id: &str, deps: &[&str]| {
        let mut fields = vec![json!({"key": "type", "stringValue": "ShellCommandActivity"})];
        fields.extend(deps.iter().map(|d| json!({"key": "dependsOn", "refValue": d})));
        json!({"id": id, "name": id, "fields": fields})
    };
    let objects = json!([
        {"id": "Default", "name": "Default", "fields": [{"key": "workerGroup", "stringValue": "wg"}, {"key": "maximumRetries", "stringValue": "0"}]},
        activity("Extract", &[]), activity("Load", &["Extract"]), activity("Report", &["Load"])
    ]);
    ok(&mut svc, T0, Operation::PutPipelineDefinition, json!({"pipelineId": pipeline, "pipelineObjects": objects}));
    ok(&mut svc, T0, Operation::ActivatePipeline, json!({"pipelineId": pipeline}));
    let poll = |svc: &mut Service, at| ok(svc, at, Operation::PollForTask, json!({"workerGroup": "wg"}));
    let first = poll(&mut svc, T0);
    assert!(first["taskObject"]["attemptId"].as_str().unwrap().starts_with("@Extract_"));
    assert_eq!(poll(&mut svc, T0), json!({}), "Load waits for Extract");
    let t = first["taskObject"]["taskId"].clone();
    ok(&mut svc, T0 + 1, Operation::SetTaskStatus, json!({"taskId": t, "taskStatus": "FINISHED"}));
    let load = poll(&mut svc, T0 + 2);
    assert!(load["taskObject"]["attemptId"].as_str().unwrap().starts_with("@Load_"));
    let t = load["taskObject"]["taskId"].clone();
    ok(
        &mut svc,
        T0 + 3,
        Operation::SetTaskStatus,
        json!({"taskId": t, "taskStatus": "FAILED", "errorId": "E1", "errorMessage": "boom"}),
    );
    let report = ok(
        &mut svc,
        T0 + 4,
        Operation::QueryObjects,
        json!({"pipelineId": pipeline, "sphere": "INSTANCE",
        "query": {"selectors": [{"fieldName": "@status", "operator": {"type": "EQ", "values": ["CASCADE_FAILED"]}}]}}),
    );
    assert_eq!(report["ids"].as_array().unwrap().len(), 1);
    assert!(report["ids"][0].as_str().unwrap().starts_with("@Report_"));
}

#[test]
fn pause_resume_mark_finished_and_rerun() {
    let mut s = sim(&[]);
    let pipeline = s.pipeline.clone();
    let instance = s.instance();
    let set = |s: &mut Sim, at, ids: Value, status: &str| {
        ok(&mut s.svc, at, Operation::SetStatus, json!({"pipelineId": pipeline, "objectIds": ids, "status": status}))
    };
    set(&mut s, T0, json!(["Copy"]), "PAUSE");
    assert_eq!(s.poll(T0 + 1, "a"), None, "a paused component hands nothing out");
    set(&mut s, T0 + 2, json!(["Copy"]), "RESUME");
    let (t1, _) = s.poll(T0 + 3, "a").unwrap();
    set(&mut s, T0 + 4, json!([instance.clone()]), "MARK_FINISHED");
    assert!(s.report(T0 + 5, &t1), "marking finished ends the lease");
    assert_eq!(s.status(T0 + 5, &instance), "FINISHED");
    set(&mut s, T0 + 6, json!([instance.clone()]), "RERUN");
    let (_, a) = s.poll(T0 + 7, "a").unwrap();
    assert!(a.ends_with("_Attempt=2"), "{a}");
    assert_eq!(
        err(
            &mut s.svc,
            T0 + 8,
            Operation::SetStatus,
            json!({"pipelineId": pipeline, "objectIds": ["@nope"], "status": "TRY_CANCEL"})
        ),
        ErrorCode::InvalidRequestException
    );
}

#[test]
fn progress_fields_and_runtime_fields_are_visible_on_the_attempt() {
    let mut s = sim(&[]);
    let (t1, attempt) = s.poll(T0, "runner-a").unwrap();
    ok(
        &mut s.svc,
        T0 + MINUTE_MS,
        Operation::ReportTaskProgress,
        json!({"taskId": t1, "fields": [{"key": "percentComplete", "stringValue": "50"}]}),
    );
    let at = T0 + 2 * MINUTE_MS;
    assert_eq!(s.field(at, &attempt, "percentComplete").as_deref(), Some("50"));
    assert_eq!(s.field(at, &attempt, "hostname").as_deref(), Some("runner-a"));
    assert_eq!(s.field(at, &attempt, "reportProgressTime").as_deref(), Some("2026-01-01T00:01:00"));
    assert_eq!(s.field(at, &attempt, "@actualStartTime").as_deref(), Some("2026-01-01T00:00:00"));
    assert_eq!(s.field(at, &attempt, "workerGroup").as_deref(), Some("wg"));
    ok(
        &mut s.svc,
        at,
        Operation::SetTaskStatus,
        json!({"taskId": t1, "taskStatus": "FAILED", "errorId": "Boom", "errorMessage": "disk full", "errorStackTrace": "at x"}),
    );
    assert_eq!(s.field(at, &attempt, "errorMessage").as_deref(), Some("disk full"));
    assert_eq!(s.field(at, &attempt, "attemptStatus").as_deref(), Some("FAILED"));
    assert_eq!(s.field(at, &attempt, "@actualEndTime").as_deref(), Some("2026-01-01T00:02:00"));
}

#[test]
fn create_is_idempotent_and_heartbeats_answer_terminate_on_request() {
    let mut svc = Service::new(Settings::default(), T0);
    let a = ok(&mut svc, T0, Operation::CreatePipeline, json!({"name": "p", "uniqueId": "u"}));
    let b = ok(&mut svc, T0, Operation::CreatePipeline, json!({"name": "p", "uniqueId": "u"}));
    let c = ok(&mut svc, T0, Operation::CreatePipeline, json!({"name": "p", "uniqueId": "v"}));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let hb = ok(&mut svc, T0, Operation::ReportTaskRunnerHeartbeat, json!({"taskrunnerId": "r1"}));
    assert_eq!(hb, json!({"terminate": false}));
    svc.request_terminate("r1");
    let hb = ok(&mut svc, T0, Operation::ReportTaskRunnerHeartbeat, json!({"taskrunnerId": "r1"}));
    assert_eq!(hb, json!({"terminate": true}));
}

#[test]
fn an_abandoned_poll_never_receives_a_task_and_shutdown_releases_held_polls() {
    // Held longer than the ack deadline, so the expired task is what answers them.
    let mut s = sim_with(Settings { poll_hold_ms: 5 * MINUTE_MS, ..Settings::default() }, &[]);
    let (_t1, attempt) = s.poll(T0, "a").unwrap();
    let held = |s: &mut Sim, at, host: &str| match call(
        &mut s.svc,
        at,
        Operation::PollForTask,
        json!({"workerGroup": "wg", "hostname": host}),
    )
    .unwrap()
    {
        Outcome::PollHeld(poll) => poll,
        other => panic!("{other:?}"),
    };
    let gone = held(&mut s, T0 + 1, "gone");
    let waiting = held(&mut s, T0 + 2, "waiting");
    s.svc.abandon_poll(T0 + 3, gone);
    s.svc.advance(T0 + ACK);
    let effects = s.svc.take_effects();
    let [Effect::PollAnswered { poll, output, .. }] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!((*poll, output.task_object.as_ref().map(|t| t.attempt_id.as_str())), (waiting, Some(attempt.as_str())));
    let last = held(&mut s, T0 + ACK + 1, "late");
    s.svc.release_held_polls();
    assert_eq!(
        s.svc.take_effects(),
        [Effect::PollAnswered { poll: last, output: Default::default(), at: T0 + ACK + 1 }]
    );
    assert_eq!(s.svc.next_deadline(), Some(T0 + ACK + ACK), "only the new lease's deadline is left");
}

#[test]
fn the_deliberately_broken_mode_revives_a_late_lease_and_is_off_by_default() {
    let mut s = sim(&[]);
    let (t1, _) = s.poll(T0, "a").unwrap();
    assert!(s.report(T0 + ACK, &t1), "default: a late report is answered canceled=true");
    let mut broken = sim_with(
        Settings { poll_hold_ms: 0, bug: Some(crate::service::Bug::ExtendLeaseOnLateReport), ..Settings::default() },
        &[],
    );
    let (t1, _) = broken.poll(T0, "a").unwrap();
    assert!(!broken.report(T0 + ACK, &t1), "broken: the expired lease is revived");
}

#[test]
fn a_failed_attempt_schedules_the_next_attempt_after_its_retry_delay() {
    let mut s = sim(&[("retryDelay", "3 minutes")]);
    let (t1, _) = s.poll(T0, "a").unwrap();
    s.svc.take_journal();
    assert!(matches!(s.set_status(T0 + MINUTE_MS, &t1, "FAILED"), Ok(Outcome::Done(_))));
    let journal = s.svc.take_journal();
    let retry = journal.iter().find_map(|e| match e.kind {
        EventKind::RetryScheduled { ready_at, next_attempt } => Some((ready_at, next_attempt)),
        _ => None,
    });
    assert_eq!(retry, Some((T0 + 4 * MINUTE_MS, 2)), "attempt 2, ready retryDelay after the failure");
}

#[test]
fn try_cancel_ends_the_live_lease_with_its_own_cause() {
    let mut s = sim(&[]);
    let (t1, _) = s.poll(T0, "a").unwrap();
    let instance = s.instance();
    s.svc.take_journal();
    let pipeline = s.pipeline.clone();
    ok(
        &mut s.svc,
        T0 + MINUTE_MS,
        Operation::SetStatus,
        json!({"pipelineId": pipeline, "objectIds": [instance], "status": "TRY_CANCEL"}),
    );
    let journal = s.svc.take_journal();
    let lease_end = journal.iter().find(|e| e.task.is_some() && matches!(e.kind, EventKind::Canceled { .. }));
    assert!(
        matches!(lease_end.map(|e| &e.kind), Some(EventKind::Canceled { by: crate::journal::CancelSource::TryCancel })),
        "{journal:?}"
    );
    assert!(s.report(T0 + 2 * MINUTE_MS, &t1), "the owner hears canceled=true");
}

/// The broken modes exist to prove the checks; each must break exactly its rule.
#[test]
fn the_broken_retry_modes_break_their_rules_in_the_core() {
    use crate::service::Bug;
    // One extra retry: with maximumRetries 1, a second failure still leaves the instance
    // waiting for a third attempt.
    for (bug, expected) in [(None, "FAILED"), (Some(Bug::ExtraRetry), "WAITING_FOR_RUNNER")] {
        let mut s = sim_with(Settings { poll_hold_ms: 0, bug, ..Settings::default() }, &[("maximumRetries", "1")]);
        let instance = s.instance();
        let mut at = T0;
        for _ in 0..2 {
            let (t, _) = s.poll(at, "a").unwrap();
            assert!(matches!(s.set_status(at + 1, &t, "FAILED"), Ok(Outcome::Done(_))));
            at += 60 * MINUTE_MS;
            s.svc.advance(at);
        }
        assert_eq!(s.status(at, &instance), expected, "{bug:?}");
    }
    // A stale status accepted: SetTaskStatus through an expired lease answers success.
    for (bug, accepted) in [(None, false), (Some(Bug::AcceptStaleStatus), true)] {
        let mut s = sim_with(Settings { poll_hold_ms: 0, bug, ..Settings::default() }, &[]);
        let (t1, _) = s.poll(T0, "a").unwrap();
        let late = T0 + ACK + 1;
        assert_eq!(s.set_status(late, &t1, "FINISHED").is_ok(), accepted, "{bug:?}");
    }
    // A missed acknowledgement counted as a failure: the next handout is a new attempt.
    for (bug, expected) in [(None, "1"), (Some(Bug::AckExpiryFailsAttempt), "2")] {
        let mut s = sim_with(Settings { poll_hold_ms: 0, bug, ..Settings::default() }, &[]);
        s.poll(T0, "a").unwrap();
        let later = T0 + 60 * MINUTE_MS;
        s.svc.advance(later);
        let (_, attempt) = s.poll(later, "b").unwrap();
        assert_eq!(s.field(later, &attempt, "@attemptNumber").as_deref(), Some(expected), "{bug:?}");
    }
}

#[test]
fn only_a_second_handout_of_an_attempt_is_a_reassignment() {
    let mut s = sim(&[]);
    s.poll(T0, "a").unwrap();
    s.svc.advance(T0 + ACK);
    s.poll(T0 + ACK, "b").unwrap();
    let flags: Vec<bool> = s
        .svc
        .take_journal()
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Assigned { reassigned, .. } => Some(reassigned),
            _ => None,
        })
        .collect();
    assert_eq!(flags, [false, true]);
}

#[test]
fn a_well_signed_task_id_for_a_lease_not_yet_issued_is_not_found() {
    // Another run with the same seed signs its taskIds with the same key: its ids verify here
    // but may name leases this run never issued, and must not be taken for them.
    let mut s = sim(&[]);
    let ids = crate::service::ids::IdGen::new(Settings::default().seed);
    for seq in [0, 1, 2, 50] {
        let id = ids.task_id(seq);
        assert_eq!(
            err(&mut s.svc, T0, Operation::ReportTaskProgress, json!({"taskId": id})),
            ErrorCode::TaskNotFoundException,
            "lease {seq} is not issued yet"
        );
    }
}
