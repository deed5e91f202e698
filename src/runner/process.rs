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
        control.set_killing(false);
        let started = down.wait_for(|(d, _)| !*d).await.map(|v| v.1).unwrap_or(0);
        let run = gated(program(env.clone()), control.paused_rx());
        tokio::pin!(run);
        tokio::select! {
            biased;
            _ = down.wait_for(|(d, restarts)| *d || *restarts != started) => {
                // The program's future is dropped at the end of this turn: the process is
                // gone, with its memory.
                control.set_killing(true);
                // A restart of a running process is logged by whoever restarted it.
                if control.down_rx().borrow().0 {
                    env.record(ObservationKind::Crashed);
                }
            }
            () = &mut run => return,
        }
    }
}
