//! The Lua runtime: one Lua state on the main thread, scripts as coroutines, probes as tokio
//! tasks on the I/O workers that the coroutines await. Knows no sockets.

pub(crate) mod api;
mod args;
mod checks_api;
pub(crate) mod convert;
mod errors;
mod load_api;
mod publish_api;
mod remote_write_api;
pub mod repl;
mod result_api;
pub mod scripts;
mod stats_api;
mod tasks;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use mlua::{Lua, Table, Value};

pub use scripts::Script;

use crate::io_pool::IoPool;
use crate::output::Output;
use crate::probe::Prober;
use crate::shutdown::Shutdown;

/// What every verb shares: the prober, the stop signal, stdout, the run's bookkeeping.
pub struct Ctx {
    pub prober: Arc<Prober>,
    pub io: IoPool,
    pub shutdown: Shutdown,
    pub out: Output,
    pub location: String,
    /// 0 quiet, 1 normal, 2 verbose (tracebacks), 3 debug.
    pub verbosity: u8,
    /// What the web server shows: probes done, tasks alive, the Lua heap, publishers.
    pub figures: Arc<crate::figures::Figures>,
    /// Every sample is recorded here once the web server or a remote write runs.
    pub metrics: std::cell::OnceCell<Arc<crate::publish::metrics::Metrics>>,
    publishers: publish_api::Publishers,
    /// A threshold failed (the exit code will be 99, as k6's).
    pub thresholds_failed: Cell<bool>,
    stats: stats_api::Registry,
    tasks: tasks::Tasks,
    exit_code: Cell<Option<i32>>,
    unjoined_failures: Cell<usize>,
    /// Samples taken and those that got a response, for [`EXIT_UNAVAILABLE`].
    samples: Cell<(u64, u64)>,
}

/// A scenario in which every sample failed (none got a response) exits with this, as
/// sysexits' EX_UNAVAILABLE, so `perftest run monitor -n 3 URL || page-someone` works; the
/// classic command line keeps Go's 0.
pub const EXIT_UNAVAILABLE: i32 = 69;

impl Ctx {
    pub fn new(shutdown: Shutdown, io: IoPool, location: String, verbosity: u8) -> Rc<Ctx> {
        Rc::new(Ctx {
            prober: Arc::new(Prober::new()),
            io,
            out: Output::new(shutdown.clone()),
            shutdown,
            location,
            verbosity,
            figures: Arc::new(crate::figures::Figures::default()),
            metrics: std::cell::OnceCell::new(),
            publishers: publish_api::Publishers::default(),
            thresholds_failed: Cell::new(false),
            stats: stats_api::Registry::default(),
            tasks: tasks::Tasks::default(),
            exit_code: Cell::new(None),
            unjoined_failures: Cell::new(0),
            samples: Cell::new((0, 0)),
        })
    }

    /// Counts a sample, records it for /metrics when the server runs, and notes the Lua heap.
    pub(crate) fn record_sample(&self, lua: &Lua, r: &crate::probe::ProbeResult) {
        use std::sync::atomic::Ordering;
        self.figures.probes_done.fetch_add(1, Ordering::Relaxed);
        self.figures
            .lua_bytes
            .store(lua.used_memory() as u64, Ordering::Relaxed);
        if let Some(m) = self.metrics.get() {
            m.observe(r, &self.location);
        }
        // A sample cut short by Ctrl-C says nothing about the target.
        let interrupted = r
            .error
            .as_ref()
            .is_some_and(|e| e.kind == crate::probe::ErrorKind::Interrupted);
        if !interrupted {
            self.count_samples(1, u64::from(r.ok()));
        }
    }

    /// Adds `taken` samples of which `answered` got a response.
    pub(crate) fn count_samples(&self, taken: u64, answered: u64) {
        let (t, a) = self.samples.get();
        self.samples.set((t + taken, a + answered));
    }

    /// Some sample was taken and none got a response.
    fn every_sample_failed(&self) -> bool {
        let (taken, answered) = self.samples.get();
        taken > 0 && answered == 0
    }

    fn request_exit(&self, code: i32) {
        if self.exit_code.get().is_none() {
            self.exit_code.set(Some(code));
        }
        self.shutdown.trigger();
    }

