//! `perftest.cloudwatch`, `perftest.webhook` and `perftest.channel`: the script side of
//! [`crate::publish`]. Every publisher is flushed when the run ends (SIGINT and SIGTERM
//! included), and what it could not deliver is reported.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mlua::{Function, Lua, MetaMethod, Table, UserData, UserDataMethods, Value};
use serde::Deserialize;

use super::context::Ctx;
use super::errors::rt;
use super::options::{self, Flag, Number, Raw, Text};
use super::verbs::Api;
use crate::figures::Figures;
use crate::publish::Publisher;
use crate::publish::cloudwatch::{CloudWatch, Config, SdkSink, Unit};
use crate::publish::http::redact;
use crate::publish::notify::{Channel, Message, Notifier};
use crate::publish::webhook::Webhook;
use std::cell::{OnceCell, RefCell};

/// Everything the run publishes through, flushed at its end.
#[derive(Default)]
pub struct Publishers {
    all: RefCell<Vec<Arc<dyn Publisher>>>,
    /// The one alert queue every channel shares, made with the first channel.
    notifier: OnceCell<Arc<Notifier>>,
}

impl Publishers {
    /// Flushes `p` at the run's end, and shows it on /memstats from now on.
    pub fn add(&self, figures: &Figures, p: Arc<dyn Publisher>) {
        figures.add_publisher(p.clone());
        self.all.borrow_mut().push(p);
    }
}

/// How long the end of a run waits for publishers (PERFTEST_FLUSH_SECONDS, default 10).
fn flush_window() -> Duration {
    let s = std::env::var("PERFTEST_FLUSH_SECONDS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(10.0);
    Duration::from_secs_f64(s)
}

/// Flushes every publisher; reports what could not be delivered (always) and what was (-v).
pub async fn finish(ctx: &Ctx) {
    let within = flush_window();
    let all: Vec<Arc<dyn Publisher>> = ctx.run.publishers.all.borrow().clone();
    for p in all {
        let flushed = p.flush(within).await;
        let name = p.name();
        if let Some(line) = flushed.failure(&name) {
            errln!("perftest: {line}");
        } else if ctx.svc.verbosity >= 2
            && let Some(line) = flushed.success(&name)
        {
            errln!("perftest: {line}");
        }
    }
}

/// How a CloudWatch publisher names its dimensions (the classic tool's are the classic
/// script's: perftest.classic.cloudwatch_dimensions).
enum Dimensions {
    Static(Vec<(String, String)>),
    Function(Function),
}

/// `perftest.cloudwatch{...}`.
struct LuaCloudWatch {
    cw: Arc<CloudWatch>,
    metrics: Vec<(String, String)>,
    dimensions: Dimensions,
    resolution: u32,
}

const PHASE_METRICS: [(&str, &str); 7] = [
    ("dns", "DNS"),
    ("tcp", "TCP"),
    ("tls", "TLS"),
    ("first", "First"),
    ("lastb", "LastB"),
    ("total", "Total"),
    ("errors", "Errors"),
];

fn string_pairs(t: &Table, what: &str) -> mlua::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let key = options::string_or(k, |t| rt(format!("{what}: names must be strings, got {t}")))?;
        let value = match v {
            Value::String(s) => s.to_string_lossy(),
            Value::Integer(i) => i.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Boolean(b) => b.to_string(),
            other => {
                return Err(rt(format!(
                    "{what}.{key}: give a string, got {}",
                    other.type_name()
                )));
            }
        };
        out.push((key, value));
    }
    out.sort();
    Ok(out)
}

impl LuaCloudWatch {
    fn dimensions_for(&self, r: &Table) -> mlua::Result<Vec<(String, String)>> {
        match &self.dimensions {
            Dimensions::Static(d) => Ok(d.clone()),
            Dimensions::Function(f) => match f.call::<Value>(r.clone())? {
                Value::Table(t) => string_pairs(&t, "dimensions"),
                other => Err(rt(format!(
                    "dimensions function: return a table of name = value, got {}",
                    other.type_name()
                ))),
            },
        }
    }
}

fn epoch_of(secs: Option<f64>) -> SystemTime {
    match secs {
        Some(s) if s.is_finite() && s > 0.0 => UNIX_EPOCH + Duration::from_secs_f64(s),
        _ => SystemTime::now(),
    }
}

/// `cloudwatch:put(metric, value, {...})`: every key it takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutOptions {
    unit: Option<Text>,
    dimensions: Option<Raw>,
    at: Option<Number>,
}

