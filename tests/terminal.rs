//! perftest as a person at a terminal meets it: the REPL under a real pseudo-terminal, keys
//! typed and the screen read back through a terminal emulator (vt100), waiting for what should
//! appear with a generous deadline rather than sleeping.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::target::Target;
use common::temp_dir;
use rexpect::session::PtySession;

/// As long as a loaded 2-core machine could need for anything here.
const DEADLINE: Duration = Duration::from_secs(20);
const TAB: &str = "\t";
const CTRL_C: &str = "\x03";
const CTRL_D: &str = "\x04";
const CTRL_U: &str = "\x15";
const RIGHT: &str = "\x1b[C";

/// perftest on a pseudo-terminal, and what its screen shows.
struct Term {
    session: PtySession,
    /// rustyline takes 80 columns when the terminal reports none, as a fresh pty does.
    screen: vt100::Parser,
    /// Every byte received, escapes included.
    raw: Vec<u8>,
}

impl Term {
    fn start(args: &[&str], data_home: &Path, env: &[(&str, &str)]) -> Term {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_perftest"));
        cmd.args(args)
            .env("TERM", "xterm")
            .env("XDG_DATA_HOME", data_home)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CLICOLOR")
            .env_remove("PERFTEST_URL")
            .env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let session = rexpect::session::spawn_command(cmd, Some(DEADLINE.as_millis() as u64))
            .expect("start perftest on a pty");
        Term {
            session,
            screen: vt100::Parser::new(24, 80, 0),
            raw: Vec::new(),
        }
    }

    fn repl(data_home: &Path) -> Term {
        let mut t = Term::start(&["repl"], data_home, &[]);
        t.wait_for("perftest> ");
        t
    }

    fn pump(&mut self) {
        // rexpect hands each byte over as a char of the same value.
        while let Some(c) = self.session.try_read() {
            let byte = c as u32 as u8;
            self.raw.push(byte);
            self.screen.process(&[byte]);
        }
    }

    fn text(&self) -> String {
        self.screen.screen().contents()
    }

