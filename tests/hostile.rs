//! perftest as a careless user and a hostile server would try it: closed and full
//! stdout/stderr, panics in tasks, out-of-range loads, bad ports, redirect loops, control
//! characters, doubled signals, descriptor floods, bad flags, lying certificates. Each case
//! asserts the message, the exit code and the rows kept; every run made here is checked for
//! `panicked at` in its output (see [`checked`]).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::dns::DnsServer;
use common::hostile::{BadCert, RawServer, bad_pki};
use common::moto::Moto;
use common::target::Target;
use common::{perftest, write_temp};

/// What a run left: its exit code, stdout and stderr.
struct Ran {
    code: i32,
    out: String,
    err: String,
}

/// Checks one finished run: no panic reached its output, whatever else the test asserts.
fn checked(out: Output) -> Ran {
    let ran = Ran {
        code: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !ran.out.contains("panicked at") && !ran.err.contains("panicked at"),
        "a panic reached the output\nstdout: {}\nstderr: {}",
        ran.out,
        ran.err
    );
    ran
}

/// Runs `cmd` to its end (20 s at most), stdout and stderr piped unless set already.
fn ran(mut cmd: Command) -> Ran {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    checked(common::run_with_limit(cmd, Duration::from_secs(20)))
}

/// perftest with `args`.
fn pt(args: &[&str]) -> Command {
    let mut cmd = perftest();
    cmd.args(args);
    cmd
}

/// Waits for a child whose stdout or stderr may be redirected elsewhere (20 s at most).
fn finish(child: Child) -> Ran {
    checked(common::run_with_limit_child(child, Duration::from_secs(20)))
}

/// The classic TSV rows in `stdout` (numbered lines of twelve fields).
fn rows(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .filter_map(|l| {
            let (n, rest) = l.split_once(' ')?;
            n.parse::<u64>().ok()?;
            let fields: Vec<String> = rest.split('\t').map(str::to_string).collect();
            (fields.len() == 12).then_some(fields)
        })
        .collect()
}

fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full"),
    )
}

