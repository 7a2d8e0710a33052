//! Figures about this run that the web server shows: written by the engine and the publishers,
//! read by /memstats and /metrics from another thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::publish::{Counts, Publisher};

/// The run's figures.
pub struct Figures {
    pub started: Instant,
    pub started_wall: SystemTime,
    pub probes_done: AtomicU64,
    pub tasks_alive: AtomicU64,
    /// The Lua state's heap, refreshed by the Lua thread.
    pub lua_bytes: AtomicU64,
    publishers: Mutex<Vec<Arc<dyn Publisher>>>,
}

impl Default for Figures {
    fn default() -> Self {
        Figures {
            started: Instant::now(),
            started_wall: SystemTime::now(),
            probes_done: AtomicU64::new(0),
            tasks_alive: AtomicU64::new(0),
            lua_bytes: AtomicU64::new(0),
            publishers: Mutex::new(Vec::new()),
        }
    }
}

impl std::fmt::Debug for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Figures")
    }
}

impl Figures {
    /// Shows `publisher` from now on.
    pub fn add_publisher(&self, publisher: Arc<dyn Publisher>) {
        self.publishers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(publisher);
    }

    /// Each publisher's kind, name and counts.
    pub fn publishers(&self) -> Vec<(&'static str, String, Counts)> {
        self.publishers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|p| (p.kind(), p.name(), p.counts()))
            .collect()
    }

    pub fn probes(&self) -> u64 {
        self.probes_done.load(Ordering::Relaxed)
    }
}

/// Every `every`, gives the allocator's free pages back to the system. A burst of probes in
/// flight (a target gone slow: hundreds of sockets, buffers and tasks at once) leaves
/// megabytes free in glibc's arenas, between chunks still in use, and glibc keeps them
/// resident: a monitor's RSS would stay at its worst minute's for good (bench/RESULTS.md, the
/// soak: 8.6 MiB given back after 300 probes in flight, RSS back to its calm level).
pub async fn trim_heap_every(every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once: nothing to give back yet.
    tick.tick().await;
    loop {
        tick.tick().await;
        trim_heap();
    }
}

/// Returns the allocator's free pages to the system (glibc's malloc_trim, a walk of its free
/// lists: well under a millisecond for a monitor's few MiB); true if any were.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim_heap() -> bool {
    // SAFETY: malloc_trim only walks the allocator's own free lists and advises the kernel.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Other allocators keep what they keep.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim_heap() -> bool {
    false
}

/// This process's memory and CPU, from /proc.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Process {
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
    pub virtual_bytes: u64,
    pub cpu_seconds: f64,
    pub threads: u64,
    pub open_fds: u64,
    /// The allocator's view (glibc mallinfo2): bytes in use and free in its arenas.
    pub heap_in_use_bytes: u64,
    pub heap_free_bytes: u64,
}

impl Process {
    /// Reads /proc/self (zeros where it cannot).
    pub fn read() -> Process {
        let mut p = Process::default();
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            for line in status.lines() {
                let kb = |l: &str| -> u64 {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                        * 1024
                };
                if line.starts_with("VmRSS:") {
                    p.rss_bytes = kb(line);
                } else if line.starts_with("VmHWM:") {
                    p.peak_rss_bytes = kb(line);
                } else if line.starts_with("VmSize:") {
                    p.virtual_bytes = kb(line);
                } else if let Some(n) = line.strip_prefix("Threads:") {
                    p.threads = n.trim().parse().unwrap_or(0);
                }
            }
        }
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the command name (which may hold spaces) start at ")".
            let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<&str> = after.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
            let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
                + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
            p.cpu_seconds = ticks as f64 / hz;
        }
        p.open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            // SAFETY: mallinfo2 only reads the allocator's statistics.
            let m = unsafe { libc::mallinfo2() };
            p.heap_in_use_bytes = (m.uordblks + m.hblkhd) as u64;
            p.heap_free_bytes = m.fordblks as u64;
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Anonymous resident memory, bytes (/proc/self/status).
    fn rss_anon() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("RssAnon:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn trimming_gives_back_what_a_burst_left_free() {
        // 32 MiB in 1 KiB blocks, touched; every 64th kept, so the free ones lie between
        // blocks in use (the top of the heap alone would be trimmed by free itself).
        let mut blocks: Vec<Box<[u8; 1024]>> =
            (0..32 * 1024).map(|_| Box::new([7u8; 1024])).collect();
        let kept: Vec<Box<[u8; 1024]>> = blocks.drain(..).step_by(64).collect();
        let before = rss_anon();
        assert!(trim_heap(), "pages were free");
        let after = rss_anon();
        assert!(
            before - after > 16 << 20,
            "RssAnon {before} -> {after}: less than 16 MiB given back of ~31 MiB free"
        );
        assert!(
            kept.iter().all(|b| b[1023] == 7),
            "the blocks in use are intact"
        );
    }
}
