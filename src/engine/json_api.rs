//! `perftest.json.encode` and `perftest.json.decode`, and the one conversion each way between
//! Lua values and JSON (webhooks and `r:json()` use them too).

use mlua::{Lua, LuaSerdeExt, Value};

use super::verbs::Api;

/// Registers `perftest.json`.
pub fn register(lua: &Lua, api: &Api) -> mlua::Result<()> {
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
            to_lua(lua, &value)
        })?,
    )?;
    api.set("json", json)
}

/// JSON text as a Lua value (objects and arrays as tables, null as nil).
pub fn to_lua(lua: &Lua, value: &serde_json::Value) -> mlua::Result<Value> {
    let opts = mlua::serde::SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    lua.to_value_with(value, opts)
}

/// A Lua value as JSON: a table with keys 1..n is an array, any other an object whose keys
/// are written as strings (so `{[200] = 5}` is `{"200":5}`); NaN and infinities are null.
pub fn to_json(v: &Value, depth: usize) -> Result<serde_json::Value, String> {
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
