//! How an area's verbs reach Lua. Plain ones are set on the `perftest` table as they are;
//! raising ones return `true, values...` or `false, message`, and the prelude wraps each in
//! one loop so that the error names the caller's line (`error(message, 2)`) and `pcall`
//! reads a plain string.

use std::future::Future;

use mlua::{FromLuaMulti, Function, IntoLua, IntoLuaMulti, Lua, MultiValue, Table, Value};

use super::errors::describe;

/// The `perftest` table being built, and the raising verbs the prelude will wrap.
pub struct Api {
    pub perftest: Table,
    /// A sequence of `{table, name, function}`: `table[name]` becomes the wrapper.
    raising: Table,
}

impl Api {
    /// An empty `perftest` table.
    pub fn new(lua: &Lua) -> mlua::Result<Api> {
        Ok(Api {
            perftest: lua.create_table()?,
            raising: lua.create_table()?,
        })
    }

    /// `perftest[name] = value`.
    pub fn set(&self, name: &str, value: impl IntoLua) -> mlua::Result<()> {
        self.perftest.set(name, value)
    }

    /// `perftest[name] = f`, a function that raises as any Lua function does.
    pub fn function<A, R, F>(&self, lua: &Lua, name: &str, f: F) -> mlua::Result<()>
    where
        A: FromLuaMulti,
        R: IntoLuaMulti,
        F: Fn(&Lua, A) -> mlua::Result<R> + 'static,
    {
        self.perftest.set(name, lua.create_function(f)?)
    }

    /// `table[name] = f` whose error is raised at the caller's line, after `prefix` (unless
    /// the message has it already).
    pub fn raising<A, R, F>(
        &self,
        lua: &Lua,
        table: &Table,
        name: &str,
        prefix: &'static str,
        f: F,
    ) -> mlua::Result<()>
    where
        A: FromLuaMulti,
        R: IntoLuaMulti,
        F: Fn(&Lua, A) -> mlua::Result<R> + 'static,
    {
        let func = lua.create_function(move |lua, args: A| answer(lua, prefix, f(lua, args)))?;
        self.wrap(lua, table, name, func)
    }

    /// [`Api::raising`] for a verb that waits (a probe, a configuration load).
    pub fn raising_async<A, R, F, FR>(
        &self,
        lua: &Lua,
        table: &Table,
        name: &str,
        prefix: &'static str,
        f: F,
    ) -> mlua::Result<()>
    where
        A: FromLuaMulti + 'static,
        R: IntoLuaMulti,
        F: Fn(Lua, A) -> FR + 'static,
        FR: Future<Output = mlua::Result<R>> + 'static,
    {
        let func = lua.create_async_function(move |lua, args: A| {
            let run = f(lua.clone(), args);
            async move { answer(&lua, prefix, run.await) }
        })?;
        self.wrap(lua, table, name, func)
    }

    fn wrap(&self, lua: &Lua, table: &Table, name: &str, func: Function) -> mlua::Result<()> {
        let entry = lua.create_sequence_from([
            Value::Table(table.clone()),
            Value::String(lua.create_string(name)?),
            Value::Function(func),
        ])?;
        self.raising.push(entry)
    }

    /// The raising verbs, for the prelude's loop.
    pub fn raising_list(&self) -> Table {
        self.raising.clone()
    }
}

/// `true, values...`, or `false, "prefix: message"`.
fn answer<R: IntoLuaMulti>(
    lua: &Lua,
    prefix: &str,
    r: mlua::Result<R>,
) -> mlua::Result<MultiValue> {
    match r {
        Ok(values) => {
            let mut out = values.into_lua_multi(lua)?;
            out.push_front(Value::Boolean(true));
            Ok(out)
        }
        Err(e) => {
            let text = describe(&e);
            let text = if text.starts_with(prefix) {
                text
            } else {
                format!("{prefix}{text}")
            };
            let mut out = MultiValue::new();
            out.push_back(Value::Boolean(false));
            out.push_back(Value::String(lua.create_string(text)?));
            Ok(out)
        }
    }
}
