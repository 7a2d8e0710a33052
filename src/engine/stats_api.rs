//! `perftest.stats{...}`: statistics and thresholds as a Lua object.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use mlua::{Lua, MetaMethod, Table, UserData, UserDataMethods, Value};
use serde::Deserialize;

use super::context::Ctx;
use super::errors::rt;
use super::options::{self, Flag, Text};
use super::process_api::stdout_colors;
use super::verbs::Api;
use crate::probe::epoch;
use crate::stats::{Agg, Sample, Scope, Stats, TRENDS, trend_index};
use crate::summary::{self, Verdict};
use crate::thresholds::{Threshold, metric_names};

/// A stats object's state, shared by its views and the run's registry.
pub struct StatsState {
    stats: Stats,
    thresholds: Vec<Threshold>,
    reported: bool,
    last_abort_check: Option<Instant>,
}

/// The handle scripts hold; `windowed` views answer over the rolling window.
pub struct LuaStats {
    state: Rc<RefCell<StatsState>>,
    windowed: bool,
    /// Where a failed threshold is recorded (and an abort_on_fail one stops the run).
    ctx: Rc<Ctx>,
}

/// Stats objects of the run, for the thresholds nobody reported.
#[derive(Default)]
pub struct Registry(RefCell<Vec<Weak<RefCell<StatsState>>>>);

fn now() -> f64 {
    epoch(std::time::SystemTime::now())
}

/// `perftest.stats([name | opts])`.
pub fn new(ctx: &Rc<Ctx>, arg: Value) -> mlua::Result<LuaStats> {
    let (mut name, mut window, mut thresholds) = (String::new(), None, Vec::new());
    match arg {
        Value::Nil => {}
        Value::String(s) => name = s.to_string_lossy(),
        Value::Table(t) => {
            for pair in t.pairs::<String, Value>() {
                let (k, v) = pair?;
                match (k.as_str(), v) {
                    ("name", Value::String(s)) => name = s.to_string_lossy(),
                    ("window", Value::Integer(i)) if i > 0 => {
                        window = Some(Duration::from_secs(i as u64))
                    }
                    ("window", Value::Number(n)) if n > 0.0 => {
                        window = Some(Duration::from_secs_f64(n))
                    }
                    ("thresholds", Value::Table(spec)) => thresholds = parse_thresholds(&spec)?,
                    (k, v) => {
                        return Err(rt(format!(
                            "perftest.stats: option '{k}' = {} is not one of name (string), window (seconds), thresholds (table)",
                            v.type_name()
                        )));
                    }
                }
            }
        }
        other => {
            return Err(rt(format!(
                "perftest.stats: give a name or a table of options, got {}",
                other.type_name()
            )));
        }
    }
    let state = Rc::new(RefCell::new(StatsState {
        stats: Stats::new(&name, window),
        thresholds,
        reported: false,
        last_abort_check: None,
    }));
    ctx.run.stats.0.borrow_mut().push(Rc::downgrade(&state));
    Ok(LuaStats {
        state,
        windowed: false,
        ctx: ctx.clone(),
    })
}

/// Wraps statistics made in Rust (a load run) as a Lua stats object with `thresholds`.
pub fn wrap(ctx: &Rc<Ctx>, stats: Stats, thresholds: Vec<Threshold>) -> LuaStats {
    let state = Rc::new(RefCell::new(StatsState {
        stats,
        thresholds,
        reported: false,
        last_abort_check: None,
    }));
    ctx.run.stats.0.borrow_mut().push(Rc::downgrade(&state));
    LuaStats {
        state,
        windowed: false,
        ctx: ctx.clone(),
    }
}

/// A threshold given as a table: `{ threshold = "p(95) < 300", abort_on_fail = true }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdEntry {
    threshold: Option<Text>,
    abort_on_fail: Option<Flag>,
}

/// `stats:summary{...}`: every key it takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SummaryOptions {
    color: Option<Flag>,
}

