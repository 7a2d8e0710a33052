//! What the verbs share, split by what it is: the [`Services`] a verb uses to do its work
//! (the prober, the I/O threads, the stop signal, stdout), and the [`RunState`] (what decides
//! the exit code, and what the run's end must wait for, flush or report). Every area's
//! `register` receives both as one [`Ctx`] and its closures and handles capture it; nothing
//! reaches it another way.

use std::cell::{Cell, OnceCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use mlua::Lua;

use super::publish_api::Publishers;
use super::stats_api::Registry;
use super::tasks::Tasks;
use crate::figures::Figures;
use crate::io_pool::IoPool;
use crate::output::Output;
use crate::probe::{ProbeResult, Prober};
use crate::publish::metrics::Metrics;
use crate::shutdown::Shutdown;

/// What a verb uses: made once per process, before any Lua.
pub struct Services {
    pub prober: Arc<Prober>,
    pub io: IoPool,
    pub shutdown: Shutdown,
    pub out: Output,
    /// From_Location, as results and series carry it.
    pub location: String,
    /// 0 quiet, 1 normal, 2 verbose (tracebacks), 3 debug.
    pub verbosity: u8,
    /// What the web server shows: probes done, tasks alive, the Lua heap, publishers.
    pub figures: Arc<Figures>,
}

impl Services {
    /// The services over `io`, stopping with `shutdown`.
    pub fn new(shutdown: Shutdown, io: IoPool, location: String, verbosity: u8) -> Services {
        Services {
            prober: Arc::new(Prober::new()),
            io,
            out: Output::new(shutdown.clone()),
            shutdown,
            location,
            verbosity,
            figures: Arc::new(Figures::default()),
        }
    }
}

/// The state of one run: its exit, its tasks, and what its end reports and flushes.
#[derive(Default)]
pub struct RunState {
    /// Asked for by perftest.exit (or os.exit) anywhere: the first one wins.
    exit_code: Cell<Option<i32>>,
    /// A threshold failed (the exit code will be 99, as k6's).
    pub thresholds_failed: Cell<bool>,
    pub tasks: Tasks,
    /// Tasks that failed with nobody joining them (the run then exits 1).
    pub unjoined_failures: Cell<usize>,
    /// Stats objects, for the thresholds nobody reported.
    pub stats: Registry,
    /// Everything the run publishes through, flushed at its end.
    pub publishers: Publishers,
    /// Every sample is recorded here once the web server or a remote write runs.
    pub metrics: OnceCell<Arc<Metrics>>,
    /// The web server was started (once a run).
    pub serving: Cell<bool>,
    /// Samples taken and those that got a response, for [`super::EXIT_UNAVAILABLE`].
    samples: Cell<(u64, u64)>,
}

impl RunState {
    /// The code perftest.exit asked for, if it did.
    pub fn exit_code(&self) -> Option<i32> {
        self.exit_code.get()
    }

    /// Adds `taken` samples of which `answered` got a response.
    pub fn count_samples(&self, taken: u64, answered: u64) {
        let (t, a) = self.samples.get();
        self.samples.set((t + taken, a + answered));
    }

    /// Some sample was taken and none got a response.
    pub fn every_sample_failed(&self) -> bool {
        let (taken, answered) = self.samples.get();
        taken > 0 && answered == 0
    }
}

/// The services and the run, as every verb receives them.
pub struct Ctx {
    pub svc: Services,
    pub run: RunState,
}

impl Ctx {
    /// A new run over `svc`.
    pub fn new(svc: Services) -> Rc<Ctx> {
        Rc::new(Ctx {
            svc,
            run: RunState::default(),
        })
    }

    /// Counts a sample, records it for /metrics when the server runs, and notes the Lua heap.
    pub fn record_sample(&self, lua: &Lua, r: &ProbeResult) {
        let figures = &self.svc.figures;
        figures.probes_done.fetch_add(1, Ordering::Relaxed);
        figures
            .lua_bytes
            .store(lua.used_memory() as u64, Ordering::Relaxed);
        if let Some(m) = self.run.metrics.get() {
            m.observe(r, &self.svc.location);
        }
        // A sample cut short by Ctrl-C says nothing about the target.
        let interrupted = r
            .error
            .as_ref()
            .is_some_and(|e| e.kind == crate::probe::ErrorKind::Interrupted);
        if !interrupted {
            self.run.count_samples(1, u64::from(r.ok()));
        }
    }

    /// Ends the run with `code` (the first request wins) and asks everything to stop.
    pub fn request_exit(&self, code: i32) {
        if self.run.exit_code.get().is_none() {
            self.run.exit_code.set(Some(code));
        }
        self.svc.shutdown.trigger();
    }

    /// Reports `e` on stderr, with its traceback when verbose.
    pub fn report_error(&self, what: &str, e: &mlua::Error) {
        errln!(
            "{}",
            super::tasks::error_text(what, e, self.svc.verbosity >= 2)
        );
    }

    /// Marks a threshold failed (exit 99) and, for abort_on_fail, stops the run.
    pub fn threshold_failed(&self, stop: bool) {
        self.run.thresholds_failed.set(true);
        if stop {
            self.svc.shutdown.trigger();
        }
    }
}