/// Lowers the child's open-file limit to `n` before it starts.
fn with_nofile(cmd: &mut Command, n: u64) {
    // SAFETY: setrlimit is async-signal-safe, as pre_exec requires.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A script file in a fresh directory; returns its path.
fn script(name: &str, src: &str) -> String {
    write_temp("hostile", name, src).display().to_string()
}

fn kill(pid: i32, signal: i32) {
    // SAFETY: kill sends a signal; nothing else.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {pid} {signal}");
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after_name.split(' ').collect();
    // Fields 14 and 15 of stat, counted from the state (field 3) here.
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    // SAFETY: sysconf reads a constant.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// Reads `stream` line by line until a line contains `want`; returns that line.
fn wait_for_line(stream: &mut impl BufRead, want: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let n = stream.read_line(&mut line).unwrap();
        assert!(n > 0, "the stream ended before a line with {want:?}");
        if line.contains(want) {
            return line;
        }
    }
}

// ---- 1. A closed or full stderr/stdout ---------------------------------------------------

/// stderr closed at once (`2>&1 >rows | grep -m1 ...`) or full: the messages are dropped, every
/// row is written, the run ends by itself, with and without -q.
#[test]
fn an_unwritable_stderr_drops_the_messages_and_keeps_every_row() {
    let refused = format!("http://127.0.0.1:{}/", common::free_port());
    for quiet in [true, false] {
        for full in [false, true] {
            let mut cmd = perftest();
            if quiet {
                cmd.arg("-q");
            }
            cmd.args(["-n", "20", "-d", "0.01", "-f", "100", &refused])
                .stdout(Stdio::piped());
            if full {
                cmd.stderr(dev_full());
            } else {
                cmd.stderr(Stdio::piped());
            }
            let mut child = cmd.spawn().unwrap();
            // A reader that is gone before the first message: every write gets EPIPE.
            drop(child.stderr.take());
            let r = finish(child);
            let what = format!("quiet {quiet}, /dev/full {full}");
            assert_eq!(r.code, 0, "{what}: {}", r.out);
            assert_eq!(rows(&r.out).len(), 20, "{what}: {}", r.out);
            assert!(rows(&r.out).iter().all(|f| f[7] == "500"), "{what}");
            assert!(
                r.out
                    .ends_with("No valid samples received, no summary provided\n"),
                "{what}: {}",
                r.out
            );
        }
    }
}

/// The same for a scenario that writes to stderr from tasks (perftest.eprint, errors).
#[test]
fn an_unwritable_stderr_does_not_stop_a_scenario() {
    let t = Target::http();
    let src = format!(
        r#"
local tasks = {{}}
for i = 1, 3 do
  tasks[i] = perftest.spawn(function()
    for j = 1, 5 do
      perftest.eprint("note", i, j)
      io.stderr:write("raw note\n")
      local r = perftest.probe("{}")
      print(i, j, r.status)
    end
  end)
end
perftest.join_all(tasks)
perftest.spawn(function() error("a task that fails, reported on a closed stderr") end)
"#,
        t.url("/page?size=5")
    );
    let path = script("stderr.lua", &src);
    for full in [false, true] {
        let mut cmd = pt(&["run", &path]);
        cmd.stdout(Stdio::piped());
        if full {
            cmd.stderr(dev_full());
        } else {
            cmd.stderr(Stdio::piped());
        }
        let mut child = cmd.spawn().unwrap();
        drop(child.stderr.take());
        let r = finish(child);
        // The failed task is still counted: exit 1, as with a stderr that works.
        assert_eq!(r.code, 1, "/dev/full {full}");
        assert_eq!(r.out.lines().filter(|l| l.ends_with("\t200")).count(), 15);
    }
}

/// stdout on /dev/full: one line on stderr, exit 74; `scripts` and `--definitions` too. A
/// closed pipe is a clean end (exit 0), as `perftest ... | head` expects.
#[test]
fn an_unwritable_stdout_ends_the_run_with_exit_74() {
    let refused = format!("http://127.0.0.1:{}/", common::free_port());
    for args in [
        vec!["-n", "3", "-d", "0", refused.as_str()],
        vec!["-q", "-n", "3", "-d", "0", refused.as_str()],
        vec!["scripts"],
        vec!["scripts", "waterfall"],
        vec!["scripts", "--definitions"],
    ] {
        let mut cmd = pt(&args);
        cmd.stdout(dev_full()).stderr(Stdio::piped());
        let r = finish(cmd.spawn().unwrap());
        assert_eq!(r.code, 74, "{args:?}: {}", r.err);
        assert!(
            r.err
                .contains("perftest: cannot write to stdout: No space left on device"),
            "{args:?}: {}",
            r.err
        );
    }
    for args in [vec!["scripts"], vec!["scripts", "--definitions"]] {
        let mut cmd = pt(&args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        drop(child.stdout.take());
        let r = finish(child);
        assert_eq!(r.code, 0, "{args:?}: {}", r.err);
        assert_eq!(r.err, "", "{args:?}");
    }
}

/// A stdout that fails half-way (a file past its size limit, EFBIG): the run stops, the
/// CloudWatch buffer is flushed, the exit code is 74. The rows written are all published.
#[test]
fn a_stdout_that_fails_mid_run_still_flushes_cloudwatch() {
    let moto = Moto::start();
    let t = Target::http();
    let url = t.url("/page");
    let file = common::temp_dir("efbig").join("rows.tsv");
    let mut cmd = pt(&["-n", "0", "-d", "0.05", "-c", &url]);
    cmd.envs(moto.env())
        .env("PERFTEST_CW_INTERVAL", "60")
        .env("REP_LOCATION", "Oslo,NO")
        .stdout(std::fs::File::create(&file).unwrap())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit and signal are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            // Ignored, so a write past the limit fails with EFBIG instead of killing the process.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 700,
                rlim_max: 700,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            Ok(())
        });
    }
    let r = finish(cmd.spawn().unwrap());
    assert_eq!(r.code, 74, "{}", r.err);
    assert!(
        r.err
            .contains("perftest: cannot write to stdout: File too large"),
        "{}",
        r.err
    );
    let written = std::fs::read_to_string(&file).unwrap();
    let kept = rows(&written).len();
    assert!(kept >= 3, "{written}");
    let (n, ..) = moto.statistics(
        "Http Perf Demo",
        "RespTime",
        &[
            ("TestUrl", &url),
            ("HTTP Resp Code", "200"),
            ("FromLocation", "Oslo,NO"),
        ],
    );
    // The sample whose row did not fit is published as well.
    assert!(
        n as usize == kept || n as usize == kept + 1,
        "{n} published, {kept} rows written"
    );
}

// ---- 2. A panic in a task -----------------------------------------------------------------

