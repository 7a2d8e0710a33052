//! The `perftest` table: the verbs scripts call. Each verb is small; the probe, the clock and
//! the stop signal do the work.

use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::{Function, Lua, MetaMethod, MultiValue, Table, UserData, UserDataMethods, Value};

use super::Ctx;
use super::convert;
use super::errors::ExitRequest;
use super::tasks;
use crate::probe::{ErrorKind, ProbeError, ProbeResult, Target, seconds};

/// Builds the `perftest` table and the `native` helpers the Lua prelude wraps.
pub fn build(lua: &Lua, ctx: &Rc<Ctx>, args: Value) -> mlua::Result<(Table, Table)> {
    let perftest = lua.create_table()?;
    let native = lua.create_table()?;

    native.set("probe", probe_fn(lua, ctx)?)?;

    let c = ctx.clone();
    perftest.set(
        "sleep",
        lua.create_async_function(move |_, secs: Value| {
            let c = c.clone();
            async move {
                let d = seconds_arg("perftest.sleep", &secs)?;
                Ok(tokio::select! {
                    _ = tokio::time::sleep(d) => true,
                    _ = c.shutdown.wait() => false,
                })
            }
        })?,
    )?;

    perftest.set(
        "now",
        lua.create_function(|_, ()| Ok(crate::probe::epoch(std::time::SystemTime::now())))?,
    )?;
    let origin = Instant::now();
    perftest.set(
        "clock",
        lua.create_function(move |_, ()| Ok(origin.elapsed().as_secs_f64()))?,
    )?;

    let c = ctx.clone();
    native.set(
        "spawn",
        lua.create_function(move |lua, (f, args): (Function, MultiValue)| {
            tasks::spawn(lua, &c, f, args)
        })?,
    )?;

    let c = ctx.clone();
    perftest.set(
        "every",
        lua.create_function(move |_, secs: Value| {
            let period = seconds_arg("perftest.every", &secs)?;
            Ok(Ticker {
                period,
                due: std::cell::Cell::new(tokio::time::Instant::now() + period),
                ctx: c.clone(),
            })
        })?,
    )?;

    let c = ctx.clone();
    perftest.set(
        "session",
        lua.create_function(move |_, ()| {
            Ok(Session {
                slot: Default::default(),
                thread: c.io.next_thread(),
                ctx: c.clone(),
            })
        })?,
    )?;

    perftest.set(
        "env",
        lua.create_function(|_, name: String| Ok(std::env::var(name).ok()))?,
    )?;
    perftest.set("location", ctx.location.as_str())?;
    perftest.set("args", args)?;
    perftest.set("version", env!("CARGO_PKG_VERSION"))?;

    let c = ctx.clone();
    perftest.set(
        "stopping",
        lua.create_function(move |_, ()| Ok(c.shutdown.is_stopping()))?,
    )?;
    let c = ctx.clone();
    perftest.set(
        "stop",
        lua.create_function(move |_, ()| {
            c.shutdown.trigger();
            Ok(())
        })?,
    )?;

    let exit = lua.create_function(|_, (code, message): (Option<Value>, Option<String>)| {
        let code = match code {
            None | Some(Value::Nil) | Some(Value::Boolean(true)) => 0,
            Some(Value::Boolean(false)) => 1,
            Some(Value::Integer(i)) => exit_status(i as f64)?,
            Some(Value::Number(n)) => exit_status(n)?,
            Some(other) => {
                return Err(mlua::Error::runtime(format!(
                    "exit code must be a number, got {}",
                    other.type_name()
                )));
            }
        };
        if let Some(m) = message {
            errln!("{m}");
        }
        Err::<(), _>(mlua::Error::external(ExitRequest(code)))
    })?;
    perftest.set("exit", exit.clone())?;

    perftest.set(
        "eprint",
        lua.create_function(|lua, args: MultiValue| {
            errln!("{}", join_tostring(lua, &args)?);
            Ok(())
        })?,
    )?;

    perftest.set(
        "parse_url",
        lua.create_function(|lua, url: String| match Target::parse(&url) {
            Ok(t) => {
                let tbl = lua.create_table()?;
                tbl.set("url", &*t.display)?;
                tbl.set(
                    "scheme",
                    match t.scheme {
                        crate::probe::Scheme::Http => "http",
                        crate::probe::Scheme::Https => "https",
                    },
                )?;
                tbl.set("host", t.host.as_str())?;
                tbl.set("port", t.port)?;
                tbl.set("path", t.path_and_query.as_str())?;
                Ok((Value::Table(tbl), None))
            }
            Err(e) => Ok((Value::Nil, Some(e.0))),
        })?,
    )?;

    perftest.set(
        "parse_classic",
        lua.create_function(
            |lua, list: Vec<String>| match crate::cli::parse_classic(&list) {
                Ok(classic) => super::args::classic_table(lua, &classic),
                Err(e) => {
                    let _ = e.print();
                    Err(mlua::Error::external(ExitRequest(e.exit_code())))
                }
            },
        )?,
    )?;

    let json = lua.create_table()?;
    json.set(
        "encode",
        lua.create_function(|_, v: Value| {
            let value = to_json(&v, 0)
                .map_err(|e| mlua::Error::runtime(format!("perftest.json.encode: {e}")))?;
            serde_json::to_string(&value).map_err(mlua::Error::external)
        })?,
    )?;
    json.set(
        "decode",
        lua.create_function(|lua, s: String| {
            let value: serde_json::Value = serde_json::from_str(&s)
                .map_err(|e| mlua::Error::runtime(format!("perftest.json.decode: {e}")))?;
            super::result_api::to_lua(lua, &value)
        })?,
    )?;
    perftest.set("json", json)?;

    perftest.set(
        "isatty",
        lua.create_function(|_, ()| Ok(std::io::IsTerminal::is_terminal(&std::io::stdout())))?,
    )?;
    perftest.set(
        "color",
        lua.create_function(|_, (text, name): (String, String)| colored(&text, &name))?,
    )?;

    // A fault to inject, for the tests of what a panic under a Lua call does; debug builds
    // with PERFTEST_TEST_PANIC set only.
    #[cfg(debug_assertions)]
    if std::env::var_os("PERFTEST_TEST_PANIC").is_some() {
        perftest.set(
            "_panic",
            lua.create_function(|_, msg: String| -> mlua::Result<()> { panic!("{msg}") })?,
        )?;
    }

    install_output(lua, ctx, exit)?;
    Ok((perftest, native))
}

