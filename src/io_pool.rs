//! The threads that do the probes' I/O: one current-thread tokio runtime each. The thread that
//! sees a socket event is the thread that runs the task waiting for it, so a phase's closing
//! timestamp is taken without a hop between threads, and the Lua thread never delays one.
//!
//! Threads start when first given work: one probe needs one thread, not one per core.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Builder, Handle};
use tokio::task::JoinHandle;

/// A fixed number of I/O threads, started on first use; samples are handed out in turn.
pub struct IoPool {
    handles: Vec<OnceLock<Handle>>,
    next: AtomicUsize,
}

impl IoPool {
    /// A pool of `threads` I/O threads (at least one); the first one starts now.
    pub fn new(threads: usize) -> std::io::Result<IoPool> {
        let pool = IoPool {
            handles: (0..threads.max(1)).map(|_| OnceLock::new()).collect(),
            next: AtomicUsize::new(0),
        };
        // The first thread carries the signal handlers and the publishers: it must exist, and a
        // failure to start it is the caller's to report.
        let first = start(0)?;
        let _ = pool.handles[0].set(first);
        Ok(pool)
    }

    /// One I/O thread per core this process may run on, or PERFTEST_IO_THREADS.
    pub fn for_this_machine() -> std::io::Result<IoPool> {
        let n = std::env::var("PERFTEST_IO_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(cores);
        IoPool::new(n)
    }

    /// How many I/O threads there are (started or not).
    pub fn threads(&self) -> usize {
        self.handles.len()
    }

    /// I/O thread `i`'s runtime, starting the thread if it is not running yet.
    pub fn handle(&self, i: usize) -> &Handle {
        let slot = &self.handles[i % self.handles.len()];
        if let Some(h) = slot.get() {
            return h;
        }
        match start(i % self.handles.len()) {
            Ok(h) => slot.get_or_init(|| h),
            Err(e) => {
                // Fewer threads is slower, not wrong: the first one takes this one's share.
                tracing::warn!("cannot start I/O thread {i}: {e}; its work goes to thread 0");
                self.first()
            }
        }
    }

    /// The first I/O thread's runtime, for work that must not wait on the Lua thread.
    pub fn first(&self) -> &Handle {
        self.handles[0].get().expect("started in new()")
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
        self.handle(thread).spawn(fut)
    }

    /// Runs `fut` on the next I/O thread.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_on(self.next_thread(), fut)
    }
}

/// Starts I/O thread `i`: a current-thread runtime driven until the process exits.
fn start(i: usize) -> std::io::Result<Handle> {
    let runtime = Builder::new_current_thread().enable_all().build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name(format!("perftest-io-{i}"))
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    Ok(handle)
}

/// The CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota (a
/// container given 1.5 CPUs gets 2 threads). `available_parallelism` finds the quota by
/// parsing /proc/self/mountinfo, a tenth of a cold start; a container sees its own cgroup at
/// /sys/fs/cgroup.
fn cores() -> usize {
    // SAFETY: a zeroed cpu_set_t is a valid empty set, and sched_getaffinity writes at most
    // the size given.
    let affinity = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            libc::CPU_COUNT(&set).max(1) as usize
        } else {
            1
        }
    };
    let quota = std::fs::read_to_string("/sys/fs/cgroup/cpu.max")
        .ok()
        .and_then(|s| cpu_quota(&s));
    quota.map_or(affinity, |q| q.min(affinity))
}

/// CPUs allowed by a cgroup v2 `cpu.max` ("max 100000" or "150000 100000"), rounded up.
fn cpu_quota(cpu_max: &str) -> Option<usize> {
    let mut parts = cpu_max.split_whitespace();
    let quota: u64 = parts.next()?.parse().ok()?;
    let period: u64 = parts.next()?.parse().ok()?;
    (period > 0).then(|| quota.div_ceil(period).max(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_quota_rounds_up_and_max_means_none() {
        assert_eq!(cpu_quota("max 100000\n"), None);
        assert_eq!(cpu_quota("150000 100000\n"), Some(2));
        assert_eq!(cpu_quota("50000 100000"), Some(1));
        assert_eq!(cpu_quota("200000 100000"), Some(2));
        assert_eq!(cpu_quota(""), None);
    }

    #[test]
    fn threads_start_on_first_use() {
        let pool = IoPool::new(3).unwrap();
        assert_eq!(pool.threads(), 3);
        assert!(pool.handles[1].get().is_none());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let name = rt
            .block_on(pool.spawn_on(1, async { std::thread::current().name().map(String::from) }))
            .unwrap();
        assert_eq!(name.as_deref(), Some("perftest-io-1"));
        assert!(pool.handles[1].get().is_some());
        assert!(pool.handles[2].get().is_none());
    }
}