/// A panic under a Lua call (injected: PERFTEST_TEST_PANIC, debug builds) ends that task with
/// an error naming the Lua line; the other tasks go on, and a signal still stops the run.
#[test]
fn a_panic_in_a_task_ends_that_task_and_the_others_go_on() {
    let t = Target::http();
    let src = format!(
        r#"
perftest.spawn(function()
  perftest.sleep(0.05)
  perftest._panic("injected fault")
end)
local steady = perftest.spawn(function()
  for i = 1, 5 do print(i, perftest.probe("{}").status) end
end)
steady:join()
io.stdout:write("five done\n")
perftest.spawn(function()
  while not perftest.stopping() do perftest.sleep(0.02) end
  print("stopped by the signal")
end)
"#,
        t.url("/page?size=3")
    );
    let path = script("panic.lua", &src);
    let mut child = pt(&["run", &path])
        .env("PERFTEST_TEST_PANIC", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let line = wait_for_line(&mut err, "internal error");
    assert!(
        line.starts_with(&format!(
            "perftest: task 1: {path}:4: internal error: injected fault (src/engine/process_api.rs:"
        )) && line.trim_end().ends_with(") (please report it)"),
        "{line}"
    );
    let mut out = BufReader::new(child.stdout.take().unwrap());
    wait_for_line(&mut out, "five done");
    kill(child.id() as i32, libc::SIGTERM);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let r = finish(child);
    assert_eq!(r.code, 1, "the failed task is counted");
    assert!(rest.contains("stopped by the signal"), "{rest}");
}

/// A panic in the main chunk: the error names the line, exit 1; nothing hangs.
#[test]
fn a_panic_in_the_main_chunk_is_an_error_naming_the_line() {
    let path = script(
        "panic-main.lua",
        "print('before')\nperftest._panic('main fault')\n",
    );
    let r = ran({
        let mut c = pt(&["run", &path]);
        c.env("PERFTEST_TEST_PANIC", "1");
        c
    });
    assert_eq!(r.code, 1);
    assert_eq!(r.out, "before\n");
    assert!(
        r.err
            .starts_with(&format!("perftest: {path}:2: internal error: main fault")),
        "{}",
        r.err
    );
}

// ---- 3. Load values out of range ----------------------------------------------------------

#[test]
fn load_values_out_of_range_are_usage_errors_naming_the_range() {
    let url = format!("http://127.0.0.1:{}/", common::free_port());
    let cases: [(&[&str], &str); 5] = [
        (
            &["--rate", "1e12"],
            "--rate 1e12: give requests per second from 0.001 to 1000000",
        ),
        (
            &["--rate", "5e9"],
            "--rate 5e9: give requests per second from 0.001 to 1000000",
        ),
        (&["--rate", "0"], "--rate 0: give requests per second from"),
        (
            &["-d", "1e300"],
            "-d 1e300: give seconds above 0, at most 31536000 (a year)",
        ),
        (&["-c", "10000000"], "-c 10000000: at most "),
    ];
    for (args, want) in cases {
        let mut all = vec!["run", "load", "-n", "10"];
        all.extend_from_slice(args);
        all.push(&url);
        let r = ran(pt(&all));
        assert_eq!(r.code, 2, "{args:?}: {}", r.err);
        assert!(
            r.err.starts_with(&format!("perftest run load: {want}")),
            "{args:?}: {}",
            r.err
        );
        assert_eq!(r.out, "", "{args:?}");
    }
    // From a script, the same check raises, naming the line.
    let path = script(
        "load.lua",
        &format!(
            "local ok, e = pcall(perftest.load, {{ url = '{url}', rate = 5e9, requests = 1 }})\nprint(e)\nperftest.load {{ url = '{url}', duration = 1e300 }}\n"
        ),
    );
    let r = ran(pt(&["run", &path]));
    assert_eq!(r.code, 1);
    assert!(
        r.out
            .contains("perftest.load: rate 5e9: give requests per second from 0.001 to 1000000"),
        "{}",
        r.out
    );
    assert!(
        r.err.contains(&format!(
            "{path}:3: perftest.load: duration 1e300: give seconds above 0"
        )),
        "{}",
        r.err
    );
}

/// -c is bounded by what RLIMIT_NOFILE leaves (less 64 for the process and an eighth for the
/// web server); a load within the bound runs, every request succeeding.
#[test]
fn concurrency_is_bounded_by_the_open_file_limit() {
    let t = Target::http();
    let url = t.url("/page?size=10");
    // 256 - 64 - 32 = 160 sockets.
    let mut cmd = pt(&["run", "load", "-c", "161", "-n", "10", &url]);
    with_nofile(&mut cmd, 256);
    let r = ran(cmd);
    assert_eq!(r.code, 2, "{}", r.err);
    assert_eq!(
        r.err.trim_end(),
        "perftest run load: -c 161: at most 160 with this open-file limit (ulimit -n 256); raise the limit or ask for fewer"
    );
    let mut cmd = pt(&[
        "run",
        "load",
        "-c",
        "150",
        "-n",
        "600",
        "--no-progress",
        "-j",
        &url,
    ]);
    with_nofile(&mut cmd, 256);
    let r = ran(cmd);
    assert_eq!(r.code, 0, "{}", r.err);
    let summary: serde_json::Value = serde_json::from_str(r.out.lines().next().unwrap()).unwrap();
    assert_eq!(summary["count"], 600, "{}", r.out);
    assert_eq!(summary["ok"], 600, "{}", r.out);
}

// ---- 4. Invalid ports ---------------------------------------------------------------------

#[test]
fn an_invalid_port_is_a_usage_error_naming_the_url() {
    for url in [
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:65536/",
        "http://127.0.0.1:abc/",
        "https://127.0.0.1:0/",
    ] {
        let port = url.rsplit(':').next().unwrap().trim_end_matches('/');
        let want = format!("bad URL '{url}': port '{port}' is not a number from 1 to 65535");
        let r = ran(pt(&["-n", "1", "-d", "0", url]));
        assert_eq!(r.code, 2, "{url}");
        assert_eq!(r.err.trim_end(), format!("perftest: {want}"));
        assert_eq!(r.out, "", "no row for {url}");
        let r = ran(pt(&["run", "slo", "-n", "1", url]));
        assert_eq!(r.code, 2, "{url}");
        assert_eq!(
            r.err.trim_end(),
            format!("perftest run slo: {want} (see --help)")
        );
        let path = script("port.lua", &format!("local r = perftest.probe('{url}')\n"));
        let r = ran(pt(&["run", &path]));
        assert_eq!(r.code, 1, "{url}");
        assert_eq!(
            r.err.trim_end(),
            format!("perftest: {path}:1: perftest.probe: {want}")
        );
    }
}

// ---- 5. A redirect loop -------------------------------------------------------------------

#[test]
fn a_redirect_loop_under_dash_l_is_a_failed_sample() {
    let loop_ = RawServer::redirect_loop();
    let url = loop_.url("/start");
    let r = ran(pt(&["-q", "-L", "-n", "2", "-d", "0", &url]));
    assert_eq!(r.code, 0, "{}", r.err);
    let rows = rows(&r.out);
    assert_eq!(rows.len(), 2, "{}", r.out);
    assert!(rows.iter().all(|f| f[7] == "500"), "{}", r.out);
    assert!(
        r.out.contains("No valid samples received"),
        "not in the averages: {}",
        r.out
    );
    let want = format!("http http://{}/again: too many redirects (10)", loop_.addr);
    assert_eq!(r.err.lines().filter(|l| *l == want).count(), 2, "{}", r.err);
    // The first request and ten hops, no more, per sample.
    assert_eq!(
        loop_.requests.load(std::sync::atomic::Ordering::Relaxed),
        22
    );
    let r = ran(pt(&["-q", "--jsonl", "-L", "-n", "1", &url]));
    let row: serde_json::Value = serde_json::from_str(r.out.lines().next().unwrap()).unwrap();
    assert_eq!(row["error_kind"], "http");
    assert_eq!(row["http"], 500);
    assert_eq!(row["error"], want.as_str());
}

// ---- 6. Tabs and newlines in the location -------------------------------------------------

#[test]
fn tabs_and_newlines_in_the_location_do_not_add_columns_or_rows() {
    let t = Target::http();
    let url = t.url("/page?size=4");
    for var in ["REP_LOCATION", "REP_CITY"] {
        let mut cmd = pt(&["-q", "-n", "2", "-d", "0", &url]);
        cmd.env(var, "Par\tis\r\nFR");
        if var == "REP_CITY" {
            cmd.env("REP_COUNTRY", "F\tR");
        }
        let r = ran(cmd);
        assert_eq!(r.code, 0);
        let rows = rows(&r.out);
        assert_eq!(rows.len(), 2, "{}", r.out);
        assert!(rows.iter().all(|f| !f[9].contains(['\t', '\r', '\n'])));
        assert!(rows[0][9].starts_with("Par is  FR"), "{:?}", rows[0][9]);
        // Every line is the header, a row, or the summary's: none was split.
        assert_eq!(r.out.lines().count(), 1 + 2 + 5, "{}", r.out);
    }
    let mut cmd = pt(&["-q", "--jsonl", "-n", "1", &url]);
    cmd.env("REP_LOCATION", "Par\tis\r\nFR");
    let r = ran(cmd);
    let row: serde_json::Value = serde_json::from_str(r.out.lines().next().unwrap()).unwrap();
    assert_eq!(
        row["from_location"], "Par\tis\r\nFR",
        "JSON keeps them, escaped"
    );
}

// ---- 7. A signal delivered twice ----------------------------------------------------------

/// GNU timeout signals the child and then its process group: two SIGTERMs microseconds apart
/// are one stop. The summary prints, CloudWatch's buffer is flushed, exit 0.
#[test]
fn a_signal_delivered_twice_at_once_is_one_stop() {
    let moto = Moto::start();
    let t = Target::http();
    let url = t.url("/page?size=7");
    let mut child = pt(&["-n", "0", "-d", "0.05", "-c", &url])
        .envs(moto.env())
        .env("PERFTEST_CW_INTERVAL", "60")
        .env("REP_LOCATION", "Oslo,NO")
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..4 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
    }
    let pid = child.id() as i32;
    kill(pid, libc::SIGTERM);
    kill(-pid, libc::SIGTERM);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let r = finish(child);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(rest.contains("average values:"), "{rest}");
    let kept = 3 + rows(&rest).len();
    let (n, ..) = moto.statistics(
        "Http Perf Demo",
        "RespTime",
        &[
            ("TestUrl", &url),
            ("HTTP Resp Code", "200"),
            ("FromLocation", "Oslo,NO"),
        ],
    );
    assert_eq!(n as usize, kept, "every row was published by the flush");
}

