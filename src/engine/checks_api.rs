//! Checks, k6-style: named functions of a result that pass or fail. `perftest.check(r,
//! checks)` runs them; `stats:check(r, checks)` also records them in that stats object (see
//! stats_api). A failed check marks the sample failed, so it counts in `errors` thresholds and
//! in alerts, named in `r.error`.

use std::cell::RefCell;
use std::collections::HashSet;

use mlua::{Function, Lua, Table, Value};

use super::errors::rt;
use super::verbs::Api;

/// Check names whose error was already printed: a check that raises says why once, not once
/// a sample.
#[derive(Default)]
struct Reported(RefCell<HashSet<String>>);

/// Registers `perftest.check`.
pub fn register(lua: &Lua, api: &Api) -> mlua::Result<()> {
    lua.set_app_data(Reported::default());
    api.raising(
        lua,
        &api.perftest,
        "check",
        "",
        |lua, (r, checks): (Value, Value)| {
            run(lua, &r, &checks, "perftest.check")
                .map(|outcomes| all_passed(outcomes.as_deref()))
                .map_err(rt)
        },
    )
}

/// True when every check passed (a sample not checked has not passed).
pub fn all_passed(outcomes: Option<&[(String, bool)]>) -> bool {
    outcomes.is_some_and(|o| o.iter().all(|(_, pass)| *pass))
}

/// Runs each check on `r`, in name order; marks `r` failed if one fails. None for a sample the
/// run interrupted, which is not checked (as `stats:add` ignores it). The error names `verb`
/// and what is wrong with the arguments.
pub fn run(
    lua: &Lua,
    r: &Value,
    checks: &Value,
    verb: &str,
) -> Result<Option<Vec<(String, bool)>>, String> {
    let usage = format!(
        "{verb}(r, checks): give a result and a table of checks, {{ [\"status is 200\"] = function(r) return r.status == 200 end }}"
    );
    let (Value::Table(r), Value::Table(checks)) = (r, checks) else {
        return Err(format!(
            "{usage}; got r: {}, checks: {}",
            r.type_name(),
            checks.type_name()
        ));
    };
    let mut list: Vec<(String, Function)> = Vec::new();
    for pair in checks.pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        let name = super::options::string_or(k, |t| {
            format!(
                "{verb}: each check needs a name, got a key of type {t} (give [\"name\"] = function(r) ... end)"
            )
        })?;
        match v {
            Value::Function(f) => list.push((name, f)),
            other => {
                return Err(format!(
                    "{verb}: check \"{name}\": give a function(r) that returns true when it passes, got {}",
                    other.type_name()
                ));
            }
        }
    }
    if r.raw_get::<Option<String>>("error_kind")
        .ok()
        .flatten()
        .as_deref()
        == Some("interrupted")
    {
        return Ok(None);
    }
    list.sort_by(|a, b| a.0.cmp(&b.0));
    let mut outcomes = Vec::with_capacity(list.len());
    for (name, f) in list {
        let pass = match f.call::<Value>(r.clone()) {
            Ok(v) => !matches!(v, Value::Nil | Value::Boolean(false)),
            Err(e) => {
                report_once(lua, &name, &e);
                false
            }
        };
        outcomes.push((name, pass));
    }
    mark_failed(r, &outcomes).map_err(|e| e.to_string())?;
    Ok(Some(outcomes))
}

/// A failed check fails the sample: `ok` false and, unless the probe itself failed (whose
/// reason says more), `error` "check failed: NAME[, NAME...]" of kind "check" (whose phases
/// the statistics still count).
fn mark_failed(r: &Table, outcomes: &[(String, bool)]) -> mlua::Result<()> {
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|(_, pass)| !pass)
        .map(|(name, _)| name.as_str())
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    r.raw_set("ok", false)?;
    if r.raw_get::<Value>("error")?.is_nil() {
        r.raw_set("error", format!("check failed: {}", failed.join(", ")))?;
        r.raw_set("error_kind", crate::stats::CHECK_FAILED)?;
    }
    Ok(())
}

fn report_once(lua: &Lua, name: &str, e: &mlua::Error) {
    let first = lua
        .app_data_ref::<Reported>()
        .is_none_or(|seen| seen.0.borrow_mut().insert(name.to_string()));
    if first {
        errln!(
            "perftest: check \"{name}\" raised an error, which counts as a failure (shown once): {}",
            super::errors::describe(e)
        );
    }
}