/// `{ total = {"p(95) < 300"}, errors = "rate < 0.01", first = {{threshold = "...", abort_on_fail = true}} }`
pub fn parse_thresholds(spec: &Table) -> mlua::Result<Vec<Threshold>> {
    let mut out = Vec::new();
    for pair in spec.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let Value::String(metric) = k else {
            return Err(rt(format!(
                "thresholds: keys are metric names ({}), got a {}",
                metric_names().join(", "),
                k.type_name()
            )));
        };
        let metric = metric.to_string_lossy();
        let mut add = |v: &Value| -> mlua::Result<()> {
            match v {
                Value::String(expr) => {
                    out.push(Threshold::parse(&metric, &expr.to_string_lossy(), false).map_err(rt)?)
                }
                Value::Table(t) => {
                    let entry: ThresholdEntry = options::parse(t, "")
                        .map_err(|e| rt(format!("threshold {metric}: {e}")))?;
                    let Some(Text(expr)) = entry.threshold else {
                        return Err(rt(format!(
                            "threshold {metric}: a table entry needs threshold = \"...\""
                        )));
                    };
                    let abort = entry.abort_on_fail.is_some_and(|Flag(b)| b);
                    out.push(Threshold::parse(&metric, &expr, abort).map_err(rt)?);
                }
                other => {
                    return Err(rt(format!(
                        "threshold {metric}: give \"expression\" strings, got {}",
                        other.type_name()
                    )));
                }
            }
            Ok(())
        };
        match &v {
            Value::Table(list) if list.raw_len() > 0 || list.contains_key("threshold")? => {
                if list.contains_key("threshold")? {
                    add(&v)?;
                } else {
                    for item in list.sequence_values::<Value>() {
                        add(&item?)?;
                    }
                }
            }
            _ => add(&v)?,
        }
    }
    let order = metric_names();
    out.sort_by_key(|t| order.iter().position(|m| *m == t.metric));
    Ok(out)
}

/// Reads a probe result table into a sample; None for a sample the run interrupted.
fn sample(r: &Table) -> mlua::Result<Option<Sample>> {
    let kind: Option<String> = r.get("error_kind")?;
    if kind.as_deref() == Some("interrupted") {
        return Ok(None);
    }
    let mut values = [0.0; 7];
    for (i, name) in TRENDS.iter().enumerate() {
        values[i] = r.get::<Option<f64>>(*name)?.unwrap_or(0.0);
    }
    let ok: Option<bool> = r.get("ok")?;
    Ok(Some(Sample {
        start: r.get::<Option<f64>>("start")?.unwrap_or_else(now),
        values,
        ok: ok.unwrap_or(kind.is_none()),
        status: r.get::<Option<u16>>("status")?.unwrap_or(0),
        error_kind: kind,
    }))
}

impl LuaStats {
    fn scope(&self) -> Scope {
        if self.windowed {
            Scope::Window { now: now() }
        } else {
            Scope::Run
        }
    }

    fn agg(&self, trend: &str, agg: Agg) -> mlua::Result<Option<f64>> {
        let t = trend_index(trend).ok_or_else(|| {
            rt(format!(
                "unknown phase '{trend}' (known: {})",
                TRENDS.join(", ")
            ))
        })?;
        Ok(self.state.borrow().stats.aggregate(t, &agg, self.scope()))
    }

    fn verdicts(&self) -> Vec<Verdict> {
        let st = self.state.borrow();
        let (scope, t) = (self.scope(), now());
        st.thresholds
            .iter()
            .map(|th| Verdict::of(th, &st.stats, scope, t))
            .collect()
    }
}

/// Evaluates `abort_on_fail` thresholds (at most once a second); true if one failed.
fn check_abort(state: &mut StatsState) -> Option<(String, Option<f64>)> {
    if !state.thresholds.iter().any(|t| t.abort_on_fail) {
        return None;
    }
    if state
        .last_abort_check
        .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
    {
        return None;
    }
    state.last_abort_check = Some(Instant::now());
    Threshold::aborting(&state.thresholds, &state.stats, now()).map(|(th, v)| (th.label(), v))
}

