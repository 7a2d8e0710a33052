//! `perftest.remote_write{...}`: the script side of [`crate::publish::remote_write`], and the
//! registry every sample is recorded in once the web server or a remote write runs (with the
//! bucket layouts a scenario chose).

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mlua::{Lua, MetaMethod, UserData, UserDataMethods, Value};
use serde::Deserialize;

use super::context::Ctx;
use super::errors::rt;
use super::options::{self, Number, Raw, Text};
use super::verbs::Api;
use crate::publish::histogram::Layout;
use crate::publish::metrics::{Buckets, Metrics, PHASES};
use crate::publish::remote_write::{Config, RemoteWrite};

/// The run's registry, made on first use with `buckets` (default: adaptive). `who` names the
/// verb in an error.
pub(super) fn registry(
    ctx: &Rc<Ctx>,
    buckets: Option<Buckets>,
    who: &str,
) -> mlua::Result<Arc<Metrics>> {
    if let Some(m) = ctx.run.metrics.get() {
        if buckets.as_ref().is_some_and(|b| b != m.buckets()) {
            return Err(rt(format!(
                "{who}: buckets are already set by an earlier perftest.serve or perftest.remote_write; give the same or none"
            )));
        }
        return Ok(m.clone());
    }
    let m = Arc::new(Metrics::new(
        ctx.svc.figures.clone(),
        buckets.unwrap_or_default(),
    ));
    let _ = ctx.run.metrics.set(m.clone());
    Ok(m)
}

/// `buckets = {from =, to =, count =}`: log-spaced boundaries.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSpaced {
    from: Option<Number>,
    to: Option<Number>,
    count: Option<Number>,
}

/// One layout: "adaptive", a list of boundaries in seconds, or {from =, to =, count =}.
fn layout(v: &Value, what: &str) -> mlua::Result<Layout> {
    let bad = |why: String| rt(format!("{what}: {why}"));
    let invalid = |e: crate::publish::InvalidConfig| bad(e.0);
    match v {
        Value::String(s) if s.to_string_lossy() == "adaptive" => Ok(Layout::Adaptive),
        Value::Table(t) if t.raw_len() > 0 => {
            let bounds: Vec<f64> = t
                .sequence_values::<f64>()
                .collect::<mlua::Result<_>>()
                .map_err(|_| bad("boundaries are numbers of seconds".into()))?;
            Layout::fixed(bounds).map_err(invalid)
        }
        Value::Table(t) => {
            let o: LogSpaced = options::parse(t, "").map_err(bad)?;
            let count = options::count(o.count, "count")
                .map_err(bad)?
                .map(|c| usize::try_from(c).unwrap_or(usize::MAX));
            match (o.from, o.to, count) {
                (Some(Number(f)), Some(Number(t)), Some(c)) => {
                    Layout::log_spaced(f, t, c).map_err(invalid)
                }
                _ => Err(bad(
                    "give \"adaptive\", a list of seconds, or {from =, to =, count =}".into(),
                )),
            }
        }
        other => Err(bad(format!(
            "give \"adaptive\", a list of seconds, or {{from =, to =, count =}}, got {}",
            other.type_name()
        ))),
    }
}

/// `buckets =`: one layout for every phase, or a table of them by phase.
pub(super) fn buckets(v: Value, who: &str) -> mlua::Result<Option<Buckets>> {
    let what = format!("{who}: buckets");
    match &v {
        Value::Nil => Ok(None),
        Value::Table(t)
            if t.raw_len() == 0 && PHASES.iter().any(|p| t.contains_key(*p).unwrap_or(false)) =>
        {
            let mut out = Buckets::default();
            for pair in t.pairs::<String, Value>() {
                let (k, val) = pair?;
                let Some(i) = PHASES.iter().position(|p| *p == k) else {
                    return Err(rt(format!(
                        "{what}.{k}: a phase is one of {}",
                        PHASES.join(", ")
                    )));
                };
                out.0[i] = layout(&val, &format!("{what}.{k}"))?;
            }
            Ok(Some(out))
        }
        other => {
            let l = layout(other, &what)?;
            Ok(Some(Buckets(std::array::from_fn(|_| l.clone()))))
        }
    }
}

/// `perftest.remote_write{...}`.
struct LuaRemoteWrite(Arc<RemoteWrite>);

