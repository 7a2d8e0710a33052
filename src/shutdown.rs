//! Graceful stop: the first SIGINT or SIGTERM asks every loop to end (so summaries print and
//! buffers flush); a second one, [`SAME_ACT`] or more later, exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A stop request shared by everyone who must stop. Cloning shares it.
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
    /// When the first signal came, for telling a second act from the same one.
    first_signal: Arc<Mutex<Option<Instant>>>,
    since: Arc<Mutex<Option<Instant>>>,
    /// SIGINT only interrupts, however often (the REPL on a terminal: Ctrl-D or `exit` end it).
    sigint_interrupts: Arc<AtomicBool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        Shutdown {
            tx: Arc::new(tx),
            rx,
            first_signal: Arc::new(Mutex::new(None)),
            since: Arc::new(Mutex::new(None)),
            sigint_interrupts: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Asks everyone to stop.
    pub fn trigger(&self) {
        self.since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(Instant::now);
        self.tx.send_replace(true);
    }

    /// Takes the stop back (the REPL, after Ctrl-C interrupted one evaluation).
    pub fn reset(&self) {
        *self.since.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *self.first_signal.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.tx.send_replace(false);
    }

    /// From now on SIGINT asks for a stop and never exits, however often it comes.
    pub fn sigint_only_interrupts(&self) {
        self.sigint_interrupts.store(true, Ordering::Relaxed);
    }

    /// How long ago the stop was asked for, if it was.
    pub fn stopping_for(&self) -> Option<Duration> {
        self.since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|t| t.elapsed())
    }

    /// True once a stop was asked for.
    pub fn is_stopping(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes when a stop is asked for (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // An error means the sender is gone, which cannot happen while `self` holds it.
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// Listens for SIGINT and SIGTERM on `runtime`, which must not be the thread that runs
    /// Lua: a script stuck in a loop would never let the signal through.
    pub fn listen_for_signals(&self, runtime: &tokio::runtime::Handle) {
        use tokio::signal::unix::{SignalKind, signal};
        // Registered now, before any script runs: a signal in the first moments must not take
        // its default action (death) while the listening task waits for its first poll.
        let _inside = runtime.enter();
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!("cannot listen for SIGINT/SIGTERM; Ctrl-C will end the run at once");
            return;
        };
        let this = self.clone();
        runtime.spawn(async move {
            loop {
                let name = tokio::select! {
                    got = int.recv() => got.map(|_| "SIGINT"),
                    got = term.recv() => got.map(|_| "SIGTERM"),
                };
                // The signal driver is gone (the runtime is shutting down): nothing to listen to.
                let Some(name) = name else { return };
                if name == "SIGINT" && this.sigint_interrupts.load(Ordering::Relaxed) {
                    this.trigger();
                    continue;
                }
                match this.judge(Instant::now()) {
                    Act::Stop => {
                        tracing::debug!("{name}: stopping; a second signal exits at once");
                        this.trigger();
                    }
                    Act::Same(after) => {
                        tracing::debug!(
                            "{name} again after {} ms: the same stop",
                            after.as_millis()
                        );
                    }
                    Act::Exit => {
                        errln!("perftest: {name} again, exiting now");
                        std::process::exit(130);
                    }
                }
            }
        });
    }
}

/// What a signal arriving now means.
#[derive(Debug, PartialEq)]
enum Act {
    /// The first: stop gracefully.
    Stop,
    /// The first one again, delivered this long after it.
    Same(Duration),
    /// A second act of the user: exit at once.
    Exit,
}

impl Shutdown {
    /// Judges a signal arriving at `now` against the first one.
    fn judge(&self, now: Instant) -> Act {
        let mut first = self.first_signal.lock().unwrap_or_else(|p| p.into_inner());
        match *first {
            None => {
                *first = Some(now);
                Act::Stop
            }
            Some(at) if now.saturating_duration_since(at) < SAME_ACT => {
                Act::Same(now.saturating_duration_since(at))
            }
            Some(_) => Act::Exit,
        }
    }
}

/// A second signal this soon after the first is the same act delivered twice, not a second
/// Ctrl-C: GNU timeout signals the child and then its process group, and so do scripts that
/// `kill PID; kill -- -PGID`; the two arrive microseconds apart (a few ms on a loaded machine). A person pressing Ctrl-C again
/// takes longer than 250 ms; if they are faster, the stop already under way goes on and a
/// third press exits.
pub const SAME_ACT: Duration = Duration::from_millis(250);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_again_within_the_window_is_the_same_act() {
        let s = Shutdown::new();
        let t0 = Instant::now();
        assert_eq!(s.judge(t0), Act::Stop);
        let soon = Duration::from_micros(40);
        assert_eq!(s.judge(t0 + soon), Act::Same(soon));
        assert_eq!(
            s.judge(t0 + SAME_ACT - Duration::from_millis(1)),
            Act::Same(SAME_ACT - Duration::from_millis(1))
        );
        assert_eq!(s.judge(t0 + SAME_ACT), Act::Exit);
        // The REPL takes the stop back: the next signal is a first one again.
        s.reset();
        assert_eq!(s.judge(t0 + SAME_ACT * 3), Act::Stop);
    }
}
