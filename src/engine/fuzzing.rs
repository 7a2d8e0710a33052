//! The fuzz targets' entry points that go through Lua: a probe's options table, `perftest.args`,
//! `r:json()` and `perftest.json`, and the result table of a canned response. Each must
//! neither panic nor hang, whatever the bytes; lib.rs's `fuzzing` is their only door out.

use std::cell::RefCell;
use std::time::Duration;

use mlua::{Lua, Value};

use super::{args, convert, json_api, result_api, sample};
use crate::cli::Classic;
use crate::probe::ProbeRequest;

thread_local! {
    // One Lua state and one runtime for the whole fuzzing process: making them per input
    // would cost more than the parsing under test.
    static LUA: Lua = Lua::new();
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// Reads the fuzzer's bytes as a Lua value tree.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    fn text(&mut self) -> String {
        let n = usize::from(self.byte() % 48);
        String::from_utf8_lossy(self.bytes(n)).into_owned()
    }

    fn eight(&mut self) -> [u8; 8] {
        let mut b = [0u8; 8];
        for (i, v) in self.bytes(8).iter().enumerate() {
            b[i] = *v;
        }
        b
    }

    fn value(&mut self, lua: &Lua, depth: u8) -> mlua::Result<Value> {
        Ok(match self.byte() % 9 {
            0 => Value::Nil,
            1 => Value::Boolean(self.byte() & 1 == 1),
            2 => Value::Integer(i64::from_le_bytes(self.eight())),
            3 => Value::Number(f64::from_le_bytes(self.eight())),
            4 => Value::Integer(i64::from(self.byte()) - 16),
            5 => Value::Number(f64::from(self.byte()) / 8.0),
            6 => Value::String(lua.create_string(self.text())?),
            7 if depth < 3 => {
                let t = lua.create_table()?;
                for _ in 0..self.byte() % 6 {
                    let key = self.key(lua, depth)?;
                    let value = self.value(lua, depth + 1)?;
                    if !key.is_nil() && !matches!(key, Value::Number(n) if n.is_nan()) {
                        t.raw_set(key, value)?;
                    }
                }
                Value::Table(t)
            }
            _ => Value::Function(lua.create_function(|_, ()| Ok(()))?),
        })
    }

    fn key(&mut self, lua: &Lua, depth: u8) -> mlua::Result<Value> {
        Ok(match self.byte() % 4 {
            0 | 1 => {
                let names = convert::option_keys();
                let i = usize::from(self.byte()) % names.len();
                Value::String(lua.create_string(names[i])?)
            }
            2 => Value::String(lua.create_string(self.text())?),
            _ => self.value(lua, depth + 1)?,
        })
    }
}

/// `perftest.probe(url, opts)`'s options: a URL (mostly a valid one, so that the options are
/// reached) and an opts table built from the bytes, every key and value type among them.
pub fn options(data: &[u8]) {
    const URLS: &[&str] = &[
        "http://fuzz.test/",
        "https://fuzz.test:8443/a?b=c",
        "http://[::1]:8080/x",
    ];
    LUA.with(|lua| {
        let mut r = Reader(data);
        let pick = r.byte();
        let url = match pick % 4 {
            3 => r.text(),
            i => URLS[usize::from(i)].to_string(),
        };
        let Ok(t) = lua.create_table() else { return };
        for _ in 0..r.byte() % 8 {
            let Ok(key) = r.key(lua, 0) else { return };
            let Ok(value) = r.value(lua, 1) else { return };
            if !key.is_nil() && !matches!(key, Value::Number(n) if n.is_nan()) {
                let _ = t.raw_set(key, value);
            }
        }
        let _ = convert::request(&url, Some(&t), true);
    });
}

/// The classic flags made `perftest.args`, as default.lua receives them.
pub fn classic(c: &Classic) {
    LUA.with(|lua| {
        let _ = args::classic_table(lua, c);
    });
}

/// `r:json()` and `perftest.json`: any bytes decoded (or the error's byte offset found), the
/// value made Lua, encoded back, and the text decoded again.
pub fn json(data: &[u8]) {
    LUA.with(|lua| {
        let Ok(r) = lua.create_table() else { return };
        let Ok(body) = lua.create_string(data) else {
            return;
        };
        let _ = r.raw_set("body", body);
        let _ = r.raw_set("body_truncated", data.first().is_some_and(|b| b & 1 == 1));
        let Ok(value) = result_api::body_json(lua, &r) else {
            return;
        };
        let Ok(encoded) = json_api::to_json(&value, 0) else {
            return;
        };
        let text = serde_json::to_string(&encoded).expect("a serde_json value encodes");
        let again: serde_json::Value =
            serde_json::from_str(&text).expect("what perftest.json.encode writes decodes");
        let _ = json_api::to_lua(lua, &again);
    });
}

/// The response path without a socket: the bytes after the first are what the server sends,
/// as HTTP/1.1 or (first byte odd) HTTP/2 frames; a first byte with bit 1 set keeps only half
/// the body. The result is made the table scripts see, and a Location is joined as a
/// redirect would be.
pub fn response(data: &[u8]) {
    let Some((&how, bytes)) = data.split_first() else {
        return;
    };
    let mut req = ProbeRequest::new("http://fuzz.test/page").expect("a valid URL");
    req.timeout = Duration::from_secs(5);
    if how & 2 != 0 {
        req.max_body = Some(bytes.len() as u64 / 2);
    }
    let result = RUNTIME.with(|rt| {
        let mut rt = rt.borrow_mut();
        let rt = rt.get_or_insert_with(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
        });
        rt.block_on(crate::probe::canned(&req, bytes.to_vec(), how & 1 == 1))
    });
    // The server closed the connection after its bytes: a sample that waited for more hung.
    if let Some(e) = &result.error {
        assert!(
            e.kind != crate::probe::ErrorKind::Timeout,
            "the exchange hung after the server closed: {e:?}"
        );
    }
    LUA.with(|lua| {
        let _ = sample::result_table(lua, &result, "Fuzz,XX");
    });
}