impl UserData for LuaRemoteWrite {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("counters", |lua, this, ()| {
            let c = this.0.counters();
            let t = lua.create_table()?;
            t.set("recorded", c.recorded.load(Ordering::Relaxed))?;
            t.set("sent", c.sent.load(Ordering::Relaxed))?;
            t.set("dropped", c.dropped.load(Ordering::Relaxed))?;
            t.set("pending", this.0.pending())?;
            t.set("calls", c.calls.load(Ordering::Relaxed))?;
            t.set("failed_calls", c.failed_calls.load(Ordering::Relaxed))?;
            Ok(t)
        });
        m.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("remote write {}", this.0.shown()))
        });
    }
}

fn pairs(t: Option<Raw>, what: &str) -> mlua::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let t = match t {
        None => None,
        Some(Raw(Value::Table(t))) => Some(t),
        Some(Raw(other)) => {
            return Err(rt(format!(
                "perftest.remote_write: {what}: give a table of name = \"value\" strings, got {}",
                other.type_name()
            )));
        }
    };
    if let Some(t) = t {
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            match (k, v) {
                (Value::String(k), Value::String(v)) => {
                    out.push((k.to_string_lossy(), v.to_string_lossy()))
                }
                (k, v) => {
                    return Err(rt(format!(
                        "perftest.remote_write: {what}: give name = \"value\" strings, got {} = {}",
                        k.type_name(),
                        v.type_name()
                    )));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `perftest.remote_write{...}`: every key it takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoteWriteOptions {
    url: Option<Text>,
    interval: Option<Number>,
    labels: Option<Raw>,
    headers: Option<Raw>,
    max_pending: Option<Number>,
    timeout: Option<Number>,
    buckets: Option<Raw>,
}

fn remote_write(ctx: &Rc<Ctx>, spec: Value) -> mlua::Result<LuaRemoteWrite> {
    const WHO: &str = "perftest.remote_write";
    let spec = match spec {
        Value::Table(t) => t,
        other => {
            return Err(rt(format!(
                "{WHO}: give {{url = \"http://HOST:9090/api/v1/write\", ...}}, got {}",
                other.type_name()
            )));
        }
    };
    let o: RemoteWriteOptions = options::parse(&spec, "").map_err(|e| rt(format!("{WHO}: {e}")))?;
    let Some(Text(url)) = o.url else {
        return Err(rt(format!(
            "{WHO}: give url = \"http://HOST:9090/api/v1/write\""
        )));
    };
    let seconds = |key: &str, given: Option<Number>, default: f64| -> mlua::Result<Duration> {
        let v = given.map_or(default, |Number(v)| v);
        if !(v > 0.0 && v <= 86400.0) {
            return Err(rt(format!("{WHO}: {key} {v}: seconds, above 0")));
        }
        Ok(Duration::from_secs_f64(v))
    };
    // Every process must write series of its own: without these, the process-wide ones
    // (process_*, perftest_tasks...) of two cities would be one series written twice, and
    // Prometheus refuses the older of two samples.
    let mut labels = pairs(o.labels, "labels")?;
    for (k, v) in [("job", "perftest"), ("instance", ctx.svc.location.as_str())] {
        if !labels.iter().any(|(name, _)| name == k) {
            labels.push((k.to_string(), v.to_string()));
        }
    }
    labels.sort();
    let config = Config {
        url,
        interval: seconds("interval", o.interval, 15.0)?,
        labels,
        headers: pairs(o.headers, "headers")?,
        max_pending: options::count(o.max_pending, "max_pending")
            .map_err(|e| rt(format!("{WHO}: {e}")))?
            .unwrap_or(200_000),
        timeout: seconds("timeout", o.timeout, 10.0)?,
    };
    let metrics = registry(
        ctx,
        buckets(o.buckets.map_or(Value::Nil, |Raw(v)| v), WHO)?,
        WHO,
    )?;
    let rw = Arc::new(
        RemoteWrite::start(metrics, config, ctx.svc.io.first())
            .map_err(|e| rt(format!("{WHO}: {e}")))?,
    );
    ctx.run.publishers.add(&ctx.svc.figures, rw.clone());
    Ok(LuaRemoteWrite(rw))
}

/// Registers `perftest.remote_write` (a URL alone, or a table of options).
pub fn register(lua: &Lua, api: &Api, ctx: &Rc<Ctx>) -> mlua::Result<()> {
    let c = ctx.clone();
    api.raising(
        lua,
        &api.perftest,
        "remote_write",
        "",
        move |lua, spec: Value| {
            let spec = match spec {
                Value::String(s) => {
                    let t = lua.create_table()?;
                    t.set("url", s)?;
                    Value::Table(t)
                }
                other => other,
            };
            remote_write(&c, spec)
        },
    )
}