impl UserData for LuaCloudWatch {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // Publishes a probe result: each configured phase, and Errors as a count.
        m.add_method("add", |_, this, r: Table| {
            if r.get::<Option<String>>("error_kind")?.as_deref() == Some("interrupted") {
                return Ok(());
            }
            let dims = this.dimensions_for(&r)?;
            let at = epoch_of(r.get("start")?);
            let failed = r.get::<Option<String>>("error")?.is_some();
            for (key, name) in &this.metrics {
                if key == "errors" {
                    let v = if failed { 1.0 } else { 0.0 };
                    this.cw
                        .record(name, &dims, Unit::Count, v, this.resolution, at);
                } else if let Some(v) = r.get::<Option<f64>>(key.as_str())? {
                    this.cw
                        .record(name, &dims, Unit::Milliseconds, v, this.resolution, at);
                }
            }
            Ok(())
        });
        // Publishes any value: put(metric, value [, {unit =, dimensions =, at =}]).
        m.add_method(
            "put",
            |_, this, (metric, value, opts): (String, f64, Option<Table>)| {
                let (mut unit, mut dims, mut at) = (Unit::Count, Vec::new(), SystemTime::now());
                if let Some(o) = opts {
                    let o: PutOptions =
                        options::parse(&o, "").map_err(|e| rt(format!("cloudwatch:put: {e}")))?;
                    if let Some(Text(u)) = o.unit {
                        unit = match u.as_str() {
                            "Milliseconds" | "ms" => Unit::Milliseconds,
                            "Count" | "count" => Unit::Count,
                            "Bytes" | "bytes" => Unit::Bytes,
                            other => {
                                return Err(rt(format!(
                                    "cloudwatch:put: unit '{other}': Milliseconds, Count or Bytes"
                                )));
                            }
                        };
                    }
                    match o.dimensions {
                        None => {}
                        Some(Raw(Value::Table(d))) => dims = string_pairs(&d, "dimensions")?,
                        Some(Raw(other)) => {
                            return Err(rt(format!(
                                "cloudwatch:put: dimensions must be a table, got {}",
                                other.type_name()
                            )));
                        }
                    }
                    at = epoch_of(o.at.map(|Number(s)| s));
                }
                this.cw
                    .record(&metric, &dims, unit, value, this.resolution, at);
                Ok(())
            },
        );
        m.add_method("counters", |lua, this, ()| {
            let c = this.cw.counters();
            let t = lua.create_table()?;
            t.set("recorded", c.recorded.load(Ordering::Relaxed))?;
            t.set("sent", c.sent.load(Ordering::Relaxed))?;
            t.set("dropped", c.dropped.load(Ordering::Relaxed))?;
            t.set("calls", c.calls.load(Ordering::Relaxed))?;
            t.set("failed_calls", c.failed_calls.load(Ordering::Relaxed))?;
            Ok(t)
        });
        m.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("cloudwatch namespace {:?}", this.cw.namespace()))
        });
    }
}

/// `perftest.cloudwatch{...}`: every key it takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloudWatchOptions {
    namespace: Option<Text>,
    metrics: Option<Raw>,
    dimensions: Option<Raw>,
    resolution: Option<Number>,
    interval: Option<Number>,
    max_pending: Option<Number>,
}

async fn cloudwatch(lua: &Lua, ctx: &Rc<Ctx>, spec: Option<Table>) -> mlua::Result<LuaCloudWatch> {
    let spec = match spec {
        Some(t) => t,
        None => lua.create_table()?,
    };
    let o: CloudWatchOptions =
        options::parse(&spec, "").map_err(|e| rt(format!("perftest.cloudwatch: {e}")))?;
    let Some(Text(namespace)) = o.namespace else {
        return Err(rt(
            "perftest.cloudwatch: give namespace = \"...\" (the classic -c's is perftest.classic.CLOUDWATCH_NAMESPACE)",
        ));
    };
    let metrics = match o.metrics.map_or(Value::Nil, |Raw(v)| v) {
        Value::Nil => vec![("total".to_string(), "RespTime".to_string())],
        Value::String(s) if s.to_string_lossy() == "phases" => PHASE_METRICS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        Value::Table(t) => {
            let pairs = string_pairs(&t, "metrics")?;
            for (k, _) in &pairs {
                if !PHASE_METRICS.iter().any(|(p, _)| p == k) {
                    return Err(rt(format!(
                        "perftest.cloudwatch: metrics.{k}: publish one of dns, tcp, tls, first, lastb, total, errors"
                    )));
                }
            }
            pairs
        }
        other => {
            return Err(rt(format!(
                "perftest.cloudwatch: metrics: give \"phases\" or a table such as {{ total = \"RespTime\" }}, got {}",
                other.type_name()
            )));
        }
    };
    let dimensions = match o.dimensions.map_or(Value::Nil, |Raw(v)| v) {
        Value::Nil => Dimensions::Static(Vec::new()),
        Value::Table(t) => Dimensions::Static(string_pairs(&t, "dimensions")?),
        Value::Function(f) => Dimensions::Function(f),
        other => {
            return Err(rt(format!(
                "perftest.cloudwatch: dimensions: a table or a function, got {}",
                other.type_name()
            )));
        }
    };
    let resolution = match o.resolution.map_or(Some(60), Number::whole) {
        Some(r @ (1 | 60)) => r as u32,
        _ => {
            return Err(rt(format!(
                "perftest.cloudwatch: resolution {}: 1 (high resolution) or 60",
                crate::probe::shown(o.resolution.map_or(60.0, |Number(r)| r))
            )));
        }
    };
    let interval = o.interval.map_or(10.0, |Number(i)| i);
    if !(interval > 0.0 && interval <= 3600.0) {
        return Err(rt(format!(
            "perftest.cloudwatch: interval {interval}: seconds between sends, above 0"
        )));
    }
    let max_pending = options::count(o.max_pending, "max_pending")
        .map_err(|e| rt(format!("perftest.cloudwatch: {e}")))?
        .unwrap_or(100_000);
    let runtime = ctx.svc.io.first().clone();
    // The SDK's configuration is loaded on an I/O thread: its providers need a Send runtime.
    let sink = runtime
        .spawn(SdkSink::from_env())
        .await
        .map_err(|e| rt(format!("perftest.cloudwatch: {e}")))?
        .map_err(|e| rt(format!("perftest.cloudwatch: {e}")))?;
    let cw = Arc::new(CloudWatch::start(
        Arc::new(sink),
        Config {
            namespace,
            interval: Duration::from_secs_f64(interval),
            max_pending,
        },
        &runtime,
    ));
    ctx.run.publishers.add(&ctx.svc.figures, cw.clone());
    Ok(LuaCloudWatch {
        cw,
        metrics,
        dimensions,
        resolution,
    })
}