/// The real thing: `timeout` ends a run with the summary printed (its own exit code, 124).
#[test]
fn gnu_timeout_ends_a_run_with_the_summary() {
    let t = Target::http();
    let mut cmd = Command::new("timeout");
    cmd.args(["-s", "TERM", "1", env!("CARGO_BIN_EXE_perftest")])
        .args(["-n", "0", "-d", "0.05", &t.url("/page?size=7")])
        .stdin(Stdio::null());
    let r = ran(cmd);
    assert_eq!(
        r.code, 124,
        "timeout's code for a command it stopped: {}",
        r.err
    );
    assert!(r.out.contains("average values:"), "{}", r.out);
    assert!(!r.err.contains("again, exiting now"), "{}", r.err);
}

/// A second signal 250 ms or more after the first is the user's second Ctrl-C: exit 130 at
/// once, even while the script ignores the stop.
#[test]
fn a_second_signal_later_exits_130() {
    let path = script(
        "stubborn.lua",
        "print('up')\nwhile true do perftest.sleep(0.05); if perftest.stopping() then perftest.sleep(0) end end\n",
    );
    let mut child = pt(&["run", &path])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    wait_for_line(&mut out, "up");
    let pid = child.id() as i32;
    kill(pid, libc::SIGINT);
    kill(pid, libc::SIGINT);
    // Both were one act: still running well after.
    std::thread::sleep(Duration::from_millis(600));
    assert!(child.try_wait().unwrap().is_none(), "one act, no exit");
    kill(pid, libc::SIGINT);
    let r = finish(child);
    assert_eq!(r.code, 130);
    assert!(
        r.err.contains("perftest: SIGINT again, exiting now"),
        "{}",
        r.err
    );
}