    /// Waits until the screen satisfies `pred`; returns the screen.
    fn wait_until(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            self.pump();
            let text = self.text();
            if pred(&text) {
                return text;
            }
            assert!(
                Instant::now() < end,
                "waited {DEADLINE:?} for {what}; the screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_for(&mut self, needle: &str) -> String {
        self.wait_until(&format!("{needle:?}"), |s| s.contains(needle))
    }

    /// Waits for a row that reads `line` and nothing else: what a chunk printed, not the
    /// echo of the line typed (which rustyline draws while the terminal is still raw, so a
    /// Ctrl-C sent on seeing the echo can reach rustyline as a key instead of as SIGINT).
    fn wait_line(&mut self, line: &str) -> String {
        self.wait_until(&format!("a row reading {line:?}"), |s| {
            s.lines().any(|l| l.trim_end() == line)
        })
    }

    /// Waits for the `n`th prompt on the screen (the screen holds 24 lines: count recent ones).
    fn wait_prompts(&mut self, n: usize) -> String {
        self.wait_until(&format!("{n} prompts"), |s| {
            s.matches("perftest> ").count() >= n
        })
    }

    /// The text from the cursor to the end of its row, and whether it is drawn dim.
    fn after_cursor(&mut self) -> (String, bool) {
        self.pump();
        let screen = self.screen.screen();
        let (row, col) = screen.cursor_position();
        let (_, cols) = screen.size();
        let text: String = (col..cols)
            .filter_map(|c| screen.cell(row, c))
            .map(|c| c.contents().to_string())
            .collect::<String>()
            .trim_end()
            .to_string();
        let dim = screen.cell(row, col).is_some_and(|c| c.dim());
        (text, dim)
    }

    /// Waits for a fresh prompt after the last `marker` on the screen (the line it ran).
    fn wait_prompt_after(&mut self, marker: &str) -> String {
        self.wait_until(&format!("a prompt after {marker:?}"), |s| {
            s.rfind(marker).is_some_and(|at| {
                s[at + marker.len()..]
                    .lines()
                    .skip(1)
                    .any(|l| l.trim_end() == "perftest>")
            })
        })
    }

    fn send(&mut self, keys: &str) {
        self.session.send(keys).unwrap();
        self.session.flush().unwrap();
    }

    /// Clears the screen's record (not the terminal), so the next waits see only what follows.
    fn clear(&mut self) {
        self.pump();
        self.screen = vt100::Parser::new(24, 80, 0);
    }

    /// Waits for the end: the exit code, or what ended it otherwise.
    fn exit_status(mut self) -> Result<i32, String> {
        self.pump();
        match self.session.process().wait().unwrap() {
            nix::sys::wait::WaitStatus::Exited(_, code) => Ok(code),
            other => Err(format!("{other:?}")),
        }
    }
}

fn history_file(data_home: &Path) -> PathBuf {
    data_home.join("perftest/history")
}

#[test]
fn tab_lists_nested_names_methods_result_fields_and_probe_options() {
    let target = Target::http();
    let home = temp_dir("repl-tab");
    let mut t = Term::repl(&home);

    t.send(&format!("perftest.json.{TAB}{TAB}"));
    let screen = t.wait_until("the json verbs listed", |s| {
        s.lines().any(|l| l.trim() == "decode  encode")
    });
    assert!(screen.contains("perftest> perftest.json."), "{screen}");

    // One candidate completes in place.
    t.send(&format!("{CTRL_U}perftest.vers{TAB}"));
    t.wait_until("perftest.version", |s| {
        s.contains("perftest> perftest.version")
    });

    t.send(&format!("{CTRL_U}s = perftest.stats('x'){}", "\r"));
    t.wait_prompt_after("stats('x')");
    t.clear();
    t.send(&format!("s:{TAB}{TAB}"));
    let screen = t.wait_for("percentile");
    for method in ["add", "summary", "window", "merge"] {
        assert!(
            screen.split_whitespace().any(|w| w == method),
            "{method}:\n{screen}"
        );
    }

    t.send(&format!(
        "{CTRL_U}r = perftest.probe('{}')\r",
        target.url("/")
    ));
    t.wait_prompt_after("r = perftest.probe(");
    t.clear();
    t.send(&format!("r.t{TAB}{TAB}"));
    let screen = t.wait_until("a result's t fields", |s| {
        s.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.contains(&"tcp") && w.contains(&"tls") && w.contains(&"total")
        })
    });
    assert!(screen.contains("r.t"), "{screen}");
    t.send(&format!("{CTRL_U}r:js{TAB}"));
    t.wait_until("r:json", |s| s.contains("perftest> r:json"));

    t.send(&format!(
        "{CTRL_U}perftest.probe('{}', {{ conn{TAB}",
        target.url("/")
    ));
    t.wait_until("the option's name", |s| s.contains("{ connect_timeout = "));
    t.send(&format!("1, fol{TAB}"));
    t.wait_until("a second option", |s| {
        s.contains("connect_timeout = 1, follow_redirects = ")
    });

    t.send(&format!("{CTRL_U}{CTRL_D}"));
    assert_eq!(t.exit_status(), Ok(0));
}

