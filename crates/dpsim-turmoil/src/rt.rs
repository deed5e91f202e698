use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use rand::rngs::SmallRng;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio::task::LocalSet;
use tokio::time::{sleep, Duration, Instant};

use super::Result;

// To support re-creation, we need to store a factory of the future that
// represents the software. This is somewhat annoying in that it requires
// boxxing to avoid generics.
type Software<'a> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result>>> + 'a>;

/// Runtime kinds.
pub enum Kind<'a> {
    /// A runtime for executing test code.
    Client,

    /// A runtime that is running simulated host software.
    Host { software: Software<'a> },

    /// A runtime without any software. The network topology uses this for
    /// time tracking and message delivery.
    NoSoftware,
}

/// Runtime configuration.
#[derive(Clone, Default)]
pub struct Config {
    /// Rng used to seed the tokio runtime.
    ///
    /// Only used if the `tokio_unstable` cfg flag is set.
    #[cfg_attr(not(tokio_unstable), expect(dead_code))]
    pub rng: Option<SmallRng>,
}

/// Per host simulated runtime.
///
/// The tokio runtime is paused (see [`Builder::start_paused`]), which gives us
/// control over when and how to advance time. In particular, see [`Rt::tick`],
/// which lets the runtime do a bit more work.
pub struct Rt<'a> {
    pub kind: Kind<'a>,

    /// Handle to the Tokio runtime driving this simulated host. Each runtime
    /// may have a different sense of "now" which simulates clock skew.
    tokio: Runtime,

    /// Local task set used for running !Send tasks.
    local: LocalSet,

    /// A user readable name to identify the node.
    pub nodename: Arc<str>,

    /// Optional handle to a host's software. When software finishes, the handle is
    /// consumed to check for error, which is propagated up to fail the simulation.
    handle: Option<JoinHandle<Result>>,

    /// Runtime configuration.
    config: Config,

    /// dpsim patch: set when a task of `local` was woken and the set should be
    /// polled (see [`StepFuture`]).
    woken: Arc<AtomicBool>,
}

impl<'a> Rt<'a> {
    pub(crate) fn client<F>(nodename: Arc<str>, client: F, mut config: Config) -> Self
    where
        F: Future<Output = Result> + 'static,
    {
        let (tokio, local) = init(&mut config);

        let handle = with(&tokio, &local, || tokio::task::spawn_local(client));

        Self {
            kind: Kind::Client,
            tokio,
            local,
            nodename,
            handle: Some(handle),
            config,
            woken: Arc::new(AtomicBool::new(true)),
        }
    }

    pub(crate) fn host<F, Fut>(nodename: Arc<str>, software: F, mut config: Config) -> Self
    where
        F: Fn() -> Fut + 'a,
        Fut: Future<Output = Result> + 'static,
    {
        let (tokio, local) = init(&mut config);

        let software: Software = Box::new(move || Box::pin(software()));
        let handle = with(&tokio, &local, || tokio::task::spawn_local(software()));

        Self {
            kind: Kind::Host { software },
            tokio,
            local,
            nodename,
            handle: Some(handle),
            config,
            woken: Arc::new(AtomicBool::new(true)),
        }
    }

    pub(crate) fn no_software() -> Self {
        let mut config = Config::default();
        let (tokio, local) = init(&mut config);

        Self {
            kind: Kind::NoSoftware,
            tokio,
            local,
            nodename: String::new().into(),
            handle: None,
            config,
            woken: Arc::new(AtomicBool::new(true)),
        }
    }

    pub(crate) fn is_client(&self) -> bool {
        matches!(self.kind, Kind::Client)
    }

    fn is_host(&self) -> bool {
        matches!(self.kind, Kind::Host { .. })
    }

    pub(crate) fn is_software_running(&self) -> bool {
        self.handle.is_some()
    }

    pub(crate) fn now(&self) -> Instant {
        let _guard = self.tokio.enter();
        Instant::now()
    }

