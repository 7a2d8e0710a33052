//! `perftest repl`: Lua with perftest loaded, one line at a time. On a terminal, rustyline
//! (history, completion of names, multi-line input); otherwise stdin is read line by line with
//! no prompts, so the REPL can be scripted. Lines are read on a thread of their own: the Lua
//! thread keeps running spawned tasks while it waits for the next one.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mlua::{Function, Lua, MultiValue, Value};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use tokio::sync::mpsc;

use super::ScriptArgs;
use super::context::{Ctx, Services};
use super::errors::{describe, exit_request};

/// What the reader thread hands the Lua thread.
enum Input {
    Line(String),
    /// A line of piped input that is not UTF-8 text (its number).
    NotText(usize),
    /// Ctrl-C at the prompt: forget the unfinished chunk.
    Cancel,
    Eof,
}

/// What the Lua thread asks the reader for next.
enum Ask {
    /// A new chunk.
    Primary,
    /// The rest of an unfinished chunk.
    Continue,
    Quit,
}

/// Names for completion, refreshed after every evaluation.
type Names = Arc<Mutex<Vec<String>>>;

/// Runs the REPL until end of input; 1 if any line failed when not on a terminal.
pub async fn run(svc: Services) -> i32 {
    let ctx = Ctx::new(svc);
    let here = std::env::current_dir().ok();
    let lua = match super::new_lua(&ctx, &ScriptArgs::List(Vec::new()), here.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            errln!("perftest: {}", describe(&e));
            return 1;
        }
    };
    let show: Function = match lua.load("return require('perftest.repl').show").eval() {
        Ok(f) => f,
        Err(e) => {
            errln!("perftest: {}", describe(&e));
            return 1;
        }
    };
    let interactive = std::io::stdin().is_terminal();
    let names: Names = Arc::new(Mutex::new(Vec::new()));
    refresh_names(&lua, &names);
    let (input_tx, mut input) = mpsc::unbounded_channel();
    let (ask, ask_rx) = std::sync::mpsc::channel();
    if interactive {
        ctx.svc.out.write(
            format!(
                "perftest {} (Lua 5.4). perftest.probe(\"https://...\") times a request; Tab completes; Ctrl-D quits.\n",
                env!("CARGO_PKG_VERSION")
            )
            .as_bytes(),
        );
        let names = names.clone();
        std::thread::spawn(move || read_terminal(input_tx, ask_rx, names));
    } else {
        std::thread::spawn(move || read_stdin(input_tx));
    }

    let mut chunk = String::new();
    let mut failed = false;
    let _ = ask.send(Ask::Primary);
    while let Some(msg) = input.recv().await {
        let line = match msg {
            Input::Eof => break,
            Input::NotText(n) => {
                errln!("perftest: stdin line {n} is not UTF-8 text; skipped");
                failed = true;
                continue;
            }
            Input::Cancel => {
                chunk.clear();
                let _ = ask.send(Ask::Primary);
                continue;
            }
            Input::Line(l) => l,
        };
        if chunk.is_empty() && matches!(line.trim(), "exit" | "quit") {
            break;
        }
        chunk.push_str(&line);
        chunk.push('\n');
        match compile(&lua, &chunk) {
            Compiled::Incomplete => {
                let _ = ask.send(Ask::Continue);
                continue;
            }
            Compiled::Error(e) => {
                errln!("{e}");
                failed = true;
            }
            Compiled::Ready(f) => match f.call_async::<MultiValue>(()).await {
                Ok(values) => {
                    for v in values {
                        match show.call::<String>(v) {
                            Ok(text) => {
                                ctx.svc.out.write(format!("{text}\n").as_bytes());
                            }
                            Err(e) => errln!("{}", describe(&e)),
                        }
                    }
                }
                Err(e) => {
                    if let Some(code) = exit_request(&e) {
                        let _ = ask.send(Ask::Quit);
                        return code;
                    }
                    errln!("{}", describe(&e));
                    failed = true;
                }
            },
        }
        chunk.clear();
        // Ctrl-C interrupted this evaluation only; the next one starts afresh.
        ctx.svc.shutdown.reset();
        refresh_names(&lua, &names);
        let _ = ask.send(Ask::Primary);
    }
    let _ = ask.send(Ask::Quit);
    if !chunk.trim().is_empty() {
        // The input ended inside a statement: say where, rather than drop it.
        let why = match lua.load(chunk.as_str()).set_name("=stdin").into_function() {
            Err(e) => describe(&e),
            Ok(_) => "an unfinished chunk".to_string(),
        };
        errln!("perftest: input ended before the chunk was complete: {why}");
        failed = true;
    }
    ctx.svc
        .out
        .exit_code()
        .unwrap_or(i32::from(failed && !interactive))
}

