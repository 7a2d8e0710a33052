//! Lua errors as users read them: `file:line: cause`, one line.

use std::fmt;

/// A runtime error raised to Lua with `msg`, the one way the engine's verbs fail.
pub(crate) fn rt(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::runtime(msg.into())
}

/// Raised by `perftest.exit` and `os.exit` to end the run with a code; not a failure.
#[derive(Debug)]
pub struct ExitRequest(pub i32);

impl fmt::Display for ExitRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for ExitRequest {}

/// The exit code if `e` is (or wraps) an [`ExitRequest`].
pub fn exit_request(e: &mlua::Error) -> Option<i32> {
    match e {
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<ExitRequest>().map(|x| x.0),
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            exit_request(cause)
        }
        _ => None,
    }
}

/// One line naming the script, the line and the cause.
pub fn describe(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => first_line(message),
        mlua::Error::RuntimeError(message) => runtime_text(message),
        mlua::Error::MemoryError(message) => format!(
            "out of memory: {} (raise the limit with PERFTEST_LUA_MEMORY_MB)",
            first_line(message)
        ),
        mlua::Error::CallbackError { traceback, cause } => {
            let inner = describe(cause);
            match (has_location(&inner), first_lua_frame(traceback)) {
                (false, Some(at)) => format!("{at}: {inner}"),
                _ => inner,
            }
        }
        mlua::Error::WithContext { context, cause } => format!("{context}: {}", describe(cause)),
        mlua::Error::ExternalError(inner) => first_line(&inner.to_string()),
        mlua::Error::BadArgument {
            to,
            pos,
            name,
            cause,
        } => {
            let what = match name {
                Some(n) => format!("bad argument #{pos} ({n})"),
                None => format!("bad argument #{pos}"),
            };
            let to = to
                .as_deref()
                .map(|t| format!(" to '{t}'"))
                .unwrap_or_default();
            format!("{what}{to}: {}", describe(cause))
        }
        other => first_line(&other.to_string()),
    }
}

/// True if `e` was raised with a value that is not a message (`error({})`, `error()`): Lua
/// gives those no `file:line:`, so the caller adds it. (`error("msg", 0)` asked for none.)
pub fn raised_without_message(e: &mlua::Error) -> bool {
    let text = describe(e);
    !has_location(&text) && text.starts_with("error() was given")
}

/// The traceback of `e`, when there is one (for -v).
pub fn traceback(e: &mlua::Error) -> Option<String> {
    match e {
        mlua::Error::CallbackError { traceback, cause } => {
            traceback_of_cause(cause).or_else(|| Some(traceback.clone()))
        }
        mlua::Error::RuntimeError(m) => m.find("stack traceback:").map(|i| m[i..].to_string()),
        mlua::Error::WithContext { cause, .. } => traceback(cause),
        _ => None,
    }
}

fn traceback_of_cause(e: &mlua::Error) -> Option<String> {
    match e {
        mlua::Error::CallbackError { .. } | mlua::Error::WithContext { .. } => traceback(e),
        _ => None,
    }
}

/// A runtime error's text on one line: a module not found keeps the places it looked in, and
/// an error raised with a table (or nothing) says so rather than `table: 0x55d1c2e0`.
fn runtime_text(message: &str) -> String {
    let first = first_line(message);
    if first.ends_with("not found:") {
        let tried: Vec<&str> = message
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("stack traceback:"))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        return format!(
            "{} (searched: {})",
            first.trim_end_matches(':'),
            tried.join("; ")
        );
    }
    let (at, what) = match first.rsplit_once(": ") {
        Some((at, what)) if has_location(&format!("{at}: x")) => (format!("{at}: "), what),
        _ => (String::new(), first.as_str()),
    };
    let kind = what.split_once(": 0x").map(|(kind, _)| kind);
    match kind {
        Some(kind @ ("table" | "function" | "userdata" | "thread")) => format!(
            "{at}error() was given a {kind}, not a message (give it a string, or a table with __tostring)"
        ),
        _ if what == "nil" => format!("{at}error() was given no message"),
        _ => first,
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim_end().to_string()
}

/// True if `s` starts like `name:12: ...`.
fn has_location(s: &str) -> bool {
    let mut parts = s.splitn(3, ':');
    let (Some(file), Some(line), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !file.is_empty() && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
}

/// Where the Lua code of `thread` stopped (`script.lua:12`), read from the call frames a
/// coroutine keeps after it failed; the prelude's thin wrappers are skipped, as `error(msg, 2)`
/// skips them.
pub fn lua_line_of(thread: &mlua::Thread) -> Option<String> {
    use mlua::ffi;
    let state = thread.state();
    // SAFETY: `thread` keeps the coroutine alive; it has failed, so it is not running, and
    // this (the only Lua thread) only reads its frames.
    unsafe {
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        let mut level = 0;
        while ffi::lua_getstack(state, level, &mut ar) != 0 {
            level += 1;
            if ffi::lua_getinfo(state, c"Sl".as_ptr(), &mut ar) == 0 || ar.currentline <= 0 {
                continue;
            }
            let src = std::ffi::CStr::from_ptr(ar.short_src.as_ptr()).to_string_lossy();
            if src.starts_with("__mlua") || src.starts_with("perftest/prelude") {
                continue;
            }
            return Some(format!("{src}:{}", ar.currentline));
        }
    }
    None
}

/// The innermost Lua frame of a traceback, `script.lua:12`, skipping C functions.
fn first_lua_frame(traceback: &str) -> Option<String> {
    traceback.lines().skip(1).find_map(|line| {
        let line = line.trim();
        if line.starts_with("[C]") || line.starts_with("__mlua") {
            return None;
        }
        let (head, _) = line.split_once(": in ")?;
        has_location(&format!("{head}: x")).then(|| head.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_is_taken_from_the_first_lua_frame() {
        let tb = "stack traceback:\n\t[C]: in function 'perftest.sleep'\n\t__mlua_async_poll:5: in function <__mlua_async_poll:1>\n\tmy.lua:7: in main chunk\n\t[C]: in ?";
        assert_eq!(first_lua_frame(tb).as_deref(), Some("my.lua:7"));
        assert!(has_location("my.lua:7: boom"));
        assert!(!has_location("bad argument #1: boom"));
    }
}