    // This method is called by [`Sim::run`], which iterates through all the
    // runtimes and ticks each one. The magic of this method is described in the
    // documentation for [`LocalSet::run_until`], but it may not be entirely
    // obvious how things fit together.
    //
    // A [`LocalSet`] tracks the tasks to run, which may in turn spawn more
    // tasks. `run_until` drives a top level task to completion, but not its
    // children. If you look below, you may be confused. The task we run here
    // just sleeps and has no children! However, it's the _same `LocalSet`_ that
    // is used to run software on the host.
    //
    // In this way, every time `tick` is called, the following unfolds:
    //
    // 1. Time advances on the runtime
    // 2. We schedule a new task that simply sleeps
    // 3. Other tasks on the `LocalSet` get a chance to run
    // 4. The sleep finishes
    // 5. The runtime pauses
    //
    // Returns whether the software has finished successfully or the error
    // that caused failure. Subsequent calls do not return the error as it is
    // expected to fail the simulation.
    pub(crate) fn tick(&mut self, duration: Duration) -> Result<bool> {
        // dpsim patch: the host's tasks run through a `StepFuture` that polls the
        // `LocalSet` only when one of its tasks was woken (see `StepFuture`).
        let _ = self.run_step(duration, false);
        self.software_finished()
    }

    /// dpsim patch: runs the host for `duration` as [`Rt::tick`] does and says whether
    /// it stayed quiet: no task of its `LocalSet` was woken after the start and before
    /// the end. A leap over idle time is the same as that many ticks only if every
    /// host stayed quiet (and sent nothing); otherwise the simulation must not be
    /// trusted, and its caller replays it with fixed ticks.
    pub(crate) fn leap(&mut self, duration: Duration) -> Result<(bool, bool)> {
        let quiet = self.run_step(duration, true);
        Ok((self.software_finished()?, quiet))
    }

    fn run_step(&mut self, duration: Duration, watch: bool) -> bool {
        let local = &self.local;
        let woken = &self.woken;
        self.tokio.block_on(async {
            let start = Instant::now();
            StepFuture {
                sleep: Box::pin(sleep(duration)),
                run: Box::pin(local.run_until(std::future::pending::<()>())),
                woken,
                waker: None,
                watch: watch.then_some(start),
                quiet: true,
            }
            .await
        })
    }

    /// dpsim patch: whether a task of this host's `LocalSet` was woken and has not
    /// run yet.
    pub(crate) fn is_woken(&self) -> bool {
        self.woken.load(Ordering::SeqCst)
    }

    /// dpsim patch: the tasks that tokio's current-thread scheduler runs outside the
    /// `LocalSet` (spawned with `tokio::spawn`). Their order depends on how often the
    /// runtime parked, so a simulation leaps over idle time only when there are none.
    pub(crate) fn spawned_tasks(&self) -> usize {
        self.tokio.metrics().num_alive_tasks()
    }