impl UserData for LuaStats {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // Adds a probe result; ignores samples the run interrupted.
        m.add_method("add", |_, this, r: Table| {
            let Some(s) = sample(&r)? else { return Ok(()) };
            let mut st = this.state.borrow_mut();
            st.stats.add(&s);
            if let Some((label, value)) = check_abort(&mut st) {
                let value = value.map_or("no data".into(), summary::number);
                errln!("perftest: threshold {label} failed ({value}); stopping (abort_on_fail)");
                this.ctx.threshold_failed(true);
            }
            Ok(())
        });
        m.add_method("count", |_, this, ()| {
            Ok(this.state.borrow().stats.count(this.scope()))
        });
        m.add_method("ok", |_, this, ()| {
            Ok(this.state.borrow().stats.ok(this.scope()))
        });
        m.add_method("failed", |_, this, ()| {
            Ok(this.state.borrow().stats.failed(this.scope()))
        });
        m.add_method("errors", |lua, this, ()| {
            lua.create_table_from(this.state.borrow().stats.errors(this.scope()))
        });
        m.add_method("statuses", |lua, this, ()| {
            lua.create_table_from(this.state.borrow().stats.statuses(this.scope()))
        });
        m.add_method("error_rate", |_, this, ()| {
            Ok(this.state.borrow().stats.error_rate(this.scope()))
        });
        m.add_method("rate", |_, this, ()| {
            Ok(this.state.borrow().stats.rate(this.scope(), now()))
        });
        m.add_method("percentile", |_, this, (trend, p): (String, f64)| {
            if !(0.0..=100.0).contains(&p) {
                return Err(rt(format!("percentile {p}: give 0 to 100")));
            }
            this.agg(&trend, Agg::P(p))
        });
        m.add_method("p", |_, this, (trend, p): (String, f64)| {
            if !(0.0..=100.0).contains(&p) {
                return Err(rt(format!("percentile {p}: give 0 to 100")));
            }
            this.agg(&trend, Agg::P(p))
        });
        m.add_method("mean", |_, this, trend: String| this.agg(&trend, Agg::Avg));
        m.add_method("min", |_, this, trend: String| this.agg(&trend, Agg::Min));
        m.add_method("max", |_, this, trend: String| this.agg(&trend, Agg::Max));
        m.add_method("median", |_, this, trend: String| {
            this.agg(&trend, Agg::Med)
        });
        m.add_method("stddev", |_, this, trend: String| {
            this.agg(&trend, Agg::Stddev)
        });
        m.add_method("name", |_, this, ()| {
            Ok(this.state.borrow().stats.name.clone())
        });
        // The same statistics over the rolling window (needs perftest.stats{window = S}).
        m.add_method("window", |_, this, ()| {
            if !this.state.borrow().stats.has_window() {
                return Err(rt(
                    "stats:window(): create the stats with perftest.stats{ window = SECONDS }",
                ));
            }
            Ok(LuaStats {
                state: this.state.clone(),
                windowed: true,
                ctx: this.ctx.clone(),
            })
        });
        // Adds every sample of another stats object (a total across targets).
        m.add_method("merge", |_, this, other: mlua::UserDataRef<LuaStats>| {
            if Rc::ptr_eq(&this.state, &other.state) {
                return Err(rt("stats:merge(): cannot merge a stats object into itself"));
            }
            let theirs = other.state.borrow().stats.clone();
            this.state.borrow_mut().stats.merge(&theirs);
            Ok(())
        });
        // With (r, checks): runs and records named checks, true when all pass (checks_api).
        // Without: each threshold, {metric, expr, value, pass}.
        m.add_method("check", |lua, this, (r, checks): (Value, Value)| {
            if !r.is_nil() || !checks.is_nil() {
                let outcomes =
                    super::checks_api::run(lua, &r, &checks, "stats:check").map_err(rt)?;
                if let (Some(o), Value::Table(r)) = (&outcomes, &r) {
                    let start = r.get::<Option<f64>>("start")?.unwrap_or_else(now);
                    let mut st = this.state.borrow_mut();
                    st.stats
                        .checks
                        .record(start, o.iter().map(|(n, p)| (n.as_str(), *p)));
                }
                return Ok(Value::Boolean(super::checks_api::all_passed(
                    outcomes.as_deref(),
                )));
            }
            let list = lua.create_table()?;
            for v in this.verdicts() {
                let t = lua.create_table()?;
                t.set("metric", v.threshold.metric.as_str())?;
                t.set("expr", v.threshold.expr.as_str())?;
                t.set("value", v.value)?;
                t.set("pass", v.pass)?;
                list.push(t)?;
            }
            Ok(Value::Table(list))
        });
        // The k6-style summary text; evaluates the thresholds and records a failure (exit 99).
        m.add_method("summary", |_, this, opts: Option<Table>| {
            let color = match opts {
                Some(o) => {
                    let o: SummaryOptions =
                        options::parse(&o, "").map_err(|e| rt(format!("stats:summary: {e}")))?;
                    o.color.map_or_else(stdout_colors, |Flag(c)| c)
                }
                None => stdout_colors(),
            };
            let verdicts = this.verdicts();
            if !this.windowed {
                this.state.borrow_mut().reported = true;
            }
            if verdicts.iter().any(|v| !v.pass) {
                this.ctx.threshold_failed(false);
            }
            let st = this.state.borrow();
            Ok(summary::render(
                &st.stats,
                this.scope(),
                now(),
                &verdicts,
                color,
            ))
        });
        // Everything as a plain table (for JSON output).
        m.add_method("table", |lua, this, ()| {
            let st = this.state.borrow();
            let (scope, s) = (this.scope(), &st.stats);
            let t = lua.create_table()?;
            t.set("name", s.name.as_str())?;
            t.set("count", s.count(scope))?;
            t.set("ok", s.ok(scope))?;
            t.set("failed", s.failed(scope))?;
            t.set("error_rate", s.error_rate(scope))?;
            t.set("rate", s.rate(scope, now()))?;
            t.set("errors", lua.create_table_from(s.errors(scope))?)?;
            t.set("statuses", lua.create_table_from(s.statuses(scope))?)?;
            if let Some(c) = checks_table(lua, s, scope)? {
                t.set("checks", c)?;
            }
            for (i, name) in TRENDS.iter().enumerate() {
                let p = lua.create_table()?;
                for (key, agg) in summary::COLUMNS
                    .iter()
                    .chain([("stddev", Agg::Stddev)].iter())
                {
                    p.set(*key, s.aggregate(i, agg, scope))?;
                }
                t.set(*name, p)?;
            }
            Ok(t)
        });
        m.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            let st = this.state.borrow();
            let what = if this.windowed { " (window)" } else { "" };
            Ok(format!(
                "stats {:?}{what}: {} samples",
                st.stats.name,
                st.stats.count(this.scope())
            ))
        });
    }
}

