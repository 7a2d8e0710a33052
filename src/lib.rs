//! perftest measures HTTP(S) endpoints phase by phase (DNS, TCP, TLS, first byte, last byte)
//! and runs Lua scenarios that decide what to probe, how often, and what to do with it.
//!
//! # Layout
//!
//! The rooms, each knowing nothing of the others' insides:
//!
//! - [`probe`]: the measuring core. Resolve, connect, TLS, request, first byte, last byte, each
//!   timed where the socket event happens (one file per event). Knows no Lua.
//! - `engine`: the Lua runtime. One Lua state on the main thread runs the scenario as a
//!   coroutine; `perftest.probe` hands each sample to the prober on the I/O threads and the
//!   coroutine waits for the result table. One file per area of the API, each with its own
//!   `register` (`probe_api`, `time_api`, `stats_api`, `load_api`, `publish_api`, ...), around
//!   `context` (what the verbs share), `options` (option tables as serde structs), `sample`
//!   (a sample's fields as scripts see them) and `verbs` (how a verb reaches Lua). Knows no
//!   sockets. Nothing outside `lib.rs` imports it: the fuzz targets reach its entry points
//!   through `perftest::fuzzing`.
//! - `publish`: where samples go: CloudWatch (behind the `MetricSink` trait), webhooks,
//!   alert channels, the Prometheus registry (`metrics`, `histogram`) and remote write, each
//!   behind a bounded, retrying queue. Knows no Lua.
//! - `stats`, `thresholds`, `summary`: what samples add up to, the pass/fail criteria over
//!   them (k6's grammar) and the end-of-run report.
//! - `load`: a bounded load (closed or open model) run in Rust, feeding `stats`;
//!   `bench_load` drives it without Lua for bench/.
//! - `serve`: the web server (`/metrics`, `/memstats`, `/healthz`), reading `figures` (the
//!   process's counters) and the metrics registry.
//!
//! Around them: `cli` (the command line; the classic flags, each defined once in `Classic`,
//! become `perftest.args` for the bundled `scripts/default.lua`), `scripts` (the bundled
//! scenarios and Lua modules, read by the engine and by `cli`'s completions), `fuzz` (the fuzz
//! entry points that need no Lua), `io_pool` (one current-thread runtime per core, where
//! samples run), `shutdown` (the stop signal), `output` (stdout and stderr that survive a
//! closed pipe), `color` (when to write colour: `--color`, NO_COLOR, CLICOLOR_FORCE),
//! `location` (From_Location), `limits` (the open-file limit), `panics` (a panic as one line
//! and exit 70), `healthcheck` (`perftest healthcheck`), `plot` (`perftest plot`: percentiles
//! over time per location from `--jsonl` rows or Prometheus, as PNG, SVG or CSV; nothing a
//! probe runs reaches it).
//!
//! A sample flows: script -> `perftest.probe` -> [`probe::Prober::probe_until`] on an I/O
//! thread -> [`probe::ProbeResult`] -> a Lua table -> the script prints, aggregates
//! (`stats:add`), publishes, alerts.

// Writes to stdout and stderr go through `output`: std's print macros panic on a full disk
// or a closed pipe.
#![deny(clippy::print_stdout, clippy::print_stderr)]

/// An error type for what crosses a room: one line naming the bad input and the fix.
macro_rules! input_error {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::error::Error for $name {}

        // The message reads as text: `e.contains("port")` in a test, `&e` where a &str goes.
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(message: String) -> Self {
                $name(message)
            }
        }

        impl From<&str> for $name {
            fn from(message: &str) -> Self {
                $name(message.to_string())
            }
        }

        impl From<$name> for String {
            fn from(e: $name) -> String {
                e.0
            }
        }
    };
}

#[macro_use]
mod output;
mod bench_load;
mod cli;
mod color;
mod engine;
mod figures;
mod fuzz;
mod healthcheck;
mod io_pool;
mod limits;
mod load;
mod location;
mod panics;
mod plot;
pub mod probe;
mod publish;
mod scripts;
mod serve;
mod shutdown;
mod stats;
mod summary;
mod thresholds;

/// The remote-write protocol's messages, for tests that decode what perftest sent.
#[doc(hidden)]
pub use publish::remote_write::proto as remote_write_proto;

/// Entry points for the fuzz targets (fuzz/): the parsers that take outside input. The ones
/// through Lua live in the engine, and this is their door: no other module imports it.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::engine::fuzzing::{json, options, response};
    pub use crate::fuzz::{ProbeRequest, Target, Threshold, go_forms, parse_classic};
    pub use crate::fuzz::{thresholds, url};

    /// The classic command line: NUL-separated words through Go's forms and clap, and the
    /// flags parsed made `perftest.args`.
    pub fn classic(data: &[u8]) {
        if let Some(c) = crate::fuzz::classic(data) {
            crate::engine::fuzzing::classic(&c);
        }
    }
}

