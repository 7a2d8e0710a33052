//! `perftest.load{...}`: a bounded load run by the Rust engine in [`crate::load`], with a
//! progress bar on a terminal; returns its statistics as a stats object.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mlua::{Lua, Table, Value};
use serde::Deserialize;

use super::context::Ctx;
use super::errors::rt;
use super::options::{self, Flag, Number, Raw, Text};
use super::verbs::Api;
use super::{convert, stats_api};
use crate::load::{self, LoadSpec, Model, Progress};

/// `perftest.load{...}`: every key it takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadOptions {
    url: Option<Text>,
    opts: Option<Raw>,
    concurrency: Option<Number>,
    rate: Option<Number>,
    max_in_flight: Option<Number>,
    duration: Option<Number>,
    requests: Option<Number>,
    reuse: Option<Flag>,
    progress: Option<Flag>,
    name: Option<Text>,
    window: Option<Number>,
    thresholds: Option<Raw>,
}

/// A count option as a whole number, or the error naming it.
fn whole(key: &str, n: Option<Number>) -> mlua::Result<Option<u64>> {
    options::count(n, key).map_err(|e| rt(format!("perftest.load: {e}")))
}

/// An option that must be a table if given.
fn table(key: &str, v: Option<Raw>) -> mlua::Result<Option<Table>> {
    match v {
        None => Ok(None),
        Some(Raw(Value::Table(t))) => Ok(Some(t)),
        Some(Raw(other)) => Err(rt(format!(
            "perftest.load: {key} must be a table, got {}",
            other.type_name()
        ))),
    }
}

/// Registers `perftest.load`: its stats object and a table of run facts.
pub fn register(lua: &Lua, api: &Api, ctx: &Rc<Ctx>) -> mlua::Result<()> {
    let c = ctx.clone();
    api.raising_async(lua, &api.perftest, "load", "", move |lua, spec: Table| {
        let ctx = c.clone();
        async move { run(&lua, &ctx, spec).await }
    })
}

async fn run(lua: &Lua, ctx: &Rc<Ctx>, t: Table) -> mlua::Result<(Value, Table)> {
    let o: LoadOptions = options::parse(&t, "").map_err(|e| rt(format!("perftest.load: {e}")))?;
    let Some(Text(url)) = o.url else {
        return Err(rt("perftest.load: give url = \"https://...\""));
    };
    let opts = table("opts", o.opts)?;
    // The hot loop reads no TCP_INFO unless the script asks (opts.tcp_info = true).
    let request = convert::request(&url, opts.as_ref(), false)
        .map_err(|e| rt(format!("perftest.load: {e}")))?;
    if request.keep_body.is_some() {
        return Err(rt(
            "perftest.load: opts.keep_body: a load keeps no bodies; use perftest.probe or a session to read one",
        ));
    }
    let secs = |key: &str, n: Option<Number>| -> mlua::Result<Option<Duration>> {
        n.map(|Number(s)| load::load_seconds(key, s).map_err(|e| rt(format!("perftest.load: {e}"))))
            .transpose()
    };
    let duration = secs("duration", o.duration)?;
    let requests = whole("requests", o.requests)?;
    if duration.is_none() && requests.is_none() {
        return Err(rt(
            "perftest.load: give duration (seconds) or requests (a count): a load is bounded",
        ));
    }
    let count = |key: &str, n: Option<Number>| -> mlua::Result<Option<usize>> {
        Ok(whole(key, n)?.map(|n| usize::try_from(n).unwrap_or(usize::MAX)))
    };
    let concurrency = count("concurrency", o.concurrency)?;
    let model = match (o.rate, concurrency) {
        (Some(_), Some(_)) => {
            return Err(rt(
                "perftest.load: give concurrency (closed model) or rate (open model), not both",
            ));
        }
        (Some(Number(r)), None) => Model::Open {
            rate: r,
            max_in_flight: count("max_in_flight", o.max_in_flight)?
                .unwrap_or_else(|| crate::limits::load_connections().min(10_000)),
        },
        (None, c) => Model::Closed {
            concurrency: c.unwrap_or(1).max(1),
        },
    };
    model
        .check()
        .map_err(|e| rt(format!("perftest.load: {e}")))?;
    let thresholds = match table("thresholds", o.thresholds)? {
        Some(spec) => stats_api::parse_thresholds(&spec)?,
        None => Vec::new(),
    };
    let name = o.name.map_or_else(|| url.clone(), |Text(n)| n);
    let window = secs("window", o.window)?;
    let spec = LoadSpec {
        request,
        model,
        duration,
        requests,
        reuse: o.reuse.is_some_and(|Flag(b)| b),
        abort: thresholds
            .iter()
            .filter(|th| th.abort_on_fail)
            .cloned()
            .collect(),
    };

    let progress = Arc::new(Progress::default());
    let bar = o
        .progress
        .is_none_or(|Flag(b)| b)
        .then(|| Bar::start(progress.clone(), duration, requests));
    let observe = ctx
        .run
        .metrics
        .get()
        .cloned()
        .map(|m| (m, ctx.svc.location.clone()));
    let svc = &ctx.svc;
    let outcome = load::run(
        svc.prober.clone(),
        &svc.io,
        spec,
        &name,
        window,
        svc.shutdown.clone(),
        progress,
        observe,
    )
    .await;
    if let Some(bar) = bar {
        bar.finish();
    }
    if let Some(label) = &outcome.aborted_by {
        errln!("perftest: threshold {label} failed; the load stopped early (abort_on_fail)");
        ctx.threshold_failed(false);
    }
    ctx.run.count_samples(
        outcome.stats.count(crate::stats::Scope::Run),
        outcome.stats.ok(crate::stats::Scope::Run),
    );
    ctx.svc.figures.probes_done.fetch_add(
        outcome.stats.count(crate::stats::Scope::Run),
        std::sync::atomic::Ordering::Relaxed,
    );
    let info = lua.create_table()?;
    info.set("dropped", outcome.dropped)?;
    info.set("elapsed", outcome.elapsed.as_secs_f64())?;
    info.set("aborted_by", outcome.aborted_by.clone())?;
    let stats = stats_api::wrap(ctx, outcome.stats, thresholds);
    Ok((Value::UserData(lua.create_userdata(stats)?), info))
}

/// A progress bar on stderr, drawn only on a terminal, fed from the load's counters.
struct Bar {
    bar: indicatif::ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Bar {
    fn start(progress: Arc<Progress>, duration: Option<Duration>, requests: Option<u64>) -> Bar {
        let by_time = duration.is_some();
        let len = match (duration, requests) {
            (Some(d), _) => d.as_millis() as u64,
            (None, Some(n)) => n,
            (None, None) => 0,
        };
        let bar = indicatif::ProgressBar::new(len);
        let style = indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {percent:>3}%  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        let b = bar.clone();
        let started = std::time::Instant::now();
        let ticker = tokio::task::spawn_local(async move {
            let mut every = tokio::time::interval(Duration::from_millis(200));
            loop {
                every.tick().await;
                let done = progress.done.load(Ordering::Relaxed);
                let failed = progress.failed.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                b.set_position(if by_time {
                    started.elapsed().as_millis() as u64
                } else {
                    done
                });
                b.set_message(format!(
                    "{done} requests, {:.0}/s, {failed} failed",
                    done as f64 / secs
                ));
            }
        });
        Bar { bar, ticker }
    }

    fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}