// ---- 8. The -p server under a descriptor flood ---------------------------------------------

/// With RLIMIT_NOFILE at 64 and 120 idle connections to the web server, the probes go on (the
/// server holds at most an eighth of the limit, the rest wait in the backlog), nothing spins,
/// and the server answers once the idle clients leave.
#[test]
fn idle_connections_to_the_web_server_do_not_starve_the_probes() {
    let t = Target::http();
    let mut cmd = pt(&[
        "--listen",
        "127.0.0.1:0",
        "-n",
        "0",
        "-d",
        "0.05",
        &t.url("/page?size=3"),
    ]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    with_nofile(&mut cmd, 64);
    let mut child = cmd.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let line = wait_for_line(&mut err, "serving /memstats");
    let addr: std::net::SocketAddr = line
        .trim_end()
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let cpu_before = cpu_seconds(child.id());
    let started = Instant::now();
    // 120: the server's 8 and a listen backlog's worth (128), so every connect completes.
    let idle: Vec<std::net::TcpStream> = (0..120)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(1000));
    let cpu = cpu_seconds(child.id()) - cpu_before;
    let wall = started.elapsed().as_secs_f64();
    drop(idle);
    // A spinning accept loop takes a whole core; probing every 50 ms takes a few per cent.
    assert!(cpu < 0.3 * wall, "{cpu:.2} s of CPU in {wall:.2} s");
    let mut healthz = String::new();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    std::io::Write::write_all(
        &mut s,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    s.read_to_string(&mut healthz).unwrap();
    assert!(
        healthz.starts_with("HTTP/1.1 200") && healthz.ends_with("ok\n"),
        "{healthz}"
    );
    kill(child.id() as i32, libc::SIGTERM);
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let r = finish(child);
    assert_eq!(r.code, 0, "{rest}");
    let rows = rows(&r.out);
    assert!(rows.len() >= 10, "{}\n{rest}", r.out);
    assert!(rows.iter().all(|f| f[7] == "200"), "{rest}");
    assert!(!rest.contains("open files"), "{rest}");
}

/// Out of descriptors (a script holds them all), the accept loop backs off instead of
/// spinning, and serves again once they are freed.
#[test]
fn the_web_server_backs_off_when_out_of_descriptors() {
    let src = r#"
local addr = perftest.serve { listen = "127.0.0.1:0" }
local held = {}
while true do
  local f = io.open("/dev/null")
  if not f then break end
  held[#held + 1] = f
end
print(addr, #held)
perftest.sleep(1.5)
for _, f in ipairs(held) do f:close() end
held = nil
print("freed")
perftest.sleep(3)
"#;
    let path = script("hold.lua", src);
    let mut cmd = pt(&["run", &path]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    with_nofile(&mut cmd, 128);
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let addr: std::net::SocketAddr = first.split('\t').next().unwrap().parse().unwrap();
    let cpu_before = cpu_seconds(child.id());
    let started = Instant::now();
    // Accepted by the kernel (the backlog), refused by accept() with EMFILE, again and again.
    let mut waiting = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(
        &mut waiting,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut freed = String::new();
    out.read_line(&mut freed).unwrap();
    let cpu = cpu_seconds(child.id()) - cpu_before;
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(freed, "freed\n");
    // Measured: a loop accepting again at once used 0.5 s of CPU a second here; backing off
    // uses none.
    assert!(
        cpu < 0.1 * wall,
        "{cpu:.2} s of CPU in {wall:.2} s out of descriptors"
    );
    waiting
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reply = String::new();
    waiting.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.ends_with("ok\n"),
        "{reply}"
    );
    kill(child.id() as i32, libc::SIGTERM);
    let r = finish(child);
    assert_eq!(r.code, 0, "{}", r.err);
}

// ---- 9. Messages --------------------------------------------------------------------------

#[test]
fn bad_flag_values_are_usage_errors_not_script_errors() {
    let url = "http://127.0.0.1:1/";
    let cases: [(&[&str], &str); 10] = [
        (&["-d", "abc"], "invalid value 'abc' for '-d <S>'"),
        (&["-d", "1e300"], "give a number of seconds from 0 to 1e9"),
        (&["--timeout", "x"], "invalid value 'x' for '--timeout <S>'"),
        (&["--timeout=-1"], "give a number of seconds from 0 to 1e9"),
        (&["--connect-timeout", "inf"], "'--connect-timeout <S>'"),
        (
            &["--dns-server", "nowhere"],
            "'--dns-server <ADDR>': give an IP address or IP:PORT",
        ),
        (
            &["--resolve", "foo"],
            "'--resolve <HOST:PORT:ADDR>': write it as HOST:PORT:ADDR",
        ),
        (&["--resolve", "a:80:b"], "'b' is not an IP address"),
        (&["-X", "GE T"], "'--request <METHOD>': give an HTTP method"),
        (
            &["-H", "no colon"],
            "'--header <HEADER>': write a header as 'Name: value'",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["-n", "1"];
        all.extend_from_slice(args);
        all.push(url);
        for run_default in [false, true] {
            let mut argv = if run_default {
                vec!["run", "default"]
            } else {
                vec![]
            };
            argv.extend_from_slice(&all);
            let r = ran(pt(&argv));
            assert_eq!(r.code, 2, "{argv:?}: {}", r.err);
            assert!(r.err.contains(want), "{argv:?}: {}", r.err);
            assert!(!r.err.contains("default.lua"), "{argv:?}: {}", r.err);
            assert!(!r.err.contains("exit 2"), "{argv:?}: {}", r.err);
            assert_eq!(r.out, "", "{argv:?}: nothing runs");
        }
    }
    // An environment variable beyond the range is named and ignored, as before.
    let mut cmd = pt(&["-n", "1", "-d", "0", url]);
    cmd.env("PERFTEST_DELAY", "1e300");
    let r = ran(cmd);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        r.err.contains(
            "PERFTEST_DELAY environment is 1e300 -- value must be below 1e9 seconds.  Using -d 0 instead"
        ),
        "{}",
        r.err
    );
}

#[test]
fn a_password_in_a_url_is_never_printed() {
    let url = "http://alice:s3cr3t@127.0.0.1:1/";
    let want = "perftest: bad URL 'http://alice:***@127.0.0.1:1/': credentials in the URL are not supported (send an Authorization header)";
    let r = ran(pt(&["-n", "1", url]));
    assert_eq!(r.code, 2);
    assert_eq!(r.err.trim_end(), want);
    let mut cmd = pt(&["-v", "-n", "1"]);
    cmd.env("PERFTEST_URL", url);
    let r = ran(cmd);
    assert_eq!(r.code, 2);
    assert_eq!(r.err.trim_end(), want);
    assert!(!r.out.contains("s3cr3t"));
}

#[test]
fn script_errors_say_what_was_raised_and_where() {
    let path = script("table.lua", "local x = 1\nerror({})\n");
    let r = ran(pt(&["run", &path]));
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err.trim_end(),
        format!(
            "perftest: {path}:2: error() was given a table, not a message (give it a string, or a table with __tostring)"
        )
    );
    let path = script("nil.lua", "perftest.spawn(function()\n  error()\nend)\n");
    let r = ran(pt(&["run", &path]));
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err.trim_end(),
        format!("perftest: task 1: {path}:2: error() was given no message")
    );
    let path = script("module.lua", "\nrequire 'no.such.module'\n");
    let r = ran(pt(&["run", &path]));
    assert_eq!(r.code, 1);
    assert_eq!(r.err.lines().count(), 1, "{}", r.err);
    assert!(
        r.err.starts_with(&format!(
            "perftest: {path}:2: module 'no.such.module' not found (searched: no field package.preload['no.such.module']; no file"
        )) && r.err.contains("no bundled module 'no.such.module'"),
        "{}",
        r.err
    );
    let path = script("exit.lua", "perftest.exit(300)\n");
    let r = ran(pt(&["run", &path]));
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err.trim_end(),
        format!("perftest: {path}:1: exit code 300: give a whole number from 0 to 255")
    );
    let path = script("exit7.lua", "os.exit(7)\n");
    assert_eq!(ran(pt(&["run", &path])).code, 7);
}

#[test]
fn a_slow_head_times_out_reading_the_headers_not_waiting_for_the_first_byte() {
    let slow = RawServer::slow_head();
    let r = ran(pt(&["-q", "-n", "1", "--timeout", "0.5", &slow.url("/")]));
    assert_eq!(r.code, 0);
    assert_eq!(rows(&r.out)[0][7], "500");
    assert_eq!(
        r.err.trim_end(),
        format!(
            "timeout after 500ms reading the response headers from {} (the first byte came)",
            slow.addr
        )
    );
}

#[test]
fn escape_sequences_in_certificate_names_never_reach_the_terminal() {
    let pki = bad_pki(BadCert::EscapeInSubject);
    let t = Target::https(&pki);
    let ca = pki.ca_pem_path.display().to_string();
    let r = ran(pt(&["-v", "-n", "1", "--cacert", &ca, &t.url("/page")]));
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        !r.err.contains('\u{1b}') && !r.err.contains('\u{7}'),
        "{:?}",
        r.err
    );
    assert!(r.err.contains("cert CN=evil?[2J?name"), "{}", r.err);
    let path = script(
        "cert.lua",
        &format!(
            "local r = perftest.probe('{}', {{ cacert = '{ca}' }})\nprint(r.cert.subject)\n",
            t.url("/page")
        ),
    );
    let r = ran(pt(&["run", &path]));
    assert_eq!(r.out, "CN=evil?[2J?name\n");
}