/// `perftest.webhook(url, opts)`.
struct LuaWebhook(Arc<Webhook>);

impl UserData for LuaWebhook {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // Queues a JSON document: a string as is, a table encoded.
        m.add_method("send", |_, this, v: Value| {
            let json = match v {
                Value::String(s) => s.to_string_lossy(),
                other => super::json_api::to_json(&other, 0)
                    .map_err(|e| rt(format!("webhook:send: {e}")))?
                    .to_string(),
            };
            this.0.send(json);
            Ok(())
        });
        m.add_method("counters", |lua, this, ()| {
            let c = &this.0.queue.counters;
            let t = lua.create_table()?;
            t.set("queued", c.queued.load(Ordering::Relaxed))?;
            t.set("sent", c.sent.load(Ordering::Relaxed))?;
            t.set("dropped", c.dropped.load(Ordering::Relaxed))?;
            Ok(t)
        });
        m.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("webhook {}", this.0.shown()))
        });
    }
}

/// `perftest.webhook(url, {...})`: every key it takes (the receiver's TLS, as a probe's).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookOptions {
    insecure: Option<Flag>,
    cacert: Option<Text>,
}

fn webhook(ctx: &Rc<Ctx>, url: String, opts: Option<Table>) -> mlua::Result<LuaWebhook> {
    let fail = |e: &dyn std::fmt::Display| rt(format!("perftest.webhook: {e}"));
    // The receiver is verified as a probe with the same options would verify it.
    let tls = match opts {
        None => None,
        Some(o) => {
            let o: WebhookOptions = options::parse(&o, "").map_err(|e| fail(&e))?;
            let tls = crate::probe::TlsOptions {
                insecure: o.insecure.is_some_and(|Flag(b)| b),
                cacert: o.cacert.map(|Text(p)| p.into()),
                http2: false,
            };
            (tls != crate::probe::TlsOptions::default())
                .then(|| crate::probe::tls_client_config(&tls))
                .transpose()
                .map_err(|e| fail(&e))?
        }
    };
    let hook = Arc::new(Webhook::start(&url, tls, ctx.svc.io.first()).map_err(|e| fail(&e))?);
    ctx.run.publishers.add(&ctx.svc.figures, hook.clone());
    Ok(LuaWebhook(hook))
}

/// `perftest.channel{type = ...}`: where alerts go.
struct LuaChannel {
    channel: Arc<Channel>,
    notifier: Arc<Notifier>,
}

