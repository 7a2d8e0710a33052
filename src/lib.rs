//! perftest measures HTTP(S) endpoints phase by phase (DNS, TCP, TLS, first byte, last byte)
//! and runs Lua scenarios that decide what to probe, how often, and what to do with it.
//!
//! # Layout
//!
//! - [`cli`]: the command line. The classic flags become `perftest.args` for the bundled
//!   `scripts/default.lua`; `run`, `scripts` pick other scenarios.
//! - [`engine`]: the Lua runtime. One Lua state on the main thread runs the scenario as a
//!   coroutine; `perftest.probe` hands each sample to the prober on tokio's worker threads and
//!   the coroutine waits for the result table. Knows no sockets.
//! - [`probe`]: the measuring core. Resolve, connect, TLS, request, first byte, last byte, each
//!   timed where the socket event happens. Knows no Lua.
//! - [`io_pool`]: the I/O threads, one current-thread runtime per core, where samples run.
//! - [`stats`], [`thresholds`], [`summary`]: what samples add up to, the pass/fail criteria
//!   over them (k6's grammar) and the end-of-run report.
//! - [`load`]: a bounded load (closed or open model) run in Rust, feeding [`stats`].
//! - [`shutdown`], [`output`], [`location`]: the stop signal, stdout, and From_Location.
//! - [`healthcheck`]: `perftest healthcheck`, the image's HEALTHCHECK against `/healthz`.
//!
//! A sample flows: script -> `perftest.probe` -> [`probe::Prober::probe_until`] on a worker ->
//! [`probe::ProbeResult`] -> a Lua table -> the script prints, aggregates, alerts.

// Writes to stdout and stderr go through `output`: std's print macros panic on a full disk
// or a closed pipe.
#![deny(clippy::print_stdout, clippy::print_stderr)]

#[macro_use]
pub mod output;
pub mod cli;
pub mod engine;
pub mod figures;
pub mod healthcheck;
pub mod io_pool;
pub mod limits;
pub mod load;
pub mod location;
pub mod panics;
pub mod probe;
pub mod publish;
pub mod serve;
pub mod shutdown;
pub mod stats;
pub mod summary;
pub mod thresholds;

use engine::{Ctx, Script, ScriptArgs};
use shutdown::Shutdown;

/// Runs what the command line asks for and returns the process exit code.
pub fn run(cli: cli::Cli) -> i32 {
    panics::install_hook();
    let verbosity = cli.classic.verbosity();
    init_logging(verbosity);
    if cli.command.is_some()
        && let Some(flag) = cli.classic.classic_only_flag()
    {
        errln!(
            "perftest: {flag} belongs to the classic command line; a scenario takes its options after its name (perftest run default -n 5 URL)"
        );
        return 2;
    }
    match cli.command {
        Some(cli::Command::Scripts {
            definitions: true, ..
        }) => output::print_text(engine::scripts::DEFINITIONS),
        Some(cli::Command::Scripts { name: None, .. }) => {
            let mut text = String::new();
            for (name, source) in engine::scripts::BUNDLED {
                text.push_str(&format!(
                    "{name:<10} {}\n",
                    engine::scripts::summary(source)
                ));
            }
            text.push_str(
                "\nperftest scripts NAME describes one; perftest run NAME --help lists its options.\n",
            );
            output::print_text(&text)
        }
        Some(cli::Command::Scripts {
            name: Some(name), ..
        }) => match engine::scripts::bundled(&name) {
            Some(s) => output::print_text(&engine::scripts::header(&s.source)),
            None => {
                errln!("perftest: no bundled scenario '{name}' (see perftest scripts)");
                2
            }
        },
        Some(cli::Command::Run { script, .. }) if script == "--help" || script == "-h" => {
            use clap::CommandFactory;
            let mut cmd = cli::Cli::command();
            if let Some(run) = cmd.find_subcommand_mut("run") {
                let _ = run.print_help();
            }
            0
        }
        Some(cli::Command::Run { script, args }) => match engine::scripts::find(&script) {
            Ok(s) => execute(&s, ScriptArgs::List(args), verbosity),
            Err(e) => {
                errln!("perftest: {e}");
                2
            }
        },
        Some(cli::Command::Healthcheck { port, url, timeout }) => {
            healthcheck::run(port, url, timeout)
        }
        Some(cli::Command::Repl) => with_runtime(verbosity, engine::repl::run),
        Some(cli::Command::BenchLoad {
            url,
            concurrency,
            duration,
            requests,
            reuse,
        }) => with_runtime(verbosity, move |ctx| {
            bench_load(ctx, url, concurrency, duration, requests, reuse)
        }),
        None if cli.classic.without_urls() => {
            // As the Go tool: the usage, and exit status 1.
            errln!("{}", cli::no_urls_message().trim_end_matches('\n'));
            1
        }
        None => {
            let script = engine::scripts::bundled("default").expect("default.lua is bundled");
            execute(
                &script,
                ScriptArgs::Classic(Box::new(cli.classic)),
                verbosity,
            )
        }
    }
}