/// An exit code as the process can return it: a byte, since 256 would read as 0, a success.
fn exit_status(n: f64) -> mlua::Result<i32> {
    if (0.0..=255.0).contains(&n) && n.fract() == 0.0 {
        Ok(n as i32)
    } else {
        Err(mlua::Error::runtime(format!(
            "exit code {}: give a whole number from 0 to 255",
            crate::probe::shown(n)
        )))
    }
}

/// True when stdout is a terminal and NO_COLOR is unset: the only time colour is written.
pub fn stdout_colors() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout())
}

/// `perftest.color(text, "green")`: the text in that colour when stdout takes colour, else as is.
fn colored(text: &str, name: &str) -> mlua::Result<String> {
    use nu_ansi_term::{Color, Style};
    let style = match name {
        "red" => Color::Red.normal(),
        "green" => Color::Green.normal(),
        "yellow" => Color::Yellow.normal(),
        "blue" => Color::Blue.normal(),
        "magenta" => Color::Purple.normal(),
        "cyan" => Color::Cyan.normal(),
        "white" => Color::White.normal(),
        "gray" | "grey" => Color::DarkGray.normal(),
        "bold" => Style::new().bold(),
        "dim" => Style::new().dimmed(),
        other => {
            return Err(mlua::Error::runtime(format!(
                "perftest.color: unknown colour '{other}' (red, green, yellow, blue, magenta, cyan, white, gray, bold, dim)"
            )));
        }
    };
    Ok(if stdout_colors() {
        style.paint(text).to_string()
    } else {
        text.to_string()
    })
}

/// A duration argument in seconds, or an error naming the verb and what it got.
fn seconds_arg(verb: &str, v: &Value) -> mlua::Result<Duration> {
    let secs = match v {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        other => {
            return Err(mlua::Error::runtime(format!(
                "{verb}: give a number of seconds, got {}",
                other.type_name()
            )));
        }
    };
    seconds(verb, secs).map_err(mlua::Error::runtime)
}

