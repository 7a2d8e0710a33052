//! A bounded load: a closed model (N workers, each sending its next request when the last one
//! ended) or an open model (requests started at a fixed rate, whatever the responses take),
//! for a duration and/or a number of requests, over new or kept connections. The hot loop is
//! Rust: a script configures it and reads the statistics. Knows no Lua.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::io_pool::IoPool;
use crate::probe::{Kept, ProbeRequest, ProbeResult, Prober, millis};
use crate::shutdown::Shutdown;
use crate::stats::{Sample, Stats};
use crate::thresholds::Threshold;

input_error!(
    /// A load that cannot run as asked (a rate, a duration, more sockets than allowed).
    InvalidLoad
);

/// How requests are started.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Model {
    /// `concurrency` workers, each one request after the other (wrk, oha -c).
    Closed { concurrency: usize },
    /// `rate` starts per second; at most `max_in_flight` at once, the rest are dropped and counted.
    Open { rate: f64, max_in_flight: usize },
}

/// Requests per second the open model can schedule: a start every microsecond at most (the
/// clock's tick is a nanosecond, tokio's timer a millisecond: faster starts come in bursts), one
/// every 1000 s at least.
pub const RATES: (f64, f64) = (0.001, 1_000_000.0);

/// The longest load, and the longest statistics window: a year.
pub const MAX_SECONDS: f64 = 365.0 * 86_400.0;

impl Model {
    /// An error naming the range when the model asks for more than can be scheduled, or for
    /// more sockets than the open-file limit allows.
    pub fn check(&self) -> Result<(), InvalidLoad> {
        let sockets = crate::limits::load_connections();
        let limit = crate::limits::open_files();
        let too_many = |key: &str, n: usize| {
            format!(
                "{key} {n}: at most {sockets} with this open-file limit (ulimit -n {limit}); raise the limit or ask for fewer"
            )
        };
        match *self {
            Model::Closed { concurrency } if concurrency > sockets => {
                Err(too_many("concurrency", concurrency).into())
            }
            Model::Open { rate, .. } if !(RATES.0..=RATES.1).contains(&rate) => Err(format!(
                "rate {}: give requests per second from {} to {}",
                crate::probe::shown(rate),
                RATES.0,
                RATES.1
            )
            .into()),
            Model::Open { max_in_flight, .. } if max_in_flight > sockets => {
                Err(too_many("max_in_flight", max_in_flight).into())
            }
            _ => Ok(()),
        }
    }
}

