//! `perftest.args`: the classic flags as a table for default.lua, or a script's arguments.

use mlua::{Lua, Table, Value};

use crate::cli::Classic;

/// A script's arguments: the parsed classic flags, or the words after `perftest run NAME`.
pub enum ScriptArgs {
    Classic(Box<Classic>),
    List(Vec<String>),
}

/// The classic flags as named fields; a flag not given is nil so the script knows.
pub fn classic_table(lua: &Lua, c: &Classic) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("n", c.n)?;
    t.set("d", c.d)?;
    t.set("f", c.f)?;
    t.set("json", c.json)?;
    t.set("jsonl", c.jsonl)?;
    t.set("c", c.cloudwatch)?;
    t.set("W", c.webhook.clone())?;
    t.set("A", c.alert_ms)?;
    t.set("M", c.alert_every)?;
    t.set("p", c.port)?;
    t.set("listen", c.listen.clone())?;
    t.set("remote_write", c.remote_write.clone())?;
    t.set("verbose", c.verbosity())?;
    t.set("insecure", c.insecure)?;
    t.set("follow", c.follow)?;
    t.set("cacert", c.cacert.as_ref().map(|p| p.display().to_string()))?;
    t.set("http2", c.http2)?;
    t.set("timeout", c.timeout)?;
    t.set("connect_timeout", c.connect_timeout)?;
    t.set(
        "ip",
        if c.ipv4 {
            Some("v4")
        } else if c.ipv6 {
            Some("v6")
        } else {
            None
        },
    )?;
    t.set(
        "resolve",
        lua.create_sequence_from(c.resolve.iter().cloned())?,
    )?;
    t.set(
        "headers",
        lua.create_sequence_from(c.headers.iter().cloned())?,
    )?;
    t.set("method", c.method.clone())?;
    t.set("dns_server", c.dns_server.clone())?;
    t.set("urls", lua.create_sequence_from(c.urls.iter().cloned())?)?;
    Ok(t)
}

/// A script's arguments as given, in order.
pub fn list_table(lua: &Lua, args: &[String]) -> mlua::Result<Value> {
    Ok(Value::Table(
        lua.create_sequence_from(args.iter().cloned())?,
    ))
}
