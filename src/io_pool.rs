//! The threads that do the probes' I/O: one current-thread tokio runtime each. The thread that
//! sees a socket event is the thread that runs the task waiting for it, so a phase's closing
//! timestamp is taken without a hop between threads, and the Lua thread never delays one.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Builder, Handle};
use tokio::task::JoinHandle;

/// A fixed set of I/O threads; samples are handed out in turn.
pub struct IoPool {
    handles: Vec<Handle>,
    next: AtomicUsize,
}

impl IoPool {
    /// Starts `threads` I/O threads (at least one).
    pub fn new(threads: usize) -> std::io::Result<IoPool> {
        let mut handles = Vec::new();
        for i in 0..threads.max(1) {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            handles.push(runtime.handle().clone());
            std::thread::Builder::new()
                .name(format!("perftest-io-{i}"))
                // The thread runs its runtime until the process exits.
                .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
        }
        Ok(IoPool {
            handles,
            next: AtomicUsize::new(0),
        })
    }

    /// One I/O thread per core, or PERFTEST_IO_THREADS.
    pub fn for_this_machine() -> std::io::Result<IoPool> {
        let n = std::env::var("PERFTEST_IO_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        IoPool::new(n)
    }

    /// How many I/O threads there are.
    pub fn threads(&self) -> usize {
        self.handles.len()
    }

    /// I/O thread `i`'s runtime.
    pub fn handle(&self, i: usize) -> &Handle {
        &self.handles[i % self.handles.len()]
    }

    /// The first I/O thread's runtime, for work that must not wait on the Lua thread.
    pub fn first(&self) -> &Handle {
        &self.handles[0]
    }

    /// The thread the next call to [`IoPool::spawn`] would use, to pin work to it.
    pub fn next_thread(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len()
    }

    /// Runs `fut` on I/O thread `thread` (a connection lives on the thread that opened it).
    pub fn spawn_on<F>(&self, thread: usize, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handles[thread % self.handles.len()].spawn(fut)
    }

    /// Runs `fut` on the next I/O thread.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(fut)
    }
}