    fn software_finished(&mut self) -> Result<bool> {
        // pull for software completion
        match &self.handle {
            Some(handle) if handle.is_finished() => {
                // Consume handle to extract task result
                if let Some(h) = self.handle.take() {
                    match self.tokio.block_on(h) {
                        // If the host was crashed the JoinError is cancelled, which
                        // needs to be handled to not fail the simulation.
                        Err(je) if je.is_cancelled() => {}
                        res => res??,
                    }
                };
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Ok(true),
        }
    }

    pub(crate) fn crash(&mut self) {
        if !self.is_host() {
            panic!("can only crash host's software");
        }

        if self.handle.take().is_some() {
            self.cancel_tasks();
        };
    }

    pub(crate) fn bounce(&mut self) {
        if !self.is_host() {
            panic!("can only bounce host's software");
        }

        self.cancel_tasks();

        if let Kind::Host { software } = &self.kind {
            let handle = with(&self.tokio, &self.local, || {
                tokio::task::spawn_local(software())
            });
            self.handle.replace(handle);
        };
    }

    /// Cancel all tasks within the [`Rt`] by dropping the current tokio
    /// [`Runtime`].
    ///
    /// Dropping the runtime blocks the calling thread until all futures have
    /// completed, which is desired here to ensure host software completes and
    /// all resources are dropped.
    ///
    /// Both the [`Runtime`] and [`LocalSet`] are replaced with new instances.
    fn cancel_tasks(&mut self) {
        let (tokio, local) = init(&mut self.config);

        _ = mem::replace(&mut self.tokio, tokio);
        drop(mem::replace(&mut self.local, local));
        self.woken.store(true, Ordering::SeqCst);
    }
}

// `config` only seeds tokio under `tokio_unstable`.
#[cfg_attr(not(tokio_unstable), allow(unused_variables))]
fn init(config: &mut Config) -> (Runtime, LocalSet) {
    let mut tokio_builder = tokio::runtime::Builder::new_current_thread();

    #[cfg(tokio_unstable)]
    tokio_builder.unhandled_panic(tokio::runtime::UnhandledPanic::ShutdownRuntime);

    #[cfg(tokio_unstable)]
    if let Some(rng) = &mut config.rng {
        let bytes: [u8; 32] = rand::Rng::random(rng);
        let seed = tokio::runtime::RngSeed::from_bytes(&bytes);
        tokio_builder.rng_seed(seed);
    }

    let tokio = tokio_builder
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();

    tokio.block_on(async {
        // Sleep to "round" `Instant::now()` to the closest `ms`
        tokio::time::sleep(Duration::from_millis(1)).await;
    });

    (tokio, new_local())
}

fn new_local() -> LocalSet {
    #[cfg(not(tokio_unstable))]
    let local = LocalSet::new();

    #[cfg(tokio_unstable)]
    let mut local = LocalSet::new();

    #[cfg(tokio_unstable)]
    local.unhandled_panic(tokio::runtime::UnhandledPanic::ShutdownRuntime);

    local
}

fn with<R>(tokio: &Runtime, local: &LocalSet, f: impl FnOnce() -> R) -> R {
    tokio.block_on(async { local.run_until(async { f() }).await })
}

/// dpsim patch: one step of a host. The step's end (`sleep`) is checked first, as
/// `run_until(sleep(d))` did; the `LocalSet` is polled only when one of its tasks was
/// woken since it was last polled. tokio's `LocalSet` counts every poll in the tick
/// that decides when remotely woken tasks go first, so polling it once per step
/// made the order of later tasks depend on how many idle steps had passed; polled
/// only on wakes, an idle stretch leaves that count alone, whether it is passed as
/// many ticks or as one leap.
struct StepFuture<'a, R> {
    sleep: Pin<Box<tokio::time::Sleep>>,
    run: Pin<Box<R>>,
    woken: &'a Arc<AtomicBool>,
    /// The waker handed to the `LocalSet`: sets `woken`, then wakes this step.
    waker: Option<(Waker, Waker)>,
    /// When watching a leap: the instant it started.
    watch: Option<Instant>,
    quiet: bool,
}

struct FlagWaker {
    woken: Arc<AtomicBool>,
    step: Waker,
}

impl Wake for FlagWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.step.wake_by_ref();
    }
}

impl<R: Future<Output = ()>> Future for StepFuture<'_, R> {
    type Output = bool;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let me = &mut *self;
        if me.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(me.quiet);
        }
        if !me.woken.swap(false, Ordering::SeqCst) {
            return Poll::Pending;
        }
        if let Some(start) = me.watch {
            // A task woken after the leap began and before it ends: the leap passed
            // a timer the simulation did not know about.
            if Instant::now() > start {
                me.quiet = false;
                return Poll::Ready(false);
            }
        }
        let waker = match &me.waker {
            Some((step, flag)) if step.will_wake(cx.waker()) => flag.clone(),
            _ => {
                let flag = Waker::from(Arc::new(FlagWaker {
                    woken: me.woken.clone(),
                    step: cx.waker().clone(),
                }));
                me.waker = Some((cx.waker().clone(), flag.clone()));
                flag
            }
        };
        let _ = me.run.as_mut().poll(&mut Context::from_waker(&waker));
        Poll::Pending
    }
}
