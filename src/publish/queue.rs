//! A bounded queue drained by a task of its own, for sends that must never hold up a probe:
//! a full queue drops (and counts) instead of waiting; each item is retried with backoff.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

/// What happened to the items.
#[derive(Debug, Default)]
pub struct Counters {
    pub queued: AtomicU64,
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    pub failed_attempts: AtomicU64,
    /// Queued, not yet sent or dropped.
    pub outstanding: AtomicU64,
}

/// One attempt at sending an item: Ok, or the error and whether to try again.
pub type Attempt = Pin<Box<dyn Future<Output = Result<(), (String, bool)>> + Send>>;

/// A queue whose items are sent by `send`, up to `attempts` times each.
pub struct Queue<T> {
    tx: mpsc::Sender<T>,
    pub counters: Arc<Counters>,
    idle: Arc<Notify>,
    last_error: Arc<std::sync::Mutex<Option<String>>>,
}

impl<T: Send + 'static> Queue<T> {
    /// Starts the sending task on `runtime`.
    pub fn start<F>(
        capacity: usize,
        attempts: u32,
        runtime: &tokio::runtime::Handle,
        send: F,
    ) -> Queue<T>
    where
        F: Fn(&T) -> Attempt + Send + Sync + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<T>(capacity);
        let counters = Arc::new(Counters::default());
        let idle = Arc::new(Notify::new());
        let last_error = Arc::new(std::sync::Mutex::new(None));
        let (c, i, l) = (counters.clone(), idle.clone(), last_error.clone());
        runtime.spawn(async move {
            while let Some(item) = rx.recv().await {
                let mut delay = Duration::from_millis(250);
                for attempt in 1..=attempts {
                    match send(&item).await {
                        Ok(()) => {
                            c.sent.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Err((why, again)) => {
                            c.failed_attempts.fetch_add(1, Ordering::Relaxed);
                            *l.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
                            if !again || attempt == attempts {
                                tracing::warn!("giving up after {attempt} attempts: {why}");
                                c.dropped.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            tokio::time::sleep(delay).await;
                            delay = (delay * 2).min(Duration::from_secs(10));
                        }
                    }
                }
                if c.outstanding.fetch_sub(1, Ordering::Relaxed) == 1 {
                    i.notify_waiters();
                }
            }
        });
        Queue {
            tx,
            counters,
            idle,
            last_error,
        }
    }

    /// Queues `item`; a full queue drops it and counts it.
    pub fn push(&self, item: T) {
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        self.counters.outstanding.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(item).is_err() {
            self.counters.outstanding.fetch_sub(1, Ordering::Relaxed);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until everything queued is sent or dropped, at most `within`; returns how many
    /// were still outstanding then (now counted as dropped).
    pub async fn flush(&self, within: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let waiting = self.idle.notified();
            if self.counters.outstanding.load(Ordering::Relaxed) == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, waiting).await.is_err() {
                let left = self.counters.outstanding.swap(0, Ordering::Relaxed);
                self.counters.dropped.fetch_add(left, Ordering::Relaxed);
                return left;
            }
        }
    }

    /// The last error seen, for the report.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The counts /memstats shows.
    pub fn counts(&self) -> super::Counts {
        let c = &self.counters;
        super::Counts {
            sent: c.sent.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            waiting: c.outstanding.load(Ordering::Relaxed),
        }
    }
}
