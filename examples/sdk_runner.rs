//! Test your own task runner: a runner written against the official AWS SDK, run inside
//! dpsim's deterministic world. `cargo run --example sdk_runner`
use std::time::Duration;

use aws_sdk_datapipeline::Client;
use aws_sdk_datapipeline::types::{TaskObject, TaskStatus};
use dpsim::runner::RunnerEnv;
use dpsim::simulation::Simulation;

/// How often the runner reports progress while it works.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// The task runner: production code, except that its client comes from `env`.
pub async fn my_runner(env: RunnerEnv) {
    let client = env.sdk_client();
    env.spawn(heartbeats(client.clone(), env.clone()));
    loop {
        let polled = client.poll_for_task().worker_group(env.worker_group()).hostname(env.hostname()).send().await;
        match polled {
            Ok(answer) => {
                if let Some(task) = answer.task_object() {
                    work_on(&client, &env, task).await;
                }
            }
            Err(_) => env.sleep(Duration::from_secs(5)).await,
        }
    }
}

/// Tells the service every 15 minutes that the runner is alive.
async fn heartbeats(client: Client, env: RunnerEnv) {
    loop {
        let _ = client
            .report_task_runner_heartbeat()
            .taskrunner_id(env.name())
            .worker_group(env.worker_group())
            .hostname(env.hostname())
            .send()
            .await;
        env.sleep(Duration::from_secs(15 * 60)).await;
    }
}

/// Acknowledges at once, works in slices with a progress report before each (none after the
/// last: the status says it), and stops as soon as the service says the task is no longer its
/// own.
async fn work_on(client: &Client, env: &RunnerEnv, task: &TaskObject) {
    let task_id = task.task_id().unwrap_or_default();
    let mut left = work_time(task);
    // Belief hook: the ownership log measures zombie work against it.
    let mut work = env.working(task_id);
    loop {
        match client.report_task_progress().task_id(task_id).send().await {
            Ok(answer) if answer.canceled() => {
                work.lost("canceled=true");
                work.stop("told canceled");
                return;
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_task_not_found_exception()) => {
                work.lost("TaskNotFoundException");
                work.stop("task not found");
                return;
            }
            // An unanswered report is not news: keep working, report again after the slice.
            _ => {}
        }
        let slice = left.min(REPORT_EVERY);
        env.sleep(slice).await;
        left -= slice;
        if left.is_zero() {
            break;
        }
    }
    let finished = client.set_task_status().task_id(task_id).task_status(TaskStatus::Finished).send().await;
    work.stop(if finished.is_ok() { "set FINISHED" } else { "set FINISHED rejected" });
}

/// The work is simulated: the activity's `myWorkTime` field says how long it takes.
fn work_time(task: &TaskObject) -> Duration {
    let attempt = task.attempt_id().and_then(|id| task.objects()?.get(id));
    let field = attempt.and_then(|o| o.fields().iter().find(|f| f.key() == "myWorkTime"));
    let minutes = field.and_then(|f| f.string_value()?.split(' ').next()?.parse().ok()).unwrap_or(1);
    Duration::from_secs(60 * minutes)
}

fn main() {
    let report = Simulation::from_file("examples/scenarios/sdk-runner-ack-lost.json")
        .expect("a valid scenario")
        .program("my-runner", my_runner)
        .run()
        .expect("the simulation runs");
    print!("{}\n{}", report.log_text(), report.summary_text());
    assert!(report.passed(), "expectations or invariants failed");
}