/// A Lua value as JSON (also for webhooks): a table with keys 1..n is an array, any other an object whose keys
/// are written as strings (so `{[200] = 5}` is `{"200":5}`); NaN and infinities are null.
pub(crate) fn to_json(v: &Value, depth: usize) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    if depth > 64 {
        return Err("nested too deep (a cycle?)".into());
    }
    Ok(match v {
        Value::Nil => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Integer(i) => J::from(*i),
        Value::Number(n) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
        Value::String(s) => J::String(s.to_string_lossy()),
        Value::Table(t) => {
            let n = t.raw_len();
            let count = t.pairs::<Value, Value>().count();
            if n > 0 && count == n {
                let mut a = Vec::with_capacity(n);
                for item in t.sequence_values::<Value>() {
                    a.push(to_json(&item.map_err(|e| e.to_string())?, depth + 1)?);
                }
                J::Array(a)
            } else {
                let mut m = serde_json::Map::new();
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair.map_err(|e| e.to_string())?;
                    let key = match &k {
                        Value::String(s) => s.to_string_lossy(),
                        Value::Integer(i) => i.to_string(),
                        Value::Number(n) => n.to_string(),
                        Value::Boolean(b) => b.to_string(),
                        other => {
                            return Err(format!(
                                "a {} key cannot be written as JSON",
                                other.type_name()
                            ));
                        }
                    };
                    m.insert(key, to_json(&v, depth + 1)?);
                }
                J::Object(m)
            }
        }
        other => return Err(format!("a {} cannot be written as JSON", other.type_name())),
    })
}

/// `native.probe(url, opts)`: the result table, or nil and the reason the request is invalid.
fn probe_fn(lua: &Lua, ctx: &Rc<Ctx>) -> mlua::Result<Function> {
    let ctx = ctx.clone();
    lua.create_async_function(move |lua, (url, opts): (Value, Option<Value>)| {
        let ctx = ctx.clone();
        async move {
            let url = match url {
                Value::String(s) => s.to_string_lossy(),
                other => {
                    let msg = format!("url must be a string, got {}", other.type_name());
                    return Ok((Value::Nil, Some(msg)));
                }
            };
            let opts = match opts {
                None | Some(Value::Nil) => None,
                Some(Value::Table(t)) => Some(t),
                Some(other) => {
                    let msg = format!("opts must be a table, got {}", other.type_name());
                    return Ok((Value::Nil, Some(msg)));
                }
            };
            let req = match convert::request(&url, opts.as_ref()) {
                Ok(r) => r,
                Err(e) => return Ok((Value::Nil, Some(e))),
            };
            let prober = ctx.prober.clone();
            let shutdown = ctx.shutdown.clone();
            // The sample runs on the I/O workers: a busy script cannot delay its timestamps.
            let joined = ctx
                .io
                .spawn(async move { prober.probe_until(&req, shutdown.wait()).await })
                .await;
            let result = joined.unwrap_or_else(|e| {
                let mut r = ProbeResult::new(url.as_str().into());
                r.error = Some(ProbeError::new(
                    ErrorKind::Io,
                    format!("internal error in the probe of {url}: {e} (please report it)"),
                ));
                r
            });
            ctx.record_sample(&lua, &result);
            let table = convert::result_table(&lua, &result, &ctx.location)?;
            Ok((Value::Table(table), None))
        }
    })
}

/// `perftest.session()`: samples over one kept connection per origin (HTTP keep-alive).
struct Session {
    slot: std::sync::Arc<tokio::sync::Mutex<Option<crate::probe::Kept>>>,
    thread: usize,
    ctx: Rc<Ctx>,
}

impl UserData for Session {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        // Like perftest.probe, over the session's connection when it can be reused.
        methods.add_async_method(
            "probe",
            |lua, this, (url, opts): (String, Option<Table>)| async move {
                let req = convert::request(&url, opts.as_ref())
                    .map_err(|e| mlua::Error::runtime(format!("session:probe: {e}")))?;
                let (prober, shutdown, slot) = (
                    this.ctx.prober.clone(),
                    this.ctx.shutdown.clone(),
                    this.slot.clone(),
                );
                let result = this
                    .ctx
                    .io
                    .spawn_on(this.thread, async move {
                        let mut slot = slot.lock().await;
                        prober.probe_kept(&req, &mut slot, shutdown.wait()).await
                    })
                    .await
                    .map_err(|e| {
                        mlua::Error::runtime(format!("session:probe: internal error: {e}"))
                    })?;
                this.ctx.record_sample(&lua, &result);
                convert::result_table(&lua, &result, &this.ctx.location)
            },
        );
        // Closes the kept connection; the next probe opens a new one.
        methods.add_async_method("close", |_, this, ()| async move {
            this.slot.lock().await.take();
            Ok(())
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("session on I/O thread {}", this.thread))
        });
    }
}

