//! `perftest bench-load`: the load engine driven from Rust alone, so bench/ can tell what the
//! Lua layer costs; prints one JSON line. Knows no Lua.

use std::sync::Arc;

use crate::io_pool::IoPool;
use crate::probe::{ProbeRequest, Prober};
use crate::shutdown::Shutdown;
use crate::{load, output, stats};

/// What to run: the subcommand's arguments.
pub struct Args {
    pub url: String,
    pub concurrency: usize,
    pub duration: Option<f64>,
    pub requests: Option<u64>,
    pub reuse: bool,
}

/// Runs the load and prints `{count, ok, elapsed, rate, p50, p99}`; the exit code.
pub async fn run(prober: Arc<Prober>, io: &IoPool, shutdown: Shutdown, args: Args) -> i32 {
    let request = match ProbeRequest::new(&args.url) {
        Ok(r) => r,
        Err(e) => {
            errln!("perftest: {e}");
            return 2;
        }
    };
    let model = load::Model::Closed {
        concurrency: args.concurrency,
    };
    let duration = match args
        .duration
        .map(|d| load::load_seconds("-d", d))
        .transpose()
    {
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
        requests: args
            .requests
            .or(if duration.is_none() { Some(1000) } else { None }),
        reuse: args.reuse,
        abort: Vec::new(),
    };
    let progress = Arc::new(load::Progress::default());
    let out = load::run(prober, io, spec, &args.url, None, shutdown, progress, None).await;
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