fn execute(script: &Script, args: ScriptArgs, verbosity: u8) -> i32 {
    with_runtime(verbosity, |ctx| engine::run(script, args, ctx))
}

/// Runs `work` on the main thread's runtime, with the I/O threads and the stop signal ready.
fn with_runtime<'a, F, Fut>(verbosity: u8, work: F) -> i32
where
    F: FnOnce(std::rc::Rc<Ctx>) -> Fut,
    Fut: std::future::Future<Output = i32> + 'a,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("perftest: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let code = runtime.block_on(async {
        let shutdown = Shutdown::new();
        let io = match io_pool::IoPool::for_this_machine() {
            Ok(io) => io,
            Err(e) => {
                errln!("perftest: cannot start the I/O threads: {e}");
                return 1;
            }
        };
        shutdown.listen_for_signals(io.first());
        let ctx = Ctx::new(shutdown, io, location::from_env(), verbosity);
        let local = tokio::task::LocalSet::new();
        local.run_until(work(ctx)).await
    });
    // Whatever is still in flight was interrupted; do not wait for it.
    runtime.shutdown_background();
    code
}

/// `perftest bench-load`: the load engine driven from Rust alone; prints one JSON line.
async fn bench_load(
    ctx: std::rc::Rc<Ctx>,
    url: String,
    concurrency: usize,
    duration: Option<f64>,
    requests: Option<u64>,
    reuse: bool,
) -> i32 {
    let request = match probe::ProbeRequest::new(&url) {
        Ok(r) => r,
        Err(e) => {
            errln!("perftest: {e}");
            return 2;
        }
    };
    let model = load::Model::Closed { concurrency };
    let duration = match duration.map(|d| load::load_seconds("-d", d)).transpose() {
        Ok(d) => d,
        Err(e) => {
            errln!("perftest: {e}");
            return 2;
        }
    };
    if let Err(e) = model.check() {
        errln!("perftest: -c: {e}");
        return 2;
    }
    let spec = load::LoadSpec {
        request,
        model,
        duration,
        requests: requests.or(if duration.is_none() { Some(1000) } else { None }),
        reuse,
        abort: Vec::new(),
    };
    let progress = std::sync::Arc::new(load::Progress::default());
    let out = load::run(
        ctx.prober.clone(),
        &ctx.io,
        spec,
        &url,
        None,
        ctx.shutdown.clone(),
        progress,
        None,
    )
    .await;
    let total = stats::trend_index("total").expect("total is a trend");
    let scope = stats::Scope::Run;
    let line = serde_json::json!({
            "count": out.stats.count(scope),
            "ok": out.stats.ok(scope),
            "elapsed": out.elapsed.as_secs_f64(),
            "rate": out.stats.count(scope) as f64 / out.elapsed.as_secs_f64().max(1e-9),
            "p50": out.stats.aggregate(total, &stats::Agg::Med, scope),
            "p99": out.stats.aggregate(total, &stats::Agg::P(99.0), scope),
    });
    output::print_text(&format!("{line}\n"))
}

fn init_logging(verbosity: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| {
            let level = if verbosity >= 3 {
                LevelFilter::DEBUG
            } else {
                LevelFilter::WARN
            };
            Targets::new()
                .with_target("perftest", level)
                // Other crates (the AWS SDK) warn about what perftest reports itself.
                .with_default(if verbosity >= 3 {
                    LevelFilter::WARN
                } else {
                    LevelFilter::ERROR
                })
        });
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(|| output::Stderr)
                // Its own complaint about a failed write would go to the same stderr.
                .log_internal_errors(false)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false),
        )
        .with(targets)
        .try_init();
}