#[test]
fn a_header_given_twice_is_sent_twice() {
    let t = Target::http();
    let r = ran(pt(&[
        "-q",
        "-n",
        "1",
        "-H",
        "X-Twice: one",
        "-H",
        "X-Twice: two",
        "-H",
        "X-Once: 1",
        &t.url("/echo"),
    ]));
    assert_eq!(r.code, 0, "{}", r.err);
    let seen = t.requests();
    let values: Vec<&str> = seen[0]
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("x-twice"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(values, ["one", "two"]);
    let r = ran(pt(&[
        "run",
        "waterfall",
        "-H",
        "X-Twice: 3",
        "-H",
        "X-Twice: 4",
        &t.url("/echo"),
    ]));
    assert_eq!(r.code, 0, "{}", r.err);
    let seen = t.requests();
    let last = seen.last().unwrap();
    assert_eq!(
        last.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("x-twice"))
            .count(),
        2,
        "{:?}",
        last.headers
    );
}

#[test]
fn waterfall_exits_69_when_its_request_failed() {
    let url = format!("http://127.0.0.1:{}/", common::free_port());
    let r = ran(pt(&["run", "waterfall", &url]));
    // No sample got a response: EX_UNAVAILABLE, as every scenario (README, exit codes).
    assert_eq!(r.code, 69);
    assert!(r.out.contains("connection refused"), "{}", r.out);
    assert!(
        r.out.contains("DNS Lookup"),
        "drawn as far as it went: {}",
        r.out
    );
    let t = Target::http();
    assert_eq!(ran(pt(&["run", "waterfall", &t.url("/page")])).code, 0);
}

