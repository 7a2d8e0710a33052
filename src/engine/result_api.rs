//! Methods on probe results (`r:json()`): one metatable shared by every result table, so a
//! result stays a plain table (`pairs`, `json.encode`, `r.x = ...`) and costs no closure.

use mlua::{Lua, Table, Value};

use super::errors::rt;
use super::json_api::to_lua;
use super::verbs::Api;

/// Where the shared metatable is kept in the Lua registry.
const META: &str = "perftest.result";

/// Makes the results' metatable with `r:json()`.
pub fn register(lua: &Lua, api: &Api) -> mlua::Result<()> {
    let methods = lua.create_table()?;
    let meta = lua.create_table()?;
    meta.set("__index", &methods)?;
    lua.set_named_registry_value(META, meta)?;
    api.raising(lua, &methods, "json", "", |lua, r: Table| {
        body_json(lua, &r).map_err(rt)
    })
}

/// Gives `t` the results' methods.
pub fn attach(lua: &Lua, t: &Table) -> mlua::Result<()> {
    let meta: Table = lua.named_registry_value(META)?;
    t.set_metatable(Some(meta))
}

/// `r:json()`: the kept body decoded, or a message naming the byte where it stops being JSON.
pub(crate) fn body_json(lua: &Lua, r: &Table) -> Result<Value, String> {
    let body = match r.raw_get::<Value>("body").map_err(|e| e.to_string())? {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Nil => {
            return Err("r:json(): no body kept: probe with keep_body = true".into());
        }
        other => {
            return Err(format!(
                "r:json(): r.body is a {}, not the body text",
                other.type_name()
            ));
        }
    };
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        let mut msg = format!(
            "r:json(): the body is not JSON: {} at byte {}",
            reason(&e),
            byte_offset(&body, &e)
        );
        if e.is_eof() && r.raw_get::<bool>("body_truncated").unwrap_or(false) {
            msg.push_str(&format!(
                " (only its first {} bytes were kept: raise keep_body)",
                body.len()
            ));
        }
        msg
    })?;
    to_lua(lua, &value).map_err(|e| format!("r:json(): {e}"))
}

/// serde_json's message without its " at line L column C" (the byte offset replaces it).
fn reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The 0-based byte where decoding stopped (the length when the text ended early): serde_json
/// counts lines and, within the line, bytes from 1.
fn byte_offset(body: &[u8], e: &serde_json::Error) -> usize {
    if e.is_eof() {
        return body.len();
    }
    let line_start = match e.line() {
        0 | 1 => 0,
        line => body
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(body.len(), |(i, _)| i + 1),
    };
    (line_start + e.column().saturating_sub(1)).min(body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(text: &str) -> (usize, String) {
        let e = serde_json::from_slice::<serde_json::Value>(text.as_bytes()).unwrap_err();
        (byte_offset(text.as_bytes(), &e), reason(&e))
    }

    #[test]
    fn the_offset_is_the_byte_where_the_json_goes_wrong() {
        // 'x' is byte 6.
        assert_eq!(offset("{\"a\": x}").0, 6);
        // On the third line: bytes 0-5 "{\"a\":\n", 6-9 "  1,", '\n' 10, then "  x" -> 13.
        assert_eq!(offset("{\"a\":\n  1,\n  x}").0, 13);
        let (at, why) = offset("[1] 2");
        assert_eq!(at, 4);
        assert_eq!(why, "trailing characters");
        // Cut short: the offset is the end.
        assert_eq!(offset("[1, 2").0, 5);
    }
}