#[test]
fn history_hints_as_fish_and_is_saved_after_every_line() {
    let home = temp_dir("repl-history");
    let mut t = Term::repl(&home);
    t.send("4321 + 1\r");
    t.wait_for("4322");
    // Saved while the REPL still runs: a kill cannot lose it.
    let end = Instant::now() + DEADLINE;
    while !std::fs::read_to_string(history_file(&home)).is_ok_and(|h| h.contains("4321 + 1")) {
        assert!(
            Instant::now() < end,
            "the line never reached the history file"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    t.clear();
    t.send("432");
    t.wait_until("the hint", |s| s.contains("perftest> 4321 + 1"));
    // What follows the cursor is the hint, dimmed, not typed text. Each key redraws it (after
    // "4" the screen already reads "4321 + 1"): wait for the third key's redraw.
    let end = Instant::now() + DEADLINE;
    while t.after_cursor() != ("1 + 1".to_string(), true) {
        assert!(
            Instant::now() < end,
            "after 432 the hint reads {:?}",
            t.after_cursor()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Right arrow takes the hint.
    t.send(&format!("{RIGHT}\r"));
    t.wait_for("4322");

    t.send("hist_marker = 7\r");
    t.wait_prompt_after("hist_marker = 7");
    t.session
        .process_mut()
        .signal(nix::sys::signal::Signal::SIGKILL)
        .unwrap();
    let history = std::fs::read_to_string(history_file(&home)).unwrap();
    assert!(history.contains("hist_marker = 7"), "{history}");

    // A new REPL has it: Up brings it back.
    let mut again = Term::repl(&home);
    again.send("\x1b[A");
    again.wait_until("the last line", |s| s.contains("perftest> hist_marker = 7"));
    again.send(&format!("{CTRL_U}exit\r"));
    assert_eq!(again.exit_status(), Ok(0));
}

#[test]
fn ctrl_c_interrupts_busy_lua_waiting_chunks_and_tasks_but_never_ends_the_repl() {
    let home = temp_dir("repl-ctrl-c");
    let mut t = Term::repl(&home);

    // Busy Lua never yields: the REPL's instruction hook stops it.
    t.send("print('spinning') while true do end\r");
    t.wait_line("spinning");
    t.send(CTRL_C);
    t.wait_for("interrupted by Ctrl-C");
    t.wait_prompts(2);

    // A chunk waiting (a long sleep) returns at once, long before its minute is up.
    t.clear();
    let started = Instant::now();
    t.send("print('sleeping') perftest.sleep(600)\r");
    t.wait_line("sleeping");
    t.send(CTRL_C);
    t.wait_prompts(1);
    assert!(started.elapsed() < Duration::from_secs(60));

    // Tasks alive are stopped with it: a sleeping loop and a busy one.
    t.clear();
    t.send(concat!(
        "a = perftest.spawn(function() while true do perftest.sleep(0.01) end end) ",
        "b = perftest.spawn(function() while true do end end) ",
        "print('spawned') perftest.sleep(600)\r"
    ));
    t.wait_line("spawned");
    t.send(CTRL_C);
    t.wait_prompts(1);
    t.clear();
    t.send("print(a:done(), b:done(), perftest.stopping())\r");
    t.wait_until("both tasks ended, the stop taken back", |s| {
        s.lines()
            .any(|l| l.split_whitespace().eq(["true", "true", "false"]))
    });

    // A second Ctrl-C, long after the first, interrupts again and does not exit (130).
    t.clear();
    t.send("print('again') while true do end\r");
    t.wait_line("again");
    t.send(CTRL_C);
    t.wait_for("interrupted by Ctrl-C");
    t.wait_prompts(1);
    // Ctrl-C at the prompt drops the unfinished line.
    t.send("for i = 1, 3 do\r");
    t.wait_for(">> ");
    t.send(CTRL_C);
    t.wait_prompt_after(">>");
    t.clear();
    t.send("6 * 7\r");
    t.wait_for("42");

    t.send(CTRL_D);
    assert_eq!(t.exit_status(), Ok(0));
}

#[test]
fn a_terminal_gets_colour_and_the_load_its_progress_bar_unless_no_color() {
    let target = Target::http();
    let home = temp_dir("term-colour");
    let url = target.url("/page?size=10");
    let mut t = Term::start(&["run", "waterfall", &url], &home, &[]);
    t.wait_for("Total (TCP");
    let raw = {
        t.wait_for("Total (TCP");
        t.pump();
        t.raw.clone()
    };
    assert_eq!(t.exit_status(), Ok(0));
    assert!(
        raw.windows(2).any(|w| w == b"\x1b["),
        "colour on a terminal"
    );

    let mut plain = Term::start(&["run", "waterfall", &url], &home, &[("NO_COLOR", "1")]);
    plain.wait_for("Total (TCP");
    plain.pump();
    let text = String::from_utf8_lossy(&plain.raw).into_owned();
    assert_eq!(plain.exit_status(), Ok(0));
    // The pty may send cursor keys of its own; a colour is an SGR ending in 'm'.
    assert!(
        !text.contains("\x1b[1m") && !text.contains("\x1b[3"),
        "{text:?}"
    );

    // The load's bar is drawn on a terminal while it runs, then cleared.
    let mut load = Term::start(
        &["run", "load", "-c", "1", "-d", "3", &target.url("/")],
        &home,
        &[],
    );
    load.wait_until("the progress bar", |s| s.contains('%') && s.contains('['));
    load.wait_for("load ");
    assert_eq!(load.exit_status(), Ok(0));
}
