//! What the fault edge sends calls to. One fault path for every world: the matcher and the
//! effects in `edge.rs` are the same whether the call goes to the service core (the
//! simulation and `serve`, through [`Host`]) or to a real endpoint (`dpsim proxy`). The backend
//! says what time it is, delivers a call, and tells the matcher what it knows of the task a
//! call names: the core knows for certain, the proxy from the answers it has seen.

use std::future::Future;

use http::request::Parts;
use hyper::body::Bytes;

use crate::protocol::{Response, ServiceError};
use crate::time::Millis;
use crate::trace::CallOutcome;
use crate::wire::Host;
use crate::wire::http::dispatch_timed;

/// What the matcher knows of the task a call names.
#[derive(Clone, Debug, Default)]
pub(crate) struct TaskView {
    /// The hostname of the PollForTask that handed the lease out.
    pub runner: Option<String>,
    /// The activity (component) id.
    pub component: String,
    /// The acknowledgement deadline.
    pub ack_deadline: Option<Millis>,
    /// The next progress deadline, once acknowledged.
    pub progress_deadline: Option<Millis>,
}

/// Where the edge delivers calls.
pub(crate) trait Backend: Clone + Send + Sync + 'static {
    /// What a caller hears.
    type Answer: Send + 'static;

    /// The backend's clock.
    fn now(&self) -> Millis;

    /// Waits until the backend's clock reads `at`.
    fn sleep_until(&self, at: Millis) -> impl Future<Output = ()> + Send;

    /// Delivers a call: its answer, and when it was decided.
    fn deliver(&self, parts: &Parts, body: &Bytes) -> impl Future<Output = (Self::Answer, Millis)> + Send;

    /// The answer a fault's injected error gives.
    fn injected(&self, error: ServiceError) -> Self::Answer;

    /// What an answer says, for the trace, and whether the call was accepted.
    fn outcome(answer: &Self::Answer) -> (CallOutcome, bool);

    /// What is known of the task a taskId names.
    fn task(&self, task_id: &str) -> Option<TaskView>;
}

impl Backend for Host {
    type Answer = Result<Response, ServiceError>;

    fn now(&self) -> Millis {
        Host::now(self)
    }

    fn sleep_until(&self, at: Millis) -> impl Future<Output = ()> + Send {
        Host::sleep_until(self, at)
    }

    fn deliver(&self, parts: &Parts, body: &Bytes) -> impl Future<Output = (Self::Answer, Millis)> + Send {
        dispatch_timed(self, parts, body)
    }

    fn injected(&self, error: ServiceError) -> Self::Answer {
        Err(error)
    }

    fn outcome(answer: &Self::Answer) -> (CallOutcome, bool) {
        let outcome = match answer {
            Err(e) => CallOutcome::Error { code: e.code },
            Ok(Response::PollForTask(out)) => match &out.task_object {
                Some(task) => CallOutcome::Handout {
                    task_id: task.task_id.clone(),
                    pipeline_id: task.pipeline_id.clone(),
                    attempt_id: task.attempt_id.clone(),
                },
                None => CallOutcome::NoTask,
            },
            Ok(Response::ReportTaskProgress(out)) => CallOutcome::Report { canceled: out.canceled },
            Ok(Response::ReportTaskRunnerHeartbeat(out)) => CallOutcome::Heartbeat { terminate: out.terminate },
            Ok(_) => CallOutcome::Accepted,
        };
        (outcome, answer.is_ok())
    }

    fn task(&self, task_id: &str) -> Option<TaskView> {
        let t = self.with_core(|core| core.task_info(task_id))?;
        Some(TaskView {
            runner: t.hostname.map(|h| h.to_string()),
            component: t.component,
            ack_deadline: Some(t.ack_deadline),
            progress_deadline: t.progress_deadline,
        })
    }
}
