//! My task runner: production code on the official AWS SDK. It polls its worker group, works
//! on what it is handed with a progress report every minute (the first one is the
//! acknowledgement: Data Pipeline has no separate acknowledge call), heartbeats every 15
//! minutes, and stops as soon as the service says the task is no longer its own.

use std::time::Duration;

use aws_sdk_datapipeline::Client;
use aws_sdk_datapipeline::types::{TaskObject, TaskStatus};

/// A task runner for one worker group.
pub struct Runner {
    /// The Data Pipeline client (in production, from `aws_config`).
    pub client: Client,
    /// The worker group it polls.
    pub worker_group: String,
    /// The hostname it polls with, and its heartbeat id.
    pub hostname: String,
}

/// How often the runner reports progress while it works.
pub const REPORT_EVERY: Duration = Duration::from_secs(60);

/// How often the runner says it is alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(15 * 60);

impl Runner {
    /// Runs forever: heartbeats beside the work loop.
    pub async fn run(&self) {
        tokio::join!(self.heartbeats(), self.work_loop());
    }

    async fn heartbeats(&self) {
        loop {
            let _ = self
                .client
                .report_task_runner_heartbeat()
                .taskrunner_id(&self.hostname)
                .worker_group(&self.worker_group)
                .hostname(&self.hostname)
                .send()
                .await;
            tokio::time::sleep(HEARTBEAT_EVERY).await;
        }
    }

    async fn work_loop(&self) {
        loop {
            let polled =
                self.client.poll_for_task().worker_group(&self.worker_group).hostname(&self.hostname).send().await;
            match polled {
                Ok(answer) => {
                    if let Some(task) = answer.task_object() {
                        self.work_on(task).await;
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_secs(5)).await,
            }
        }
    }

    /// Reports progress (the first report acknowledges the task), works a slice, and again,
    /// until the work is done or the service says the task is gone.
    async fn work_on(&self, task: &TaskObject) {
        let task_id = task.task_id().unwrap_or_default();
        let mut left = work_time(task);
        loop {
            match self.client.report_task_progress().task_id(task_id).send().await {
                Ok(answer) if answer.canceled() => return,
                Err(e) if e.as_service_error().is_some_and(|e| e.is_task_not_found_exception()) => return,
                // An unanswered report is not news: keep working, report again after the slice.
                _ => {}
            }
            if left.is_zero() {
                break;
            }
            let slice = left.min(REPORT_EVERY);
            tokio::time::sleep(slice).await;
            left -= slice;
        }
        let _ = self.client.set_task_status().task_id(task_id).task_status(TaskStatus::Finished).send().await;
    }
}

/// This example's work is a field of the activity: `myWorkTime`, "N minutes".
fn work_time(task: &TaskObject) -> Duration {
    let attempt = task.attempt_id().and_then(|id| task.objects()?.get(id));
    let field = attempt.and_then(|o| o.fields().iter().find(|f| f.key() == "myWorkTime"));
    let minutes = field.and_then(|f| f.string_value()?.split(' ').next()?.parse().ok()).unwrap_or(1);
    Duration::from_secs(60 * minutes)
}