enum Compiled {
    Ready(Function),
    Incomplete,
    Error(String),
}

/// An expression first (so `1 + 1` and `perftest.probe(url)` show their value), then a
/// statement; a chunk cut short asks for more.
fn compile(lua: &Lua, chunk: &str) -> Compiled {
    if let Ok(f) = lua
        .load(format!("return {chunk}"))
        .set_name("=stdin")
        .into_function()
    {
        return Compiled::Ready(f);
    }
    match lua.load(chunk).set_name("=stdin").into_function() {
        Ok(f) => Compiled::Ready(f),
        Err(mlua::Error::SyntaxError {
            incomplete_input: true,
            ..
        }) => Compiled::Incomplete,
        Err(e) => Compiled::Error(describe(&e)),
    }
}

/// Global names, and the fields of global tables as `table.field`.
fn refresh_names(lua: &Lua, names: &Names) {
    let mut out = Vec::new();
    for (k, v) in lua.globals().pairs::<String, Value>().flatten() {
        if let Value::Table(t) = &v {
            for (field, _) in t.pairs::<String, Value>().flatten() {
                out.push(format!("{k}.{field}"));
            }
        }
        out.push(k);
    }
    out.sort();
    *names.lock().unwrap_or_else(|p| p.into_inner()) = out;
}

fn read_stdin(tx: mpsc::UnboundedSender<Input>) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        match stdin.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        n += 1;
        if buf.ends_with(b"\n") {
            buf.pop();
            if buf.ends_with(b"\r") {
                buf.pop();
            }
        }
        let msg = match String::from_utf8(std::mem::take(&mut buf)) {
            Ok(line) => Input::Line(line),
            Err(_) => Input::NotText(n),
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
    let _ = tx.send(Input::Eof);
}

/// `$XDG_DATA_HOME/perftest/history` (or the platform's data directory).
fn history_path() -> Option<PathBuf> {
    let dir = dirs::data_dir()?.join("perftest");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history"))
}

fn read_terminal(
    tx: mpsc::UnboundedSender<Input>,
    ask: std::sync::mpsc::Receiver<Ask>,
    names: Names,
) {
    let mut editor = match rustyline::Editor::<Helper, DefaultHistory>::new() {
        Ok(e) => e,
        Err(e) => {
            errln!("perftest: cannot use the terminal ({e}); reading lines plainly");
            return read_stdin(tx);
        }
    };
    editor.set_helper(Some(Helper { names }));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    while let Ok(next) = ask.recv() {
        let prompt = match next {
            Ask::Primary => "perftest> ",
            Ask::Continue => ">> ",
            Ask::Quit => break,
        };
        let msg = match editor.readline(prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                Input::Line(line)
            }
            Err(ReadlineError::Interrupted) => Input::Cancel,
            Err(ReadlineError::Eof) => Input::Eof,
            Err(e) => {
                errln!("perftest: reading the terminal: {e}");
                Input::Eof
            }
        };
        let eof = matches!(msg, Input::Eof);
        if tx.send(msg).is_err() || eof {
            break;
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
}

/// Completes global names and `perftest.` fields.
struct Helper {
    names: Names,
}

impl Completer for Helper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .map_or(0, |i| i + 1);
        let word = &line[start..pos];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        Ok((
            start,
            names
                .iter()
                .filter(|n| n.starts_with(word))
                .cloned()
                .collect(),
        ))
    }
}

impl Hinter for Helper {
    type Hint = String;
}

impl Highlighter for Helper {}

impl Validator for Helper {}

impl rustyline::Helper for Helper {}
