//! `perftest.args`: the classic flags as a table for default.lua, or a script's arguments.

use mlua::{Lua, Table, Value};

use crate::cli::Classic;

/// A script's arguments: the parsed classic flags, or the words after `perftest run NAME`.
pub enum ScriptArgs {
    Classic(Box<Classic>),
    List(Vec<String>),
}

/// The classic flags as named fields, named as [`Classic`]'s (a flag not given is nil so the
/// script knows), and the two that are worked out: `verbose` (0 quiet to 3) and `ip`.
pub fn classic_table(lua: &Lua, c: &Classic) -> mlua::Result<Table> {
    use mlua::LuaSerdeExt;
    let options = mlua::serde::SerializeOptions::new()
        .serialize_none_to_null(false)
        .set_array_metatable(false);
    let Value::Table(t) = lua.to_value_with(c, options)? else {
        return Err(mlua::Error::runtime("the classic flags are not a table"));
    };
    t.set("verbose", c.verbosity())?;
    let ip = if c.ipv4 {
        Some("v4")
    } else if c.ipv6 {
        Some("v6")
    } else {
        None
    };
    t.set("ip", ip)?;
    Ok(t)
}

/// A script's arguments as given, in order.
pub fn list_table(lua: &Lua, args: &[String]) -> mlua::Result<Value> {
    Ok(Value::Table(
        lua.create_sequence_from(args.iter().cloned())?,
    ))
}