/// `seconds` as a duration for a load (`what` names it in the error): above 0, at most
/// [`MAX_SECONDS`].
pub fn load_seconds(what: &str, seconds: f64) -> Result<Duration, InvalidLoad> {
    if seconds > 0.0 && seconds <= MAX_SECONDS {
        Ok(Duration::from_secs_f64(seconds))
    } else {
        Err(format!(
            "{what} {}: give seconds above 0, at most {MAX_SECONDS} (a year)",
            crate::probe::shown(seconds)
        )
        .into())
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub request: ProbeRequest,
    pub model: Model,
    /// Stop starting requests after this long.
    pub duration: Option<Duration>,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// Keep connections between requests (HTTP keep-alive) instead of a new one each time.
    pub reuse: bool,
    /// Thresholds with `abort_on_fail` are checked every second; a failure stops the run.
    pub abort: Vec<Threshold>,
}

/// Counters a progress display reads while the load runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub started: AtomicU64,
    pub done: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

/// What the run adds up to.
pub struct Outcome {
    pub stats: Stats,
    /// Open model: starts skipped because `max_in_flight` samples were already out.
    pub dropped: u64,
    /// Wall time from the first start to the last sample's end.
    pub elapsed: Duration,
    /// The abort_on_fail threshold that stopped the run, if one did.
    pub aborted_by: Option<String>,
}

/// The sample statistics keep of a result; None for one the run interrupted.
pub fn sample_of(r: &ProbeResult) -> Option<Sample> {
    let kind = r.error.as_ref().map(|e| e.kind);
    if kind == Some(crate::probe::ErrorKind::Interrupted) {
        return None;
    }
    let p = &r.phases;
    Some(Sample {
        start: crate::probe::epoch(r.start),
        values: [
            millis(p.dns),
            millis(p.tcp),
            millis(p.tls),
            millis(p.first),
            millis(p.lastb),
            millis(p.total()),
            r.size as f64,
        ],
        ok: r.ok(),
        status: r.status,
        error_kind: kind.map(|k| k.as_str().to_string()),
    })
}

/// Runs the load; returns when it is over (or stopped) and every sample is counted. With
/// `observe`, every sample is also recorded for /metrics, labelled with the location.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    prober: Arc<Prober>,
    io: &IoPool,
    spec: LoadSpec,
    name: &str,
    window: Option<Duration>,
    stop: Shutdown,
    progress: Arc<Progress>,
    observe: Option<(Arc<crate::publish::metrics::Metrics>, String)>,
) -> Outcome {
    // A load's own stop: the run's, or an abort. Workers watch this one alone (a request's
    // select then polls one stop, not two).
    let done = Shutdown::new();
    let relay = {
        let done = done.clone();
        io.first().spawn(async move {
            stop.wait().await;
            done.trigger();
        })
    };
    // Samples wait in a buffer per I/O thread until the collector takes them, ten times a
    // second: a worker never wakes another thread to hand over a sample.
    let buffers: Buffers = Arc::new((0..io.threads()).map(|_| Mutex::new(Vec::new())).collect());
    let started = Instant::now();
    let deadline = spec.duration.map(|d| tokio::time::Instant::now() + d);
    let budget = Arc::new(AtomicU64::new(0));
    let spec = Arc::new(spec);

    let worker = |thread| Worker {
        prober: prober.clone(),
        spec: spec.clone(),
        buffers: buffers.clone(),
        thread,
        done: done.clone(),
        budget: budget.clone(),
        progress: progress.clone(),
        deadline,
        observe: observe.clone(),
    };
    let mut workers = Vec::new();
    match spec.model {
        Model::Closed { concurrency } => {
            for _ in 0..concurrency.max(1) {
                let thread = io.next_thread();
                workers.push(io.spawn_on(thread, worker(thread).closed_loop()));
            }
        }
        Model::Open {
            rate,
            max_in_flight,
        } => {
            let thread = io.next_thread();
            let handles: Vec<tokio::runtime::Handle> =
                (0..io.threads()).map(|i| io.handle(i).clone()).collect();
            workers.push(io.spawn_on(
                thread,
                worker(thread).open_loop(rate, max_in_flight, handles),
            ));
        }
    }

    // The collector: every sample into the statistics; abort thresholds once a second.
    let mut stats = Stats::new(name, window);
    let mut last_check = Instant::now();
    let mut aborted_by = None;
    let all_done = async {
        for w in workers {
            let _ = w.await;
        }
    };
    tokio::pin!(all_done);
    let mut collect = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = &mut all_done => break,
            _ = collect.tick() => {}
        }
        take(&buffers, &mut stats);
        if aborted_by.is_none()
            && !spec.abort.is_empty()
            && last_check.elapsed() >= Duration::from_secs(1)
        {
            last_check = Instant::now();
            let now = crate::probe::epoch(std::time::SystemTime::now());
            if let Some((t, _)) = Threshold::aborting(&spec.abort, &stats, now) {
                aborted_by = Some(t.label());
                done.trigger();
            }
        }
    }
    take(&buffers, &mut stats);
    relay.abort();
    Outcome {
        stats,
        dropped: progress.dropped.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        aborted_by,
    }
}

/// Samples not yet counted, one buffer per I/O thread.
type Buffers = Arc<Vec<Mutex<Vec<Sample>>>>;