impl UserData for LuaChannel {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // Queues a message: send(text [, fields]).
        m.add_method(
            "send",
            |_, this, (text, fields): (String, Option<Table>)| {
                let fields = match fields {
                    Some(t) => string_pairs(&t, "fields")?,
                    None => Vec::new(),
                };
                this.notifier
                    .send(this.channel.clone(), Arc::new(Message { text, fields }));
                Ok(())
            },
        );
        m.add_meta_method(MetaMethod::ToString, |_, this, ()| Ok(this.channel.shown()));
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `perftest.channel{...}`: every key it takes, for any type of channel.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelOptions {
    #[serde(rename = "type")]
    kind: Option<Text>,
    url: Option<Text>,
    to: Option<Raw>,
    from: Option<Text>,
    api: Option<Text>,
    template: Option<Text>,
    command: Option<Raw>,
}

fn channel(ctx: &Rc<Ctx>, spec: Table) -> mlua::Result<LuaChannel> {
    let o: ChannelOptions =
        options::parse(&spec, "").map_err(|e| rt(format!("perftest.channel: {e}")))?;
    let Some(Text(kind)) = o.kind else {
        return Err(rt(
            "perftest.channel: give type = \"twilio\", \"webhook\", \"slack\" or \"command\"",
        ));
    };
    let text = |t: Option<Text>| t.map(|Text(s)| s);
    let url = || -> mlua::Result<String> {
        let u: String = text(o.url.clone()).ok_or_else(|| {
            rt(format!(
                "perftest.channel: a {kind} channel needs url = \"https://...\""
            ))
        })?;
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(rt(format!(
                "perftest.channel: {kind} url '{}': use http:// or https://",
                redact(&u)
            )));
        }
        Ok(u)
    };
    let channel = match kind.as_str() {
        "twilio" => {
            // Secrets come from the environment only, so a script never holds them.
            let (Some(sid), Some(token)) = (env("TWILIO_ACCOUNT_SID"), env("TWILIO_AUTH_TOKEN"))
            else {
                return Err(rt(
                    "perftest.channel: twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in the environment",
                ));
            };
            let to: Vec<String> = match &o.to {
                Some(Raw(Value::Table(t))) => {
                    t.sequence_values::<String>().collect::<mlua::Result<_>>()?
                }
                Some(Raw(other)) => {
                    return Err(rt(format!(
                        "perftest.channel: to must be a list of numbers such as {{\"+1555...\"}}, got {}",
                        other.type_name()
                    )));
                }
                None => env("TWILIO_SMS_RECEIVERS")
                    .map(|s| s.split_whitespace().map(String::from).collect())
                    .unwrap_or_default(),
            };
            if to.is_empty() {
                return Err(rt(
                    "perftest.channel: twilio needs receivers: to = {\"+1555...\"} or TWILIO_SMS_RECEIVERS",
                ));
            }
            let from = text(o.from.clone())
                .or_else(|| env("TWILIO_FROM"))
                .ok_or_else(|| rt("perftest.channel: twilio needs a sender: from = \"+1555...\" or TWILIO_FROM"))?;
            let api = text(o.api.clone())
                .or_else(|| env("TWILIO_API_URL"))
                .unwrap_or_else(|| "https://api.twilio.com".into());
            Channel::Twilio {
                api,
                sid,
                token,
                from,
                to,
            }
        }
        "webhook" => Channel::Webhook {
            url: url()?,
            template: text(o.template.clone()),
        },
        "slack" => Channel::Slack { url: url()? },
        "command" => {
            let argv: Vec<String> = match o.command.clone().map_or(Value::Nil, |Raw(v)| v) {
                Value::String(s) => vec!["/bin/sh".into(), "-c".into(), s.to_string_lossy()],
                Value::Table(t) => t.sequence_values::<String>().collect::<mlua::Result<_>>()?,
                _ => {
                    return Err(rt(
                        "perftest.channel: a command channel needs command = \"...\" or {\"prog\", \"arg\"}",
                    ));
                }
            };
            if argv.is_empty() {
                return Err(rt("perftest.channel: command is empty"));
            }
            Channel::Command { argv }
        }
        other => {
            return Err(rt(format!(
                "perftest.channel: type '{other}': twilio, webhook, slack or command"
            )));
        }
    };
    let notifier = ctx
        .run
        .publishers
        .notifier
        .get_or_init(|| {
            let n = Arc::new(Notifier::start(ctx.svc.io.first()));
            ctx.run.publishers.add(&ctx.svc.figures, n.clone());
            n
        })
        .clone();
    Ok(LuaChannel {
        channel: Arc::new(channel),
        notifier,
    })
}

/// Registers `perftest.cloudwatch`, `perftest.webhook` and `perftest.channel`.
pub fn register(lua: &Lua, api: &Api, ctx: &Rc<Ctx>) -> mlua::Result<()> {
    let c = ctx.clone();
    api.raising_async(
        lua,
        &api.perftest,
        "cloudwatch",
        "perftest.cloudwatch: ",
        move |lua, spec: Option<Table>| {
            let c = c.clone();
            async move { cloudwatch(&lua, &c, spec).await }
        },
    )?;
    let c = ctx.clone();
    api.raising(
        lua,
        &api.perftest,
        "webhook",
        "",
        move |_, (url, opts): (String, Option<Table>)| webhook(&c, url, opts),
    )?;
    let c = ctx.clone();
    api.raising(lua, &api.perftest, "channel", "", move |_, spec: Table| {
        channel(&c, spec)
    })
}
