//! Runner programs by name: what a scenario's runner entry runs (`"program": "my-runner"`).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::env::RunnerEnv;

/// The name of dpsim's own virtual Task Runner, which runners without `program` run.
pub const BUILTIN: &str = "dpsim-task-runner";

/// A started runner program: a future that runs until the runner process ends.
pub type ProgramFuture = Pin<Box<dyn Future<Output = ()>>>;

/// A runner program: called with the runner's environment each time its process starts
/// (again after a crash).
pub type Program = Arc<dyn Fn(RunnerEnv) -> ProgramFuture + Send + Sync>;

/// Runner programs by name. [`Programs::default`] holds dpsim's own runner only.
#[derive(Clone)]
pub struct Programs {
    by_name: BTreeMap<String, Program>,
}

impl std::fmt::Debug for Programs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.by_name.keys()).finish()
    }
}

impl Default for Programs {
    fn default() -> Self {
        let mut programs = Programs { by_name: BTreeMap::new() };
        programs.register(BUILTIN, super::builtin::run);
        programs
    }
}

impl Programs {
    /// dpsim's own runner only.
    pub fn new() -> Programs {
        Programs::default()
    }

    /// Registers `program` under `name` (replacing one of that name). A program is an async
    /// function of a [`RunnerEnv`]; its future need not be `Send` (each machine runs on one
    /// thread).
    pub fn register<F, Fut>(&mut self, name: &str, program: F) -> &mut Programs
    where
        F: Fn(RunnerEnv) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let program: Program = Arc::new(move |env| Box::pin(program(env)));
        self.by_name.insert(name.to_string(), program);
        self
    }

    /// The program of that name.
    pub fn get(&self, name: &str) -> Option<&Program> {
        self.by_name.get(name)
    }

    /// Registered names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}
