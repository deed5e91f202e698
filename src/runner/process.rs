//! A runner process on its machine: starts the program, freezes it while paused, drops it
//! when the runner crashes and starts it afresh when it restarts, as the machine's init would.

use super::control::gated;
use super::env::RunnerEnv;
use super::programs::Program;
use crate::trace::ObservationKind;

/// Keeps a runner's program running across crashes and restarts until it ends by itself.
pub async fn supervise(program: Program, env: RunnerEnv) {
    let control = env.control().clone();
    let mut down = control.down_rx();
    let start = env.spec().start_at;
    if start.ms() > 0 {
        env.sleep(std::time::Duration::from_millis(start.ms().saturating_sub(env.elapsed().as_millis() as u64))).await;
    }
    loop {
        let _ = down.wait_for(|d| !*d).await;
        let run = gated(program(env.clone()), control.paused_rx());
        tokio::select! {
            biased;
            _ = down.wait_for(|d| *d) => {
                // The program's future is dropped here: the process is gone, with its memory.
                env.record(ObservationKind::Crashed);
            }
            () = run => return,
        }
    }
}
