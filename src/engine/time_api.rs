//! Time and tasks: `perftest.sleep`, `now`, `clock`, `every`, `spawn`, `stopping` and `stop`.
//! Sleeps and ticks end early when the run stops.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::{Function, Lua, MetaMethod, MultiValue, Table, UserData, UserDataMethods, Value};

use super::context::Ctx;
use super::tasks;
use super::verbs::Api;
use crate::probe::{epoch, seconds};

/// Registers the clock's and the tasks' verbs; `native.spawn` is the prelude's to wrap.
pub fn register(lua: &Lua, api: &Api, native: &Table, ctx: &Rc<Ctx>) -> mlua::Result<()> {
    let c = ctx.clone();
    api.perftest.set(
        "sleep",
        lua.create_async_function(move |_, secs: Value| {
            let c = c.clone();
            async move {
                let d = seconds_arg("perftest.sleep", &secs)?;
                Ok(tokio::select! {
                    _ = tokio::time::sleep(d) => true,
                    _ = c.svc.shutdown.wait() => false,
                })
            }
        })?,
    )?;
    api.function(lua, "now", |_, ()| Ok(epoch(std::time::SystemTime::now())))?;
    let origin = Instant::now();
    api.function(lua, "clock", move |_, ()| {
        Ok(origin.elapsed().as_secs_f64())
    })?;
    let c = ctx.clone();
    api.function(lua, "every", move |_, secs: Value| {
        let period = seconds_arg("perftest.every", &secs)?;
        Ok(Ticker {
            period,
            due: Cell::new(tokio::time::Instant::now() + period),
            ctx: c.clone(),
        })
    })?;
    let c = ctx.clone();
    native.set(
        "spawn",
        lua.create_function(move |lua, (f, args): (Function, MultiValue)| {
            tasks::spawn(lua, &c, f, args)
        })?,
    )?;
    let c = ctx.clone();
    api.function(lua, "stopping", move |_, ()| {
        Ok(c.svc.shutdown.is_stopping())
    })?;
    let c = ctx.clone();
    api.function(lua, "stop", move |_, ()| {
        c.svc.shutdown.trigger();
        Ok(())
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

/// `perftest.every(s)`: a schedule that keeps its interval whatever each iteration costs.
struct Ticker {
    period: Duration,
    due: Cell<tokio::time::Instant>,
    ctx: Rc<Ctx>,
}

impl UserData for Ticker {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        // Waits for the next tick; false when the run is stopping. Also returns how late, in
        // seconds, this tick began after its due time: a monitor can log its own overruns, and
        // `clock() - late` is the schedule itself, whatever the machine's load.
        methods.add_async_method("next", |_, this, ()| async move {
            let shutdown = &this.ctx.svc.shutdown;
            if this.period.is_zero() {
                tokio::task::yield_now().await;
                return Ok((!shutdown.is_stopping(), 0.0));
            }
            let now = tokio::time::Instant::now();
            let due = this.due.get();
            if now >= due {
                // Late (the last iteration overran): go now, then back on the original grid.
                let behind = (now - due).as_nanos() / this.period.as_nanos() + 1;
                this.due.set(due + this.period * behind as u32);
                return Ok((!shutdown.is_stopping(), (now - due).as_secs_f64()));
            }
            this.due.set(due + this.period);
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {
                    let late = tokio::time::Instant::now().saturating_duration_since(due);
                    Ok((!shutdown.is_stopping(), late.as_secs_f64()))
                }
                _ = shutdown.wait() => Ok((false, 0.0)),
            }
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("every {}s", this.period.as_secs_f64()))
        });
    }
}