/// `perftest.every(s)`: a schedule that keeps its interval whatever each iteration costs.
struct Ticker {
    period: Duration,
    due: std::cell::Cell<tokio::time::Instant>,
    ctx: Rc<Ctx>,
}

impl UserData for Ticker {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        // Waits for the next tick; false when the run is stopping.
        methods.add_async_method("next", |_, this, ()| async move {
            if this.period.is_zero() {
                tokio::task::yield_now().await;
                return Ok(!this.ctx.shutdown.is_stopping());
            }
            let now = tokio::time::Instant::now();
            let due = this.due.get();
            if now >= due {
                // Late (the last iteration overran): go now, then back on the original grid.
                let behind = (now - due).as_nanos() / this.period.as_nanos() + 1;
                this.due.set(due + this.period * behind as u32);
                return Ok(!this.ctx.shutdown.is_stopping());
            }
            this.due.set(due + this.period);
            Ok(tokio::select! {
                _ = tokio::time::sleep_until(due) => !this.ctx.shutdown.is_stopping(),
                _ = this.ctx.shutdown.wait() => false,
            })
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("every {}s", this.period.as_secs_f64()))
        });
    }
}

/// `print`, `io.write` and `os.exit` go through perftest, so output order holds when piped
/// and a closed pipe ends the run cleanly.
fn install_output(lua: &Lua, ctx: &Rc<Ctx>, exit: Function) -> mlua::Result<()> {
    let globals = lua.globals();
    let c = ctx.clone();
    globals.set(
        "print",
        lua.create_function(move |lua, args: MultiValue| {
            let mut line = join_tostring(lua, &args)?;
            line.push('\n');
            c.out.write(line.as_bytes());
            Ok(())
        })?,
    )?;
    let io: Table = globals.get("io")?;
    let stdout: Value = io.get("stdout")?;
    let c = ctx.clone();
    io.set(
        "write",
        lua.create_function(move |_, args: MultiValue| {
            let mut buf = Vec::new();
            for (i, v) in args.iter().enumerate() {
                match v {
                    Value::String(s) => buf.extend_from_slice(&s.as_bytes()),
                    Value::Integer(n) => buf.extend_from_slice(n.to_string().as_bytes()),
                    Value::Number(n) => buf.extend_from_slice(format_number(*n).as_bytes()),
                    other => {
                        return Err(mlua::Error::runtime(format!(
                            "bad argument #{} to 'write' (string expected, got {})",
                            i + 1,
                            other.type_name()
                        )));
                    }
                }
            }
            c.out.write(&buf);
            Ok(stdout.clone())
        })?,
    )?;
    let os: Table = globals.get("os")?;
    os.set("exit", exit)?;
    Ok(())
}

/// Lua's own `tostring` for each value, joined by tabs, as `print` does.
fn join_tostring(lua: &Lua, args: &MultiValue) -> mlua::Result<String> {
    let tostring: Function = lua.globals().get("tostring")?;
    let mut line = String::new();
    for (i, v) in args.iter().enumerate() {
        if i > 0 {
            line.push('\t');
        }
        match v {
            Value::String(s) => line.push_str(&s.to_string_lossy()),
            other => line.push_str(&tostring.call::<String>(other.clone())?),
        }
    }
    Ok(line)
}

/// A float as Lua's io.write prints it ("%.14g").
fn format_number(n: f64) -> String {
    if n.is_finite() && n == n.trunc() && n.abs() < 1e15 {
        format!("{n:.1}")
    } else {
        let s = format!("{n:.14e}");
        match s.parse::<f64>() {
            Ok(v) => v.to_string(),
            Err(_) => s,
        }
    }
}
