//! The process as a script sees it: `perftest.args`, `env`, `location`, `version`, `exit`,
//! `eprint`, `isatty`, `color`, `colors`, `parse_classic`; and `print`, `io.write` and `os.exit` through
//! perftest, so output order holds when piped and a closed pipe ends the run cleanly.

use std::rc::Rc;

use mlua::{Function, Lua, MultiValue, Table, Value};

use super::args;
use super::context::Ctx;
use super::errors::ExitRequest;
use super::verbs::Api;

/// Registers the process's verbs and replaces Lua's own output functions.
pub fn register(lua: &Lua, api: &Api, ctx: &Rc<Ctx>, script_args: Value) -> mlua::Result<()> {
    api.function(lua, "env", |_, name: String| Ok(std::env::var(name).ok()))?;
    api.set("location", ctx.svc.location.as_str())?;
    api.set("args", script_args)?;
    api.set("version", env!("CARGO_PKG_VERSION"))?;
    let exit = lua.create_function(exit)?;
    api.set("exit", exit.clone())?;
    api.function(lua, "eprint", |lua, args: MultiValue| {
        errln!("{}", join_tostring(lua, &args)?);
        Ok(())
    })?;
    api.function(
        lua,
        "parse_classic",
        |lua, list: Vec<String>| match crate::cli::parse_classic(&list) {
            Ok(classic) => {
                if let Some(when) = classic.color {
                    crate::color::set(when);
                }
                args::classic_table(lua, &classic)
            }
            Err(e) => {
                let _ = e.print();
                Err(mlua::Error::external(ExitRequest(e.exit_code())))
            }
        },
    )?;
    api.function(lua, "isatty", |_, ()| {
        Ok(std::io::IsTerminal::is_terminal(&std::io::stdout()))
    })?;
    api.function(lua, "color", |_, (text, name): (String, String)| {
        colored(&text, &name)
    })?;
    // perftest.colors([when]): sets "auto", "always" or "never"; true if stdout takes colour.
    api.function(lua, "colors", |_, when: Option<String>| {
        if let Some(w) = when {
            let w = crate::color::When::parse(&w).ok_or_else(|| {
                mlua::Error::runtime(format!(
                    "perftest.colors: '{w}': give auto, always or never"
                ))
            })?;
            crate::color::set(w);
        }
        Ok(crate::color::stdout())
    })?;

    // A fault to inject, for the tests of what a panic under a Lua call does; debug builds
    // with PERFTEST_TEST_PANIC set only.
    #[cfg(debug_assertions)]
    if std::env::var_os("PERFTEST_TEST_PANIC").is_some() {
        api.function(lua, "_panic", |_, msg: String| -> mlua::Result<()> {
            panic!("{msg}")
        })?;
    }
    install_output(lua, ctx, exit)
}

/// `perftest.exit([code [, message]])`: ends the run with `code` (true 0, false 1).
fn exit(_: &Lua, (code, message): (Option<Value>, Option<String>)) -> mlua::Result<()> {
    let code = match code {
        None | Some(Value::Nil) | Some(Value::Boolean(true)) => 0,
        Some(Value::Boolean(false)) => 1,
        Some(Value::Integer(i)) => exit_status(i as f64)?,
        Some(Value::Number(n)) => exit_status(n)?,
        Some(other) => {
            return Err(mlua::Error::runtime(format!(
                "exit code must be a number, got {}",
                other.type_name()
            )));
        }
    };
    if let Some(m) = message {
        errln!("{m}");
    }
    Err(mlua::Error::external(ExitRequest(code)))
}

/// An exit code as the process can return it: a byte, since 256 would read as 0, a success.
fn exit_status(n: f64) -> mlua::Result<i32> {
    if (0.0..=255.0).contains(&n) && n.fract() == 0.0 {
        Ok(n as i32)
    } else {
        Err(mlua::Error::runtime(format!(
            "exit code {}: give a whole number from 0 to 255",
            crate::probe::shown(n)
        )))
    }
}

/// Whether colour goes to stdout (`--color`, NO_COLOR, CLICOLOR_FORCE, a terminal).
pub fn stdout_colors() -> bool {
    crate::color::stdout()
}

/// `perftest.color(text, "green")`: the text in that colour when stdout takes colour, else as is.
fn colored(text: &str, name: &str) -> mlua::Result<String> {
    use nu_ansi_term::{Color, Style};
    let style = match name {
        "red" => Color::Red.normal(),
        "green" => Color::Green.normal(),
        "yellow" => Color::Yellow.normal(),
        "blue" => Color::Blue.normal(),
        "magenta" => Color::Purple.normal(),
        "cyan" => Color::Cyan.normal(),
        "white" => Color::White.normal(),
        "gray" | "grey" => Color::DarkGray.normal(),
        "bold" => Style::new().bold(),
        "dim" => Style::new().dimmed(),
        other => {
            return Err(mlua::Error::runtime(format!(
                "perftest.color: unknown colour '{other}' (red, green, yellow, blue, magenta, cyan, white, gray, bold, dim)"
            )));
        }
    };
    Ok(if stdout_colors() {
        style.paint(text).to_string()
    } else {
        text.to_string()
    })
}

/// `print`, `io.write` and `os.exit` through perftest's stdout and exit.
fn install_output(lua: &Lua, ctx: &Rc<Ctx>, exit: Function) -> mlua::Result<()> {
    let globals = lua.globals();
    let c = ctx.clone();
    globals.set(
        "print",
        lua.create_function(move |lua, args: MultiValue| {
            let mut line = join_tostring(lua, &args)?;
            line.push('\n');
            c.svc.out.write(line.as_bytes());
            Ok(())
        })?,
    )?;
    let io: Table = globals.get("io")?;
    let stdout: Value = io.get("stdout")?;
    let c = ctx.clone();
    io.set(
        "write",
        lua.create_function(move |_, args: MultiValue| {
            let mut buf = Vec::new();
            for (i, v) in args.iter().enumerate() {
                match v {
                    Value::String(s) => buf.extend_from_slice(&s.as_bytes()),
                    Value::Integer(n) => buf.extend_from_slice(n.to_string().as_bytes()),
                    Value::Number(n) => buf.extend_from_slice(format_number(*n).as_bytes()),
                    other => {
                        return Err(mlua::Error::runtime(format!(
                            "bad argument #{} to 'write' (string expected, got {})",
                            i + 1,
                            other.type_name()
                        )));
                    }
                }
            }
            c.svc.out.write(&buf);
            Ok(stdout.clone())
        })?,
    )?;
    let os: Table = globals.get("os")?;
    os.set("exit", exit)?;
    Ok(())
}

/// Lua's own `tostring` for each value, joined by tabs, as `print` does.
fn join_tostring(lua: &Lua, args: &MultiValue) -> mlua::Result<String> {
    let tostring: Function = lua.globals().get("tostring")?;
    let mut line = String::new();
    for (i, v) in args.iter().enumerate() {
        if i > 0 {
            line.push('\t');
        }
        match v {
            Value::String(s) => line.push_str(&s.to_string_lossy()),
            other => line.push_str(&tostring.call::<String>(other.clone())?),
        }
    }
    Ok(line)
}

/// A float as Lua's io.write prints it ("%.14g").
fn format_number(n: f64) -> String {
    if n.is_finite() && n == n.trunc() && n.abs() < 1e15 {
        format!("{n:.1}")
    } else {
        let s = format!("{n:.14e}");
        match s.parse::<f64>() {
            Ok(v) => v.to_string(),
            Err(_) => s,
        }
    }
}
