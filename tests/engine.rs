//! Scenario scripts: errors with file and line, tasks, stop signals, require, and many probes
//! in flight from one Lua state.

mod common;

use std::time::{Duration, Instant};

use common::target::Target;
use common::{Running, perftest, run, temp_dir};

/// Writes `files` (name, source) into a fresh directory; returns the path of the first.
fn scripts(files: &[(&str, &str)]) -> String {
    let dir = temp_dir("lua");
    for (name, src) in files {
        std::fs::write(dir.join(name), src).unwrap();
    }
    dir.join(files[0].0).display().to_string()
}

#[test]
fn a_syntax_error_names_file_and_line() {
    let path = scripts(&[("broken.lua", "local x = 1\nlocal y = = 2\n")]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.starts_with(&format!("perftest: {path}:2: ")), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn a_runtime_error_names_file_line_and_cause() {
    let path = scripts(&[("boom.lua", "print('before')\n\nerror('boom')\n")]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 1);
    assert_eq!(out, "before\n");
    assert_eq!(err.trim(), format!("perftest: {path}:3: boom"));
}

#[test]
fn a_bad_call_into_perftest_names_the_callers_line() {
    let path = scripts(&[(
        "bad.lua",
        "local p = require 'perftest'\n\np.probe('http://x.test/', { timout = 1 })\n",
    )]);
    let (code, _, err) = run(&["run", &path]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "{path}:3: perftest.probe: unknown option 'timout'"
        )),
        "{err}"
    );

    let path = scripts(&[("bad2.lua", "\nperftest.sleep('soon')\n")]);
    let (code, _, err) = run(&["run", &path]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("{path}:2: ")), "{err}");
}

#[test]
fn an_error_in_one_task_is_reported_and_the_others_go_on() {
    let src = r#"
perftest.spawn(function()
  perftest.sleep(0.05)
  error("task went wrong")
end)
perftest.spawn(function()
  perftest.sleep(0.2)
  print("other task finished")
end)
"#;
    let path = scripts(&[("tasks.lua", src)]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(out, "other task finished\n");
    assert!(
        err.contains(&format!("task 1: {path}:4: task went wrong")),
        "{err}"
    );
    assert_eq!(code, 1, "an unhandled task error fails the run");
}

#[test]
fn join_returns_values_and_raises_errors_to_the_joiner() {
    let src = r#"
local t = perftest.spawn(function(a, b) perftest.sleep(0.01) return a + b, "x" end, 2, 3)
local sum, tag = t:join()
print(sum, tag, tostring(t))
local bad = perftest.spawn(function() error("nope") end)
local ok, err = pcall(bad.join, bad)
print(ok, err:match("nope") ~= nil)
"#;
    let path = scripts(&[("join.lua", src)]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "5\tx\ttask 1 (done)\nfalse\ttrue\n");
}

#[test]
fn require_finds_modules_next_to_the_script_and_bundled_ones() {
    let path = scripts(&[
        (
            "main.lua",
            "local m = require 'helper'\nlocal c = require 'perftest.classic'\nprint(m.greet(), c.hhmmss(187))\n",
        ),
        (
            "helper.lua",
            "return { greet = function() return 'hi' end }\n",
        ),
    ]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "hi\t3m07s\n");
}

#[test]
fn args_and_exit_codes_reach_the_script() {
    let path = scripts(&[(
        "args.lua",
        "print(#perftest.args, perftest.args[1], perftest.args[2])\nperftest.exit(3)\nprint('not reached')\n",
    )]);
    let (code, out, _) = run(&["run", &path, "one", "--two"]);
    assert_eq!(code, 3);
    assert_eq!(out, "2\tone\t--two\n");
}

#[test]
fn a_thousand_probes_in_flight_take_about_as_long_as_one() {
    let t = Target::http();
    let src = format!(
        r#"
local tasks = {{}}
local start = perftest.clock()
for i = 1, 1000 do
  tasks[i] = perftest.spawn(function() return perftest.probe("{}") end)
end
local ok, min_first = 0, math.huge
for _, t in ipairs(tasks) do
  local r = t:join()
  if r.ok and r.status == 200 then ok = ok + 1 end
  min_first = math.min(min_first, r.first)
end
print(ok, min_first >= 300, perftest.clock() - start)
"#,
        t.url("/page?ttfb=300&size=100")
    );
    let path = scripts(&[("many.lua", &src)]);
    // run() ends the process after 20 s.
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 0, "{err}");
    let fields: Vec<&str> = out.trim().split('\t').collect();
    assert_eq!(fields[0], "1000", "{out} {err}");
    assert_eq!(fields[1], "true");
    let took: f64 = fields[2].parse().unwrap();
    // One probe takes 0.3 s; a thousand in sequence would take five minutes. The bound is
    // loose on purpose: a busy machine (CI, the other tests) stretches the setup, not the
    // concurrency this checks.
    assert!(took < 15.0, "1000 concurrent probes took {took} s");
}