/// `{rate =, passes =, fails =, by_name = {[name] = {passes =, fails =}}}`; nil when no check
/// ran (by_name over the run only).
fn checks_table(lua: &Lua, s: &Stats, scope: Scope) -> mlua::Result<Option<Table>> {
    let window_now = match scope {
        Scope::Run => None,
        Scope::Window { now } => Some(now),
    };
    let Some(rate) = s.checks.rate(window_now) else {
        return Ok(None);
    };
    let total = s.checks.total(window_now);
    let t = lua.create_table()?;
    t.set("rate", rate)?;
    t.set("passes", total.passes)?;
    t.set("fails", total.fails)?;
    if window_now.is_none() {
        let by_name = lua.create_table()?;
        for (name, tally) in s.checks.by_name() {
            let c = lua.create_table()?;
            c.set("passes", tally.passes)?;
            c.set("fails", tally.fails)?;
            by_name.set(name.as_str(), c)?;
        }
        t.set("by_name", by_name)?;
    }
    Ok(Some(t))
}

/// At the end of a run: thresholds the script never reported are evaluated and printed.
pub fn report_unreported(ctx: &Ctx) {
    let color = stdout_colors();
    for weak in ctx.run.stats.0.borrow().iter() {
        let Some(state) = weak.upgrade() else {
            continue;
        };
        let st = state.borrow();
        if st.reported || st.thresholds.is_empty() {
            continue;
        }
        let t = now();
        let verdicts: Vec<Verdict> = st
            .thresholds
            .iter()
            .map(|th| Verdict::of(th, &st.stats, Scope::Run, t))
            .collect();
        if verdicts.iter().any(|v| !v.pass) {
            ctx.threshold_failed(false);
        }
        let text = summary::render(&st.stats, Scope::Run, t, &verdicts, color);
        ctx.svc.out.write(text.as_bytes());
    }
}

/// `perftest.thresholds(spec)`: criteria checked on demand (a monitor's rolling checks);
/// unlike thresholds given to `perftest.stats`, they do not decide the exit code.
pub struct LuaThresholds(Vec<Threshold>);

impl UserData for LuaThresholds {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // Each threshold over `stats` (or its window view): {metric, expr, label, value, pass}.
        m.add_method("check", |lua, this, stats: mlua::UserDataRef<LuaStats>| {
            let st = stats.state.borrow();
            let (scope, t) = (stats.scope(), now());
            let list = lua.create_table()?;
            for th in &this.0 {
                let (value, pass) = th.evaluate(&st.stats, scope, t);
                let r = lua.create_table()?;
                r.set("metric", th.metric.as_str())?;
                r.set("expr", th.expr.as_str())?;
                r.set("label", th.label())?;
                r.set("value", value)?;
                r.set("pass", pass)?;
                list.push(r)?;
            }
            Ok(list)
        });
        m.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            let labels: Vec<String> = this.0.iter().map(|t| t.label()).collect();
            Ok(format!("thresholds: {}", labels.join("; ")))
        });
    }
}

/// Registers `perftest.stats` and `perftest.thresholds`.
pub fn register(lua: &Lua, api: &Api, ctx: &Rc<Ctx>) -> mlua::Result<()> {
    let c = ctx.clone();
    api.raising(lua, &api.perftest, "stats", "", move |_, arg: Value| {
        new(&c, arg)
    })?;
    api.raising(lua, &api.perftest, "thresholds", "", |_, spec: Table| {
        parse_thresholds(&spec).map(LuaThresholds)
    })
}