    fn report_error(&self, what: &str, e: &mlua::Error) {
        errln!("{}", tasks::error_text(what, e, self.verbosity >= 2));
    }
}

/// A script's arguments: the parsed classic flags, or the words after `perftest run NAME`.
pub enum ScriptArgs {
    Classic(Box<crate::cli::Classic>),
    List(Vec<String>),
}

/// Builds a Lua state with perftest installed.
pub fn new_lua(
    ctx: &Rc<Ctx>,
    args: &ScriptArgs,
    dir: Option<&std::path::Path>,
) -> mlua::Result<Lua> {
    let lua = Lua::new();
    lua.set_app_data(ctx.clone());
    // A script that keeps every sample in a table must not take the machine down with it.
    let _ = lua.set_memory_limit(memory_limit());
    // A new collection cycle when the heap has grown 20% past what the last one left, not
    // the default 100%: a monitor's garbage is a result table per sample, and a thousand
    // targets left 7 MiB of it waiting (4 MiB less; the suite saw no CPU cost).
    lua.gc_set_mode(mlua::state::GcMode::Incremental(
        mlua::state::GcIncParams::default()
            .pause(120)
            .step_multiplier(200),
    ));
    stop_runaway_scripts(&lua, ctx)?;
    let args_value = match args {
        ScriptArgs::Classic(c) => Value::Table(args::classic_table(&lua, c)?),
        ScriptArgs::List(l) => args::list_table(&lua, l)?,
    };
    let (perftest, native) = api::build(&lua, ctx, args_value)?;
    stats_api::install(&lua, &native, ctx)?;
    load_api::install(&lua, &native, ctx)?;
    publish_api::install(&lua, &native, ctx)?;
    remote_write_api::install(&lua, &native, ctx)?;
    result_api::register(&lua, &native)?;
    checks_api::register(&lua, &native)?;
    let prelude = scripts::stdlib("perftest.prelude").expect("bundled");
    lua.load(prelude)
        .set_name("@perftest/prelude.lua")
        .call::<()>((perftest.clone(), native))?;
    lua.globals().set("perftest", perftest.clone())?;
    install_modules(&lua, perftest, dir)?;
    Ok(lua)
}

/// The Lua heap's limit in bytes: PERFTEST_LUA_MEMORY_MB, 1024 by default; a bad value is
/// named and the default kept.
fn memory_limit() -> usize {
    const DEFAULT_MB: usize = 1024;
    let Ok(text) = std::env::var("PERFTEST_LUA_MEMORY_MB") else {
        return DEFAULT_MB << 20;
    };
    match text.trim().parse::<usize>().ok().filter(|mb| *mb > 0) {
        Some(mb) => mb.saturating_mul(1 << 20),
        None => {
            errln!(
                "perftest: PERFTEST_LUA_MEMORY_MB={text} is not a whole number of MiB above 0; using {DEFAULT_MB}"
            );
            DEFAULT_MB << 20
        }
    }
}

/// How long a script may keep running without yielding after a stop was asked for.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// A script in a loop that never waits would ignore SIGINT; every 100,000 instructions a
/// hook checks, and ends it with an error once the stop is older than [`STOP_GRACE`].
fn stop_runaway_scripts(lua: &Lua, ctx: &Rc<Ctx>) -> mlua::Result<()> {
    let shutdown = ctx.shutdown.clone();
    lua.set_global_hook(
        mlua::HookTriggers::new().every_nth_instruction(100_000),
        move |_, debug| match shutdown.stopping_for() {
            Some(d) if d > STOP_GRACE => {
                let src = debug.source();
                let at = match (src.short_src, debug.current_line()) {
                    (Some(file), Some(line)) => format!("{file}:{line}: "),
                    _ => String::new(),
                };
                Err(mlua::Error::runtime(format!(
                    "{at}stopped: still running {}s after the stop was asked for (a loop should check perftest.stopping())",
                    STOP_GRACE.as_secs()
                )))
            }
            _ => Ok(mlua::VmState::Continue),
        },
    )
}