#[test]
fn the_result_table_follows_the_contract() {
    let t = Target::http();
    let src = format!(
        r#"
local r = perftest.probe("{}", {{ headers = {{ ["X-A"] = "1" }} }})
local keys = {{}}
for _, k in ipairs {{ "url", "start", "dns", "tcp", "tls", "first", "lastb", "total", "status",
                     "size", "remote", "location", "ok" }} do
  if r[k] == nil then keys[#keys + 1] = k end
end
print(#keys == 0 and "complete" or table.concat(keys, ","), r.status, r.size, r.ok, r.error, r.headers["content-type"])
print(math.abs(r.total - (r.tcp + r.tls + r.first + r.lastb)) < 1e-6, r.start > 1.7e9)
local bad = perftest.probe("http://127.0.0.1:1/")
print(bad.ok, bad.status, bad.error_kind, bad.error)
"#,
        t.url("/page?size=5")
    );
    let path = scripts(&[("contract.lua", &src)]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "complete\t200\t5\ttrue\tnil\ttext/plain");
    assert_eq!(lines[1], "true\ttrue");
    assert_eq!(
        lines[2],
        "false\t0\tconnect\tconnect 127.0.0.1:1: connection refused"
    );
}

#[test]
fn sigint_makes_stopping_true_and_wakes_sleepers() {
    let src = "print('start')\nlocal slept = perftest.sleep(30)\nprint('woke', slept, perftest.stopping())\n";
    let path = scripts(&[("stop.lua", src)]);
    let mut cmd = perftest();
    cmd.args(["run", &path]);
    let mut running = Running::start(cmd);
    // The script runs (so the handlers are in place) and is about to sleep.
    running.wait_for(1, |l| l == "start");
    let started = Instant::now();
    running.signal("INT");
    let (code, out, _) = running.finish(Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(code, Some(0));
    assert_eq!(out, "start\nwoke\tfalse\ttrue\n");
}

#[test]
fn a_second_signal_exits_at_once() {
    // The script ignores stopping() and keeps working: only the second signal ends it. It
    // says when it runs and when it has seen the first, so neither signal races it.
    let src = "print('ready')\nlocal said = false\nwhile true do\n  perftest.sleep(0.05)\n  if perftest.stopping() then\n    if not said then said = true; print('stopping') end\n    perftest.sleep(0)\n  end\nend\n";
    let path = scripts(&[("stubborn.lua", src)]);
    let mut cmd = perftest();
    cmd.args(["run", &path]);
    let mut running = Running::start(cmd);
    running.wait_for(1, |l| l == "ready");
    running.signal("INT");
    running.wait_for(1, |l| l == "stopping");
    // A second delivery within 250 ms of the first is the same act (shutdown::SAME_ACT); a
    // sleep only ever lasts longer, so this one is the user's second Ctrl-C.
    std::thread::sleep(Duration::from_millis(300));
    running.signal("INT");
    let (code, _, _) = running.finish(Duration::from_secs(5));
    assert_eq!(code, Some(130));
}

#[test]
fn every_keeps_a_fixed_schedule() {
    let src = r#"
local tick = perftest.every(0.2)
local start = perftest.clock()
for i = 1, 5 do
  if i == 2 then perftest.sleep(0.3) end  -- one slow iteration
  local running, late = tick:next()
  assert(running and late >= 0, "a tick that is not late reads 0")
  -- when this tick was due, on the clock's scale, and how late it began
  print(string.format("%.4f %.4f", perftest.clock() - late - start, late))
end
"#;
    let path = scripts(&[("every.lua", src)]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 0, "{err}");
    // Due at 0.2, 0.4 (begun late, after the slow iteration), 0.6, 0.8, 1.0 s: the overrun
    // makes one tick late but does not shift the rest. A schedule that drifted by the overrun
    // would be due at 0.7, 0.9, 1.1, off the 0.2 s grid by half a period. The due times are
    // what the schedule is, so a loaded machine that wakes late changes `late`, not them; if it
    // wakes more than a period late the ticks it missed are skipped, still on the grid.
    let ticks: Vec<(f64, f64)> = out
        .lines()
        .map(|l| {
            let mut f = l.split(' ').map(|x| x.parse::<f64>().unwrap());
            (f.next().unwrap(), f.next().unwrap())
        })
        .collect();
    assert_eq!(ticks.len(), 5, "{out}");
    let mut last = 0.0;
    for (due, _) in &ticks {
        let k = due / 0.2;
        assert!(
            (k - k.round()).abs() < 0.1 && *due > last,
            "every tick is due on the 0.2 s grid, in order: {out}"
        );
        last = *due;
    }
    assert!(
        (ticks[0].0 - 0.2).abs() < 0.02,
        "the first tick is due a period after every(): {out}"
    );
    assert!(
        ticks[1].1 >= 0.09,
        "the tick after the slow iteration began late: {out}"
    );
}

#[test]
fn run_by_name_and_unknown_scripts() {
    let t = Target::http();
    let (code, out, _) = run(&["run", "default", "-n", "1", "-d", "0", &t.url("/page")]);
    assert_eq!(code, 0);
    assert!(out.contains("Recorded 1 samples"), "{out}");

    let (code, _, err) = run(&["run", "no-such-scenario"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no script 'no-such-scenario'") && err.contains("perftest scripts"),
        "{err}"
    );
}

#[test]
fn json_round_trips() {
    let src = r#"
local s = perftest.json.encode({ b = 1, a = { 1, 2, "x" } })
local v = perftest.json.decode('{"k": [true, null, 2.5], "s": "t"}')
print(s, v.k[1], v.k[2], v.k[3], v.s)
"#;
    let path = scripts(&[("json.lua", src)]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "{\"a\":[1,2,\"x\"],\"b\":1}\ttrue\tnil\t2.5\tt\n");
}

#[test]
fn a_runaway_loop_ends_after_a_signal_and_a_grace_period() {
    let path = scripts(&[(
        "spin.lua",
        "print('spinning')\nlocal x = 0\nwhile true do x = x + 1 end\n",
    )]);
    let mut cmd = perftest();
    cmd.args(["run", &path]);
    let mut running = Running::start(cmd);
    running.wait_for(1, |l| l == "spinning");
    let sent = Instant::now();
    running.signal("INT");
    let (code, _, err) = running.finish(Duration::from_secs(10));
    let took = sent.elapsed();
    assert_eq!(code, Some(1), "{err}");
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert!(
        err.contains(&format!(
            "{path}:3: stopped: still running 3s after the stop"
        )),
        "{err}"
    );
}

#[test]
fn a_session_keeps_its_connection() {
    let t = Target::http();
    let src = format!(
        r#"
local s = perftest.session()
local a = s:probe("{0}")
local b = s:probe("{0}")
print(a.reused == nil, b.reused, b.tcp, b.dns, b.status)
"#,
        t.url("/page?size=3")
    );
    let path = scripts(&[("session.lua", &src)]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "true\ttrue\t0.0\t0.0\t200\n");
}

#[test]
fn keep_body_gives_the_body_as_a_lua_string() {
    let t = Target::http();
    let src = format!(
        r#"
local url = "{mirror}"
local r = perftest.probe(url, {{ method = "POST", body = "ok\0bytes" }})
print(r.body == nil, r.body_truncated == nil)
r = perftest.probe(url, {{ method = "POST", body = "ok\0bytes", keep_body = true }})
print(type(r.body), #r.body, r.body == "ok\0bytes", r.body_truncated == nil)
r = perftest.probe("{page}", {{ keep_body = 10 }})
print(r.size, r.body, r.body_truncated)
local ok, err = pcall(perftest.probe, url, {{ keep_body = -1 }})
print(ok, err)
ok, err = pcall(perftest.load, {{ url = url, requests = 1, opts = {{ keep_body = true }} }})
print(ok, err)
"#,
        mirror = t.url("/mirror"),
        page = t.url("/page?size=3000"),
    );
    let path = scripts(&[("body.lua", &src)]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "true\ttrue");
    assert_eq!(lines[1], "string\t8\ttrue\ttrue");
    assert_eq!(lines[2], "3000\tpppppppppp\ttrue");
    assert!(
        lines[3].starts_with("false\t")
            && lines[3].contains("opts.keep_body -1: give true or a number of bytes"),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].contains("perftest.load: opts.keep_body: a load keeps no bodies"),
        "{}",
        lines[4]
    );
}

#[test]
fn json_and_form_bodies_are_encoded_with_their_content_type() {
    let t = Target::http();
    let src = format!(
        r#"
local url = "{url}"
local r = perftest.probe(url, {{ json = {{ user = "ann", n = 3, tags = {{ "a", "b" }}, deep = {{ ok = true }} }} }})
print(r.status)
r = perftest.probe(url, {{ form = {{ user = "ann b&c", tags = {{ "x", "y" }}, ok = true, n = 2 }} }})
print(r.status)
r = perftest.probe(url, {{ method = "PUT", json = {{ 1, 2 }}, headers = {{ ["Content-Type"] = "application/vnd.api+json" }} }})
print(r.status)
print(pcall(perftest.probe, url, {{ body = "x", json = {{}} }}))
print(pcall(perftest.probe, url, {{ json = '{{"a":1}}' }}))
print(pcall(perftest.probe, url, {{ form = {{ a = {{ {{}} }} }} }}))
"#,
        url = t.url("/echo"),
    );
    let path = scripts(&[("bodies.lua", &src)]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], ["200", "200", "200"], "{out}");
    assert!(
        lines[3].ends_with("opts.body and opts.json: give one request body"),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].contains("opts.json must be a table to encode, got string"),
        "{}",
        lines[4]
    );
    assert!(
        lines[5].contains("opts.form[\"a\"] must be a string, got table"),
        "{}",
        lines[5]
    );
    let seen = t.requests();
    assert_eq!(seen.len(), 3, "the bad options sent nothing");
    assert_eq!(seen[0].method, "POST", "a JSON body is POSTed unless told");
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    let sent: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({ "user": "ann", "n": 3, "tags": ["a", "b"], "deep": { "ok": true } })
    );
    assert_eq!(seen[1].method, "POST");
    assert_eq!(
        seen[1].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        String::from_utf8_lossy(&seen[1].body),
        "n=2&ok=true&tags=x&tags=y&user=ann+b%26c"
    );
    assert_eq!(seen[2].method, "PUT");
    assert_eq!(
        seen[2].header("content-type"),
        Some("application/vnd.api+json"),
        "the script's own content type wins"
    );
    assert_eq!(seen[2].body, b"[1,2]");
}

#[test]
fn tcp_info_reaches_the_result_and_metrics_and_a_load_reads_it_only_when_asked() {
    let t = Target::http();
    let src = format!(
        r#"
local addr = perftest.serve {{ listen = "127.0.0.1:0" }}
local r = perftest.probe("{probe}")
local i = r.tcp_info
print(i.rtt > 0, i.rttvar >= 0, i.cwnd > 0, i.pmtu > 0, math.type(i.total_retrans), math.type(i.retransmits), math.type(i.lost))
print(perftest.probe("{probe}", {{ tcp_info = false }}).tcp_info)
perftest.load {{ url = "{plain}", requests = 3, concurrency = 1 }}
perftest.load {{ url = "{asked}", requests = 30, concurrency = 1, opts = {{ tcp_info = true }} }}
io.write(perftest.probe("http://" .. addr .. "/metrics", {{ keep_body = true }}).body)
"#,
        probe = t.url("/page?size=100"),
        plain = t.url("/plain"),
        asked = t.url("/asked"),
    );
    let path = scripts(&[("tcp.lua", &src)]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("true\ttrue\ttrue\ttrue\tinteger\tinteger\tinteger")
    );
    assert_eq!(lines.next(), Some("nil"));
    let metrics: String = lines.map(|l| format!("{l}\n")).collect();
    let samples = common::prom::parse(&metrics);
    let rtt_count = |target: &str| {
        samples
            .iter()
            .find(|s| s.name == "perftest_tcp_rtt_seconds_count" && s.labels["target"] == target)
            .map(|s| s.value)
    };
    // A histogram is shown from its 30th reading (its layout decided then); the retransmit
    // counter from the first.
    assert_eq!(rtt_count(&t.url("/page")), None, "one reading: {out}");
    assert_eq!(rtt_count(&t.url("/plain")), None, "not asked: {out}");
    assert_eq!(rtt_count(&t.url("/asked")), Some(30.0), "{out}");
    let retrans = |target: &str| {
        samples
            .iter()
            .find(|s| s.name == "perftest_tcp_retransmits_total" && s.labels["target"] == target)
            .map(|s| s.value)
    };
    assert_eq!(
        retrans(&t.url("/asked")),
        Some(0.0),
        "loopback loses nothing"
    );
    assert_eq!(
        retrans(&t.url("/page")),
        Some(0.0),
        "the probe's reading: {out}"
    );
    assert_eq!(retrans(&t.url("/plain")), None, "not asked: {out}");
}

#[test]
fn option_tables_name_a_bad_key_and_the_known_ones_before_anything_starts() {
    let src = r#"
for _, call in ipairs {
  function() perftest.load { url = "http://x.test/", requests = 1, concurency = 2 } end,
  function() perftest.serve { prot = 9100 } end,
  function() perftest.remote_write { url = "http://x.test/", intreval = 1 } end,
  function() perftest.probe("http://x.test/", { timeout = {} }) end,
  function() perftest.load { url = "http://x.test/", requests = 2.5 } end,
} do print((select(2, pcall(call)))) end
"#;
    let path = scripts(&[("opts.lua", src)]);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let want = [
        "perftest.load: unknown option 'concurency' (known: url, opts, concurrency, rate, max_in_flight, duration, requests, reuse, progress, name, window, thresholds)",
        "perftest.serve: unknown option 'prot' (known: port, listen, buckets)",
        "perftest.remote_write: unknown option 'intreval' (known: url, interval, labels, headers, max_pending, timeout, buckets)",
        "perftest.probe: opts.timeout must be a number, got table",
        "perftest.load: requests 2.5: give a whole number",
    ];
    assert_eq!(lines.len(), want.len(), "{out}");
    for (line, want) in lines.iter().zip(want) {
        assert!(
            line.starts_with(&format!("{path}:")) && line.ends_with(want),
            "{line}\nwant: {want}"
        );
    }
}