/// Moves the buffered samples into `stats`.
fn take(buffers: &Buffers, stats: &mut Stats) {
    for b in buffers.iter() {
        let batch = std::mem::take(&mut *b.lock().unwrap_or_else(|p| p.into_inner()));
        for s in &batch {
            stats.add(s);
        }
    }
}

struct Worker {
    prober: Arc<Prober>,
    spec: Arc<LoadSpec>,
    buffers: Buffers,
    /// The I/O thread this worker runs on, whose buffer it fills.
    thread: usize,
    done: Shutdown,
    budget: Arc<AtomicU64>,
    progress: Arc<Progress>,
    deadline: Option<tokio::time::Instant>,
    observe: Option<(Arc<crate::publish::metrics::Metrics>, String)>,
}

impl Worker {
    /// True while requests may still start; takes one from the budget.
    fn may_start(&self) -> bool {
        if self.done.is_stopping() {
            return false;
        }
        if self
            .deadline
            .is_some_and(|d| tokio::time::Instant::now() >= d)
        {
            return false;
        }
        match self.spec.requests {
            Some(max) => self.budget.fetch_add(1, Ordering::Relaxed) < max,
            None => true,
        }
    }

    fn record(&self, r: &ProbeResult, thread: usize) {
        if let Some((metrics, location)) = &self.observe {
            metrics.observe(r, location);
        }
        let Some(s) = sample_of(r) else { return };
        self.progress.done.fetch_add(1, Ordering::Relaxed);
        if !s.ok {
            self.progress.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.buffers[thread]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(s);
    }

    async fn closed_loop(self) {
        let mut kept: Option<Kept> = None;
        while self.may_start() {
            self.progress.started.fetch_add(1, Ordering::Relaxed);
            let stop = self.done.wait();
            let r = if self.spec.reuse {
                self.prober
                    .probe_kept(&self.spec.request, &mut kept, stop)
                    .await
            } else {
                self.prober.probe_until(&self.spec.request, stop).await
            };
            self.record(&r, self.thread);
        }
    }

    async fn open_loop(
        self,
        rate: f64,
        max_in_flight: usize,
        threads: Vec<tokio::runtime::Handle>,
    ) {
        let period = Duration::from_secs_f64(1.0 / rate.clamp(RATES.0, RATES.1));
        let mut ticks = tokio::time::interval(period);
        // Behind schedule, start the missed requests at once: the open model's promise.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let in_flight = Arc::new(AtomicU64::new(0));
        let pools: Arc<Vec<std::sync::Mutex<Vec<Kept>>>> = Arc::new(
            threads
                .iter()
                .map(|_| std::sync::Mutex::new(Vec::new()))
                .collect(),
        );
        let this = Arc::new(self);
        let mut next = 0usize;
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = this.done.wait() => break,
            }
            if !this.may_start() {
                break;
            }
            if in_flight.load(Ordering::Relaxed) as usize >= max_in_flight {
                this.progress.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            in_flight.fetch_add(1, Ordering::Relaxed);
            this.progress.started.fetch_add(1, Ordering::Relaxed);
            let (w, flight, pools) = (this.clone(), in_flight.clone(), pools.clone());
            let thread = next % threads.len();
            next += 1;
            tasks.spawn_on(
                async move {
                    let stop = w.done.wait();
                    let r = if w.spec.reuse {
                        let mut kept = pools[thread]
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .pop();
                        let r = w.prober.probe_kept(&w.spec.request, &mut kept, stop).await;
                        if let Some(k) = kept {
                            pools[thread]
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(k);
                        }
                        r
                    } else {
                        w.prober.probe_until(&w.spec.request, stop).await
                    };
                    w.record(&r, thread);
                    flight.fetch_sub(1, Ordering::Relaxed);
                },
                &threads[thread],
            );
            // Reap finished tasks so the set does not grow with the run.
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
    }
}