#[test]
fn piped_repl_input_reports_what_it_could_not_run() {
    let repl = |input: &[u8]| {
        let mut child = pt(&["repl"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, input).unwrap();
        drop(stdin);
        finish(child)
    };
    let r = repl(b"print(1)\nfor i = 1, 2 do\n  print(i)\n");
    assert_eq!(r.code, 1);
    assert_eq!(r.out, "1\n");
    assert_eq!(
        r.err.trim_end(),
        "perftest: input ended before the chunk was complete: stdin:3: 'end' expected (to close 'for' at line 1) near <eof>"
    );
    let r = repl(b"print(1)\nprint('\xff')\nprint(2)\n");
    assert_eq!(r.code, 1);
    assert_eq!(r.out, "1\n2\n");
    assert_eq!(
        r.err.trim_end(),
        "perftest: stdin line 2 is not UTF-8 text; skipped"
    );
    let r = repl(b"print(1)\nprint(2)\n");
    assert_eq!((r.code, r.out.as_str(), r.err.as_str()), (0, "1\n2\n", ""));
}

#[test]
fn a_bad_lua_memory_limit_is_named() {
    let path = script("mem.lua", "print('ran')\n");
    for bad in ["abc", "0", "-5"] {
        let mut cmd = pt(&["run", &path]);
        cmd.env("PERFTEST_LUA_MEMORY_MB", bad);
        let r = ran(cmd);
        assert_eq!(r.code, 0);
        assert_eq!(r.out, "ran\n");
        assert_eq!(
            r.err.trim_end(),
            format!(
                "perftest: PERFTEST_LUA_MEMORY_MB={bad} is not a whole number of MiB above 0; using 1024"
            )
        );
    }
}

#[test]
fn a_shebang_line_and_a_byte_order_mark_are_accepted_as_lua_does() {
    let path = script(
        "shebang.lua",
        "#!/usr/bin/env -S perftest run\nprint('one')\nerror('line three')\n",
    );
    let r = ran(pt(&["run", &path]));
    assert_eq!(r.out, "one\n");
    assert_eq!(r.err.trim_end(), format!("perftest: {path}:3: line three"));
    let path = script("bom.lua", "\u{feff}print('two')\n");
    let r = ran(pt(&["run", &path]));
    assert_eq!((r.code, r.out.as_str()), (0, "two\n"), "{}", r.err);
    let path = script("both.lua", "\u{feff}#!perftest\nprint('three')\n");
    assert_eq!(ran(pt(&["run", &path])).out, "three\n");
}

#[test]
fn an_idn_host_is_probed_by_its_punycode_name() {
    let t = Target::http();
    let dns = DnsServer::start(Duration::ZERO, &[("xn--bcher-kva.test", &["127.0.0.1"])]);
    let url = format!("http://bücher.test:{}/page?size=2", t.addr.port());
    let r = ran(pt(&[
        "-q",
        "-n",
        "1",
        "--dns-server",
        &dns.addr.to_string(),
        &url,
    ]));
    assert_eq!(r.code, 0, "{}", r.err);
    let row = &rows(&r.out)[0];
    assert_eq!(row[7], "200", "{}", r.err);
    assert_eq!(
        row[11],
        format!("http://xn--bcher-kva.test:{}/page?size=2", t.addr.port())
    );
    assert_eq!(
        t.requests()[0].header("host"),
        Some(format!("xn--bcher-kva.test:{}", t.addr.port()).as_str())
    );
}

// ---- 10. Around the scenarios -------------------------------------------------------------

#[test]
fn verbosity_flags_after_run_name_reach_the_scenario() {
    let path = script("args.lua", "print(table.concat(perftest.args, ' '))\n");
    let r = ran(pt(&["run", &path, "-q", "-v", "-V", "x"]));
    assert_eq!(r.out, "-q -v -V x\n");
    let r = ran(pt(&["-q", "run", &path, "-v"]));
    assert_eq!(r.out, "-v\n");
    let t = Target::http();
    let r = ran(pt(&[
        "run",
        "monitor",
        "-q",
        "-n",
        "2",
        "-d",
        "0.01",
        &t.url("/page"),
    ]));
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(rows(&r.out).is_empty(), "-q reached monitor: {}", r.out);
    let r = ran(pt(&["run", "default", "-q", "-n", "1", &t.url("/page")]));
    assert_eq!((r.code, r.err.as_str()), (0, ""), "-q reached default.lua");
}

/// Every option a bundled scenario's description advertises, its parser accepts.
#[test]
fn each_scenario_accepts_the_options_it_advertises() {
    let list = ran(pt(&["scripts"]));
    let names: Vec<&str> = list
        .out
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() >= 6, "{}", list.out);
    for name in names {
        let described = ran(pt(&["scripts", name])).out;
        let help = if name == "default" {
            ran(pt(&["--help"])).out
        } else {
            ran(pt(&["run", name, "--help"])).out
        };
        for word in described
            .lines()
            .filter(|l| l.trim_start().starts_with("perftest ") || l.starts_with("  "))
            .flat_map(|l| l.split(|c: char| c.is_whitespace() || "[]|".contains(c)))
            // A bare `--` is a Lua comment in an example, never an option.
            .filter(|w| w.starts_with('-') && w.len() > 1 && *w != "--" && !w.starts_with("--="))
        {
            let flag = word.split('=').next().unwrap();
            assert!(
                help.split(|c: char| c.is_whitespace() || c == ',')
                    .any(|w| w == flag),
                "{name} advertises {flag} but its --help does not take it"
            );
        }
    }
}