use engine::{ScriptArgs, Services};
use scripts::Script;
use shutdown::Shutdown;

/// The process: parses the command line, runs it, and turns a panic that reached this far
/// (reported on one line by the hook) into exit 70 (`panics::EXIT_INTERNAL`).
pub fn main() -> std::process::ExitCode {
    let cli = cli::parse();
    let code = std::panic::catch_unwind(|| run(cli)).unwrap_or(panics::EXIT_INTERNAL);
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Runs what the command line asks for and returns the process exit code.
fn run(cli: cli::Cli) -> i32 {
    panics::install_hook();
    if let Some(when) = cli.classic.color {
        color::set(when);
    }
    // A fault outside any script, for the test of exit 70; debug builds only.
    #[cfg(debug_assertions)]
    if std::env::var_os("PERFTEST_TEST_PANIC").is_some_and(|v| v == "outside") {
        panic!("injected fault outside any script");
    }
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
    if let Some(e) = cli::subcommand_as_url(&cli.classic.urls) {
        errln!("{e}");
        return 2;
    }
    match cli.command {
        Some(cli::Command::Version) => {
            output::print_text(concat!("perftest ", env!("CARGO_PKG_VERSION"), "\n"))
        }
        Some(cli::Command::Completions { shell }) => {
            output::print_text(&String::from_utf8_lossy(&cli::completions(shell)))
        }
        Some(cli::Command::Man { dir }) => match cli::man_pages(dir.as_deref()) {
            Ok(page) => output::print_text(&String::from_utf8_lossy(&page)),
            Err(e) => {
                errln!("perftest: cannot render the man page: {e}");
                70
            }
        },
        Some(cli::Command::Scripts {
            definitions: true, ..
        }) => output::print_text(scripts::DEFINITIONS),
        Some(cli::Command::Scripts { name: None, .. }) => {
            let mut text = String::new();
            for (name, source) in scripts::BUNDLED {
                text.push_str(&format!("{name:<10} {}\n", scripts::summary(source)));
            }
            text.push_str(
                "\nperftest scripts NAME describes one; perftest run NAME --help lists its options.\n",
            );
            output::print_text(&text)
        }
        Some(cli::Command::Scripts {
            name: Some(name), ..
        }) => match scripts::bundled(&name) {
            Some(s) => output::print_text(&scripts::header(&s.source)),
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
        Some(cli::Command::Run { script, args }) => match scripts::find(&script) {
            Ok(s) => execute(&s, ScriptArgs::List(args), verbosity),
            Err(e) => {
                errln!("perftest: {e}");
                2
            }
        },
        Some(cli::Command::Healthcheck { port, url, timeout }) => {
            healthcheck::run(port, url, timeout)
        }
        Some(cli::Command::Plot(args)) => plot::run(*args, verbosity == 0),
        Some(cli::Command::Repl) => with_runtime(verbosity, engine::repl::run),
        Some(cli::Command::BenchLoad {
            url,
            concurrency,
            duration,
            requests,
            reuse,
        }) => with_runtime(verbosity, move |svc| async move {
            let args = bench_load::Args {
                url,
                concurrency,
                duration,
                requests,
                reuse,
            };
            bench_load::run(svc.prober.clone(), &svc.io, svc.shutdown.clone(), args).await
        }),
        None if cli.classic.without_urls() => {
            // As the Go tool: the usage, and exit status 1.
            errln!("{}", cli::no_urls_message().trim_end_matches('\n'));
            1
        }
        None => {
            let script = scripts::bundled("default").expect("default.lua is bundled");
            execute(
                &script,
                ScriptArgs::Classic(Box::new(cli.classic)),
                verbosity,
            )
        }
    }
}

fn execute(script: &Script, args: ScriptArgs, verbosity: u8) -> i32 {
    with_runtime(verbosity, |svc| engine::run(script, args, svc))
}

/// Runs `work` on the main thread's runtime, with the I/O threads and the stop signal ready.
fn with_runtime<'a, F, Fut>(verbosity: u8, work: F) -> i32
where
    F: FnOnce(Services) -> Fut,
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
        // A run that lasts gives back what a burst of probes left free.
        io.first()
            .spawn(figures::trim_heap_every(std::time::Duration::from_secs(60)));
        let svc = Services::new(shutdown, io, location::from_env(), verbosity);
        let local = tokio::task::LocalSet::new();
        local.run_until(work(svc)).await
    });
    // Whatever is still in flight was interrupted; do not wait for it.
    runtime.shutdown_background();
    code
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
                .with_ansi(color::stderr())
                .with_target(false),
        )
        .with(targets)
        .try_init();
}