/// `require "perftest"` gives the global table; `require "perftest.x"` finds the bundled
/// module unless a file of that name sits next to the script.
fn install_modules(lua: &Lua, perftest: Table, dir: Option<&std::path::Path>) -> mlua::Result<()> {
    let package: Table = lua.globals().get("package")?;
    let preload: Table = package.get("preload")?;
    preload.set(
        "perftest",
        lua.create_function(move |_, ()| Ok(perftest.clone()))?,
    )?;
    if let Some(dir) = dir {
        let path: String = package.get("path")?;
        let d = dir.display();
        package.set("path", format!("{d}/?.lua;{d}/?/init.lua;{path}"))?;
    }
    let searchers: Table = package.get("searchers")?;
    let bundled = lua.create_function(|lua, name: String| match scripts::stdlib(&name) {
        Some(src) => {
            let chunk = format!("@stdlib/{}.lua", name.replace('.', "/"));
            let loader = lua.load(src).set_name(chunk).into_function()?;
            Ok((
                Value::Function(loader),
                Value::String(lua.create_string(&name)?),
            ))
        }
        None => Ok((
            Value::String(lua.create_string(format!("\n\tno bundled module '{name}'"))?),
            Value::Nil,
        )),
    })?;
    // After preload (1) and the Lua path (2): a file next to the script wins over the bundle.
    searchers.raw_insert(3, bundled)?;
    // Keep io.stdout:write in line order with print, which is line-buffered too.
    lua.load("io.stdout:setvbuf('line')").exec()?;
    Ok(())
}

/// Runs `script` to its end and every task it spawned; returns the exit code.
pub async fn run(script: &Script, args: ScriptArgs, ctx: Rc<Ctx>) -> i32 {
    let lua = match new_lua(&ctx, &args, script.dir.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            ctx.report_error("starting Lua", &e);
            return 1;
        }
    };
    let main = match lua
        .load(script.source.as_str())
        .set_name(script.chunk_name.as_str())
        .into_function()
    {
        Ok(f) => f,
        Err(e) => {
            errln!("perftest: {}", errors::describe(&e));
            return 1;
        }
    };
    let mut code = run_to_end(&lua, main, &ctx).await;
    let classic = matches!(args, ScriptArgs::Classic(_)) || script.chunk_name == "@default.lua";
    if code == 0 && ctx.exit_code.get().is_none() && !classic && ctx.every_sample_failed() {
        if ctx.verbosity > 0 {
            errln!("perftest: no sample got a response (exit status {EXIT_UNAVAILABLE})");
        }
        code = EXIT_UNAVAILABLE;
    }
    // Whatever ended the run (its end, a signal, perftest.exit), publishers get their flush.
    publish_api::finish(&ctx).await;
    match ctx.out.exit_code() {
        Some(failed) if code == 0 => failed,
        _ => code,
    }
}

/// Runs the main chunk and waits for its tasks; returns the exit code.
async fn run_to_end(lua: &Lua, main: mlua::Function, ctx: &Rc<Ctx>) -> i32 {
    let mut code = 0;
    let ran = match tasks::call_caught(lua, main, mlua::MultiValue::new()) {
        Ok(run) => run.await,
        Err(e) => Err(e),
    };
    if let Err(e) = ran {
        match errors::exit_request(&e) {
            Some(c) => ctx.request_exit(c),
            None => {
                errln!("{}", tasks::error_text_main(&e, ctx.verbosity >= 2));
                code = 1;
            }
        }
    }
    // The script ends when its chunk and all its tasks have ended, or when it asks to exit.
    tokio::select! {
        _ = ctx.tasks.all_done() => {}
        _ = wait_exit(ctx) => {}
    }
    if let Some(c) = ctx.exit_code.get() {
        return c;
    }
    if code != 0 {
        return code;
    }
    stats_api::report_unreported(ctx);
    if ctx.thresholds_failed.get() {
        return 99;
    }
    if ctx.unjoined_failures.get() > 0 {
        code = 1;
    }
    code
}

async fn wait_exit(ctx: &Ctx) {
    loop {
        if ctx.exit_code.get().is_some() {
            return;
        }
        ctx.shutdown.wait().await;
        if ctx.exit_code.get().is_some() {
            return;
        }
        // Stopping without an exit request: the tasks end on their own.
        std::future::pending::<()>().await;
    }
}
