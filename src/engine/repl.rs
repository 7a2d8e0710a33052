//! `perftest repl`: Lua with perftest loaded, one line at a time. On a terminal, rustyline
//! (history saved after every line, hints from it, Tab listing what fits, multi-line input);
//! otherwise stdin is read line by line with no prompts, so the REPL can be scripted. Lines are
//! read on a thread of their own: the Lua thread keeps running spawned tasks while it waits
//! for the next one, and answers the reader's Tab with what the live Lua state holds.
//!
//! Ctrl-C while a line runs stops it at once and every task alive with it (they see the stop:
//! a probe in flight returns interrupted, a sleep ends, busy Lua raises "interrupted"), then the
//! prompt returns. Only here does a hook count instructions, so scenarios pay nothing for it.

use std::borrow::Cow;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::Duration;

use mlua::{AnyUserData, Function, HookTriggers, Lua, MultiValue, Table, Value, VmState};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config};
use tokio::sync::mpsc;

use super::args::ScriptArgs;
use super::context::{Ctx, Services};
use super::errors::{describe, exit_request};

/// What the reader thread hands the Lua thread.
enum Input {
    Line(String),
    /// A line of piped input that is not UTF-8 text (its number).
    NotText(usize),
    /// Ctrl-C at the prompt: forget the unfinished chunk.
    Cancel,
    /// Tab: the line, the cursor, and where to send (start, candidates).
    Complete(String, usize, std::sync::mpsc::Sender<(usize, Vec<String>)>),
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

/// Busy Lua checks for Ctrl-C this often: some microseconds of work between checks.
const HOOK_EVERY: u32 = 10_000;

/// How long Tab waits for the Lua thread; it is idle whenever a prompt shows.
const COMPLETION_WAIT: Duration = Duration::from_secs(2);

/// How long the tasks alive get to see a Ctrl-C's stop before the prompt returns.
const TASKS_STOP_WAIT: Duration = Duration::from_secs(2);

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
    let complete: Function = match lua.load("return require('perftest.repl').complete").eval() {
        Ok(f) => f,
        Err(e) => {
            errln!("perftest: {}", describe(&e));
            return 1;
        }
    };
    let native = match completion_native(&lua) {
        Ok(t) => t,
        Err(e) => {
            errln!("perftest: {}", describe(&e));
            return 1;
        }
    };
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        // Ctrl-C is for the line that runs; Ctrl-D and `exit` end the REPL.
        ctx.svc.shutdown.sigint_only_interrupts();
    }
    let stop = ctx.svc.shutdown.clone();
    let hooked = lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |_, _| {
            if stop.is_stopping() {
                Err(mlua::Error::runtime("interrupted by Ctrl-C"))
            } else {
                Ok(VmState::Continue)
            }
        },
    );
    if let Err(e) = hooked {
        errln!("perftest: Ctrl-C cannot interrupt busy Lua: {e}");
    }
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
        std::thread::spawn(move || read_terminal(input_tx, ask_rx));
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
            Input::Complete(line, pos, reply) => {
                let found = complete
                    .call::<(usize, Vec<String>)>((line, pos, &native))
                    .unwrap_or((pos, Vec::new()));
                let _ = reply.send(found);
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
            Compiled::Ready(f) => match interruptible(&ctx, f).await {
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
        if ctx.svc.shutdown.is_stopping() {
            // Ctrl-C: the tasks alive saw the stop too; let them end before the next line.
            let _ = tokio::time::timeout(TASKS_STOP_WAIT, ctx.run.tasks.all_done()).await;
        }
        // Ctrl-C interrupted this evaluation only; the next one starts afresh.
        ctx.svc.shutdown.reset();
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

/// Runs a chunk until it ends or Ctrl-C: a chunk waiting (a probe, a sleep, a join) is
/// dropped at the stop; busy Lua never yields, and the hook raises in it instead.
async fn interruptible(ctx: &Ctx, f: Function) -> mlua::Result<MultiValue> {
    // A Ctrl-C that came between lines was for no line: this one starts afresh.
    ctx.svc.shutdown.reset();
    tokio::select! {
        done = f.call_async::<MultiValue>(()) => done,
        _ = ctx.svc.shutdown.wait() => Err(mlua::Error::runtime("interrupted by Ctrl-C")),
    }
}

/// What the completer needs from Rust: a userdata's method names and the probe's options.
fn completion_native(lua: &Lua) -> mlua::Result<Table> {
    let native = lua.create_table()?;
    native.set(
        "members",
        lua.create_function(|_, ud: AnyUserData| {
            let mut names = Vec::new();
            if let Ok(Value::Table(index)) = ud.metatable().and_then(|m| m.get::<Value>("__index"))
            {
                for (k, _) in index.pairs::<String, Value>().flatten() {
                    names.push(k);
                }
            }
            Ok(names)
        })?,
    )?;
    native.set("probe_options", super::convert::option_keys().to_vec())?;
    Ok(native)
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

fn read_terminal(tx: mpsc::UnboundedSender<Input>, ask: std::sync::mpsc::Receiver<Ask>) {
    // As bash: Tab completes what is common, a second Tab lists the candidates.
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut editor = match rustyline::Editor::<Helper, DefaultHistory>::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            errln!("perftest: cannot use the terminal ({e}); reading lines plainly");
            return read_stdin(tx);
        }
    };
    editor.set_helper(Some(Helper {
        tx: tx.clone(),
        hinter: HistoryHinter::new(),
        dim: crate::color::stdout(),
    }));
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
                    // Saved now, so no way out of the REPL (a kill, a closed terminal) loses it.
                    if let Some(h) = &history {
                        let _ = editor.append_history(h);
                    }
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
}

/// Tab asks the Lua thread; hints come from the history, dimmed as fish shows them.
struct Helper {
    tx: mpsc::UnboundedSender<Input>,
    hinter: HistoryHinter,
    dim: bool,
}

impl Completer for Helper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (reply, answer) = std::sync::mpsc::channel();
        if self
            .tx
            .send(Input::Complete(line.to_string(), pos, reply))
            .is_err()
        {
            return Ok((pos, Vec::new()));
        }
        let (start, names) = answer
            .recv_timeout(COMPLETION_WAIT)
            .unwrap_or((pos, Vec::new()));
        let pairs = names
            .into_iter()
            .map(|n| Pair {
                display: n.trim_end_matches([' ', '=']).to_string(),
                replacement: n,
            })
            .collect();
        Ok((start.min(pos), pairs))
    }
}

impl Hinter for Helper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &rustyline::Context<'_>) -> Option<String> {
        self.hinter.hint(line, pos, ctx)
    }
}

impl Highlighter for Helper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.dim {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }
}

impl Validator for Helper {}

impl rustyline::Helper for Helper {}