#[test]
fn tls_failures_are_said_in_words_with_the_identifier_after() {
    let cases = [
        (
            BadCert::CaAsServer,
            "certificate not trusted: the server sent a CA certificate as its own; it must send a server certificate that CA signed (CaUsedAsEndEntity)",
        ),
        (
            BadCert::OtherName,
            "certificate not trusted: it names other.test, not 127.0.0.1 (NotValidForName)",
        ),
        (
            BadCert::Expired,
            "certificate not trusted: it expired on Jan 1 00:00:00 2020 +00:00 (it is now ",
        ),
    ];
    for (how, want) in cases {
        let pki = bad_pki(how);
        let t = Target::https(&pki);
        let ca = pki.ca_pem_path.display().to_string();
        let r = ran(pt(&["-q", "-n", "1", "--cacert", &ca, &t.url("/page")]));
        assert_eq!(r.code, 0);
        assert_eq!(rows(&r.out)[0][7], "500");
        let line = r.err.trim_end();
        assert!(
            line.starts_with(&format!("tls {}: {want}", t.addr)),
            "{line}"
        );
        assert_eq!(r.err.lines().count(), 1, "{}", r.err);
    }
    // Expired names the identifier at the end.
    let pki = bad_pki(BadCert::Expired);
    let t = Target::https(&pki);
    let ca = pki.ca_pem_path.display().to_string();
    let r = ran(pt(&["-q", "-n", "1", "--cacert", &ca, &t.url("/page")]));
    assert!(r.err.trim_end().ends_with(") (Expired)"), "{}", r.err);
}

#[test]
fn a_failed_cloudwatch_delivery_is_one_line_with_its_cause() {
    let mut cmd = pt(&["-q", "-n", "3", "-d", "0.5", "-c", "http://127.0.0.1:1/"]);
    cmd.env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("PERFTEST_CW_INTERVAL", "0.5")
        .env("PERFTEST_FLUSH_SECONDS", "5");
    let r = ran(cmd);
    assert_eq!(r.code, 0, "{}", r.err);
    let line = r
        .err
        .lines()
        .find(|l| l.starts_with("perftest: cloudwatch:"))
        .unwrap_or_else(|| panic!("{}", r.err));
    assert!(
        line.starts_with("perftest: cloudwatch: 3 of 3 samples could not be sent (last error: dispatch failure: io error: "),
        "{line}"
    );
    assert!(
        line.ends_with("Connection refused (os error 111))"),
        "{line}"
    );
    assert!(
        !line.contains('{') && !line.contains("DispatchFailure("),
        "{line}"
    );
}

// ---- The exit-code table ------------------------------------------------------------------

/// The README's table and `perftest --help` name the same exit codes, and every code this
/// suite sees perftest return is in them.
#[test]
fn every_exit_code_is_in_the_readme_table_and_in_help() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split("## Exit codes")
        .nth(1)
        .expect("README has an Exit codes section");
    let in_readme: Vec<i32> = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            l.trim_start_matches('|')
                .split('|')
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(in_readme, [0, 1, 2, 69, 70, 74, 99, 130]);
    let help = ran(pt(&["--help"])).out;
    let status = help
        .split("Exit status:")
        .nth(1)
        .expect("--help has the exit status");
    let in_help: Vec<i32> = status
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .filter(|n| *n != 250)
        .collect();
    assert_eq!(in_help, in_readme, "--help's copy: {status}");
    // The codes the cases above assert, each in the table (7 is a script's os.exit(7)).
    for code in [0, 1, 2, 74, 130] {
        assert!(in_readme.contains(&code), "{code}");
    }
}
