//! The Lua runtime: one Lua state on the main thread, scripts as coroutines, probes as tokio
//! tasks on the I/O workers that the coroutines await. Knows no sockets.

mod args;
mod checks_api;
mod context;
mod convert;
mod errors;
pub(crate) mod fuzzing;
mod json_api;
mod load_api;
mod options;
mod probe_api;
mod process_api;
mod publish_api;
mod remote_write_api;
pub mod repl;
mod result_api;
mod sample;
mod serve_api;
mod stats_api;
mod tasks;
mod time_api;
mod verbs;

use std::rc::Rc;

use mlua::{Lua, Table, Value};

pub use args::ScriptArgs;
use context::Ctx;
pub use context::Services;

use crate::scripts::{self, Script};

/// A scenario in which every sample failed (none got a response) exits with this, as
/// sysexits' EX_UNAVAILABLE, so `perftest run monitor -n 3 URL || page-someone` works; the
/// classic command line keeps Go's 0.
pub const EXIT_UNAVAILABLE: i32 = 69;

/// Builds a Lua state with perftest installed: every area registers its verbs, then the
/// prelude wraps the raising ones.
fn new_lua(ctx: &Rc<Ctx>, args: &ScriptArgs, dir: Option<&std::path::Path>) -> mlua::Result<Lua> {
    let lua = Lua::new();
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
    let api = verbs::Api::new(&lua)?;
    let native = lua.create_table()?;
    probe_api::register(&lua, &api, ctx)?;
    time_api::register(&lua, &api, &native, ctx)?;
    process_api::register(&lua, &api, ctx, args_value)?;
    json_api::register(&lua, &api)?;
    result_api::register(&lua, &api)?;
    sample::register(&lua, &api)?;
    checks_api::register(&lua, &api)?;
    stats_api::register(&lua, &api, ctx)?;
    load_api::register(&lua, &api, ctx)?;
    publish_api::register(&lua, &api, ctx)?;
    serve_api::register(&lua, &api, ctx)?;
    remote_write_api::register(&lua, &api, ctx)?;
    native.set("raising", api.raising_list())?;
    let perftest = api.perftest;
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
    let shutdown = ctx.svc.shutdown.clone();
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
pub async fn run(script: &Script, args: ScriptArgs, svc: Services) -> i32 {
    let ctx = Ctx::new(svc);
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
    if code == 0 && ctx.run.exit_code().is_none() && !classic && ctx.run.every_sample_failed() {
        if ctx.svc.verbosity > 0 {
            errln!("perftest: no sample got a response (exit status {EXIT_UNAVAILABLE})");
        }
        code = EXIT_UNAVAILABLE;
    }
    // Whatever ended the run (its end, a signal, perftest.exit), publishers get their flush.
    publish_api::finish(&ctx).await;
    match ctx.svc.out.exit_code() {
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
                errln!("{}", tasks::error_text_main(&e, ctx.svc.verbosity >= 2));
                code = 1;
            }
        }
    }
    // The script ends when its chunk and all its tasks have ended, or when it asks to exit.
    tokio::select! {
        _ = ctx.run.tasks.all_done() => {}
        _ = wait_exit(ctx) => {}
    }
    if let Some(c) = ctx.run.exit_code() {
        return c;
    }
    if code != 0 {
        return code;
    }
    stats_api::report_unreported(ctx);
    if ctx.run.thresholds_failed.get() {
        return 99;
    }
    if ctx.run.unjoined_failures.get() > 0 {
        code = 1;
    }
    code
}

async fn wait_exit(ctx: &Ctx) {
    loop {
        if ctx.run.exit_code().is_some() {
            return;
        }
        ctx.svc.shutdown.wait().await;
        if ctx.run.exit_code().is_some() {
            return;
        }
        // Stopping without an exit request: the tasks end on their own.
        std::future::pending::<()>().await;
    }
}
