//! A task runner with a realistic bug, and dpsim catching it: it reads `canceled` from no
//! progress report, so a canceled or reassigned task is worked on to the end (zombie work).
//! It uses no belief hooks either: dpsim infers its work from its calls.
//! `cargo run --example buggy_runner`
use std::time::Duration;

use aws_sdk_datapipeline::types::TaskStatus;
use dpsim::runner::RunnerEnv;
use dpsim::simulation::Simulation;

/// The buggy runner: polls, reports progress every minute, sets FINISHED when done.
pub async fn buggy_runner(env: RunnerEnv) {
    let client = env.sdk_client();
    loop {
        let polled = client.poll_for_task().worker_group(env.worker_group()).hostname(env.hostname()).send().await;
        let task = match polled {
            Ok(answer) => answer.task_object().cloned(),
            Err(_) => {
                env.sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        let Some(task) = task else { continue };
        let task_id = task.task_id().unwrap_or_default();
        for _minute in 0..30 {
            // The bug: the answer is only checked for errors, never for `canceled: true`.
            if let Err(e) = client.report_task_progress().task_id(task_id).send().await
                && e.as_service_error().is_some_and(|e| e.is_task_not_found_exception())
            {
                break;
            }
            env.sleep(Duration::from_secs(60)).await;
        }
        let _ = client.set_task_status().task_id(task_id).task_status(TaskStatus::Finished).send().await;
    }
}

fn main() {
    let report = Simulation::from_file("examples/scenarios/buggy-runner-canceled.json")
        .expect("a valid scenario")
        .program("buggy-runner", buggy_runner)
        .run()
        .expect("the simulation runs");
    print!("{}\n{}{}", report.log_text(), report.summary_text(), report.violations_text());
}
