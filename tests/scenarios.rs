//! The bundled scenarios end to end against local servers, the REPL driven through stdin, and
//! the editor definitions kept in step with the API.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::target::Target;
use common::{perftest, run, run_env};

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn slo_passes_with_exit_0_and_fails_with_exit_99() {
    let t = Target::http();
    let url = t.url("/page?ttfb=50");
    let (code, out, err) = run(&["run", "slo", "-n", "5", "-d", "0", "--p95", "500", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("✓ total p(95) < 500"), "{out}");
    assert!(out.contains("✓ errors rate < 0.01"), "{out}");
    assert!(out.contains("samples   5 in"), "{out}");

    let (code, out, _) = run(&[
        "run",
        "slo",
        "-n",
        "5",
        "-d",
        "0",
        "--p95",
        "20",
        "-t",
        "first p(99) < 1000",
        &url,
    ]);
    assert_eq!(code, 99, "{out}");
    let failed = out
        .lines()
        .find(|l| l.contains("✗ total p(95) < 20"))
        .expect("the failed line");
    let value: f64 = failed.split_whitespace().last().unwrap().parse().unwrap();
    assert!(value >= 50.0, "the measured p95 is shown: {failed}");
    assert!(out.contains("✓ first p(99) < 1000"), "{out}");
}

#[test]
fn slo_counts_failures_against_the_error_rate() {
    let port = common::free_port();
    let (code, out, err) = run(&[
        "run",
        "slo",
        "-n",
        "3",
        "-d",
        "0",
        "--jsonl",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert_eq!(code, 99, "{out}{err}");
    let v = &json_lines(&out)[0];
    assert_eq!(v["failed"], 3);
    assert_eq!(v["errors"]["connect"], 3);
    assert_eq!(v["thresholds"][0]["pass"], false);
    assert_eq!(err.matches("connection refused").count(), 3, "{err}");
}

#[test]
fn a_bad_threshold_is_a_usage_error_before_any_probe() {
    let t = Target::http();
    let (code, _, err) = run(&["run", "slo", "-t", "totl p(95) < 3", &t.url("/page")]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "perftest run slo: threshold 'totl': unknown metric (known: dns, tcp, tls, first, lastb, total, size, errors, ok, samples, checks)"
    );
    assert!(t.requests().is_empty(), "nothing was probed");
    let (code, _, err) = run(&["run", "load", "-t", "total p(95) < soon", &t.url("/page")]);
    assert_eq!(code, 2);
    assert!(err.contains("'soon' is not a number"), "{err}");
}

#[test]
fn compare_shows_the_difference_between_urls() {
    let t = Target::http();
    let (code, out, err) = run(&[
        "run",
        "compare",
        "-n",
        "4",
        "-d",
        "0",
        &t.url("/page?ttfb=20"),
        &t.url("/page?ttfb=80"),
    ]);
    assert_eq!(code, 0, "{err}");
    // Rounds alternate: the server saw the two URLs in turn.
    let paths: Vec<String> = t.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.len(), 8);
    assert!(
        paths[0].ends_with("20") && paths[1].ends_with("80") && paths[2].ends_with("20"),
        "{paths:?}"
    );
    let row = out
        .lines()
        .skip_while(|l| !l.starts_with("p50"))
        .find(|l| l.starts_with("first"))
        .expect("a first row");
    let cols: Vec<&str> = row.split_whitespace().collect();
    let (a, b): (f64, f64) = (cols[1].parse().unwrap(), cols[2].parse().unwrap());
    assert!(a >= 20.0 && b >= 80.0, "{row}");
    let diff: f64 = cols[3].trim_start_matches('+').parse().unwrap();
    assert!((diff - (b - a)).abs() < 0.02, "{row}");
}

#[test]
fn waterfall_draws_the_phases_without_colour_off_a_terminal() {
    let t = Target::http();
    let (code, out, err) = run(&["run", "waterfall", &t.url("/page?ttfb=30&size=77")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("HTTP/1.1 200"), "{out}");
    assert!(out.contains("content-length: 77"), "{out}");
    for s in [
        "DNS Lookup",
        "TCP Connection",
        "Server Processing",
        "Content Transfer",
        "starttransfer:",
        "total:",
    ] {
        assert!(out.contains(s), "{s} in {out}");
    }
    assert!(!out.contains("TLS Handshake"), "no TLS box for http: {out}");
    assert!(
        !out.contains('\u{1b}'),
        "no escape codes when stdout is a pipe"
    );
}

#[test]
fn load_runs_a_closed_model_with_kept_connections() {
    let t = Target::http();
    let (code, out, err) = run(&[
        "run",
        "load",
        "-c",
        "4",
        "-n",
        "200",
        "--reuse",
        "--jsonl",
        "--no-progress",
        &t.url("/page?size=10"),
    ]);
    assert_eq!(code, 0, "{err}");
    let v = &json_lines(&out)[0];
    assert_eq!(v["count"], 200);
    assert_eq!(v["ok"], 200);
    assert_eq!(v["statuses"]["200"], 200);
    // Four workers, four connections: the server saw 200 requests on few connections, and
    // the median sample paid no TCP handshake.
    assert_eq!(t.requests().len(), 200);
    assert_eq!(v["tcp"]["med"], 0.0, "{v}");
}

#[test]
fn load_keeps_an_open_model_rate() {
    let t = Target::http();
    let started = Instant::now();
    let (code, out, err) = run(&[
        "run",
        "load",
        "--rate",
        "100",
        "-d",
        "1",
        "--jsonl",
        "--no-progress",
        &t.url("/page?ttfb=30"),
    ]);
    assert_eq!(code, 0, "{err}");
    let v = &json_lines(&out)[0];
    let n = v["count"].as_u64().unwrap();
    assert!(
        (90..=110).contains(&n),
        "about 100 starts in 1 s at 100/s: {n}"
    );
    assert_eq!(v["dropped"], 0);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn load_stops_early_when_an_abort_threshold_fails() {
    let t = Target::http();
    let started = Instant::now();
    let (code, out, err) = run(&[
        "run",
        "load",
        "-c",
        "2",
        "-d",
        "15",
        "--no-progress",
        "-t",
        "total p(95) < 1 abort",
        &t.url("/page?ttfb=20"),
    ]);
    assert_eq!(code, 99, "{out}{err}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "stopped early: {:?}",
        started.elapsed()
    );
    assert!(err.contains("threshold total p(95) < 1 failed"), "{err}");
    assert!(out.contains("✗ total p(95) < 1"), "{out}");
}

#[test]
fn load_stops_on_sigint_with_its_summary() {
    let t = Target::http();
    let child = perftest()
        .args([
            "run",
            "load",
            "-c",
            "2",
            "-d",
            "30",
            "--no-progress",
            &t.url("/page?ttfb=10"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The load is under way (its requests reach the server), so the handlers are in place.
    let deadline = Instant::now() + Duration::from_secs(20);
    while t.requests().len() < 10 {
        assert!(Instant::now() < deadline, "the load never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = common::run_with_limit_child(child, Duration::from_secs(5));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("samples") && stdout.contains("p95"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("interrupted"),
        "interrupted samples are not counted: {stdout}"
    );
}

#[test]
fn monitor_reports_a_target_failing_its_rolling_thresholds() {
    let t = Target::http();
    let port = common::free_port();
    let targets = common::write_temp(
        "monitor",
        "targets.lua",
        format!(
            "return {{ {{ url = \"{}\", thresholds = {{ total = {{\"p(95) < 1000\"}} }} }} }}\n",
            t.url("/page?size=5")
        ),
    );
    let down = format!("http://127.0.0.1:{port}/");
    let (code, out, err) = run(&[
        "run",
        "monitor",
        "-n",
        "3",
        "-d",
        "0.1",
        "-w",
        "60",
        "-t",
        "errors rate < 0.5",
        "--targets",
        targets.to_str().unwrap(),
        &down,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("FAILING {down}: errors rate < 0.5 (1.00)")),
        "{err}"
    );
    assert!(
        !err.contains(&format!("FAILING {}", t.url("/page?size=5"))),
        "{err}"
    );
    assert_eq!(
        out.lines().filter(|l| l.contains("\t500\t")).count(),
        3,
        "{out}"
    );
    assert!(
        out.contains("█ ") && out.contains("samples   3 in"),
        "{out}"
    );
}

#[test]
fn monitor_reads_a_plain_list_of_urls() {
    let t = Target::http();
    let list = common::write_temp(
        "monitor-list",
        "urls.txt",
        format!("# comment\n{}\n\n{}\n", t.url("/page?a"), t.url("/page?b")),
    );
    let (code, out, err) = run(&[
        "run",
        "monitor",
        "-n",
        "2",
        "-d",
        "0",
        "-q",
        "--targets",
        list.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("samples   2 in").count(), 2, "{out}");
    assert_eq!(t.requests().len(), 4);
}

#[test]
fn monitor_prints_json_lines_with_jsonl_or_its_short_j() {
    let t = Target::http();
    for flag in ["--jsonl", "-j"] {
        let (code, out, err) = run(&[
            "run",
            "monitor",
            "-n",
            "2",
            "-d",
            "0",
            flag,
            &t.url("/page?size=8"),
        ]);
        assert_eq!(code, 0, "{flag}: {err}");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        let (rows, summaries): (Vec<_>, Vec<_>) =
            lines.into_iter().partition(|l| l["type"] == "sample");
        assert_eq!((rows.len(), summaries.len()), (2, 1), "{flag}: {out}");
        assert_eq!(summaries[0]["type"], "summary");
        assert!(
            rows.iter().all(|r| r["size"] == 8 && r["http"] == 200),
            "{out}"
        );
        assert!(!out.contains("# timestamp"), "no TSV header: {out}");
    }
    let (code, out, _) = run(&["run", "monitor", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("-j, --jsonl"), "{out}");
}

#[test]
fn scenarios_explain_themselves() {
    let (code, out, _) = run(&["run", "load", "--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Usage: perftest run load") && out.contains("--reuse"),
        "{out}"
    );
    let (code, _, err) = run(&["run", "slo", "--bogus", "http://x/"]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "perftest run slo: unknown option '--bogus' (see --help)"
    );
    let (code, out, _) = run(&["scripts", "monitor"]);
    assert_eq!(code, 0);
    assert!(out.contains("perftest run monitor [-d S]"), "{out}");
}

fn repl(input: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = perftest();
    cmd.arg("repl")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = common::run_with_limit_child(child, Duration::from_secs(15));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_repl_evaluates_lines_from_stdin() {
    let t = Target::http();
    let input = format!(
        "x = 20 + 1\nx * 2\nfunction twice(a)\n  return a * 2\nend\ntwice(x), 'ok'\n{{ b = {{ 1, 2 }}, a = 'z' }}\nperftest.probe('{}')\n",
        t.url("/page?size=9")
    );
    let (code, out, err) = repl(&input, &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..4],
        &["42", "42", "\"ok\"", "{ a = \"z\", b = { 1, 2 } }"]
    );
    assert!(
        lines[4].starts_with(&format!(
            "200 HTTP/1.1 {} -> 127.0.0.1",
            t.url("/page?size=9")
        )),
        "{out}"
    );
    assert!(
        out.contains("  first ") && out.contains("  total "),
        "a small waterfall: {out}"
    );
    assert!(
        out.contains("  socket rtt ") && out.contains(", cwnd "),
        "the socket's TCP_INFO under it: {out}"
    );
    assert!(!out.contains("table: 0x"), "{out}");
}

#[test]
fn the_repl_reports_errors_with_their_line_and_exits_1_when_scripted() {
    let (code, out, err) = repl(
        "print('a')\nerror('boom')\nlocal y = = 1\nprint('b')\n",
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(out, "a\nb\n", "it goes on after an error");
    assert!(err.contains("stdin:1: boom"), "{err}");
    assert!(err.contains("stdin:1: unexpected symbol near '='"), "{err}");
}

#[test]
fn the_repl_waits_for_probes_and_keeps_spawned_tasks_running() {
    let t = Target::http();
    let input = format!(
        "done = false\nperftest.spawn(function() perftest.probe('{}') done = true end)\nperftest.sleep(0.5)\ndone\n",
        t.url("/page?ttfb=100")
    );
    let (code, out, err) = repl(&input, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with("true\ntrue\n"), "{out}");
}

#[test]
fn every_api_name_has_a_type_definition() {
    let script = common::write_temp(
        "defs",
        "names.lua",
        "local n = {}\nfor k in pairs(perftest) do n[#n + 1] = k end\ntable.sort(n)\nprint(table.concat(n, ' '))\n",
    );
    let (code, out, err) = run(&["run", script.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let defs = include_str!("../stdlib/perftest.d.lua");
    for name in out.split_whitespace() {
        let declared = defs.contains(&format!("function perftest.{name}("))
            || defs.contains(&format!("---@field {name} "));
        assert!(
            declared,
            "perftest.{name} is missing from stdlib/perftest.d.lua"
        );
    }
    let (code, printed, _) = run_env(&["scripts", "--definitions"], &[]);
    assert_eq!(code, 0);
    assert_eq!(printed, defs);
}

/// The part of `text` from `from` up to `to`, with what is in parentheses left out (the values
/// a field takes, `error_kind` (`dns`, ...), are not fields).
fn prose_between(text: &str, from: &str, to: &str) -> String {
    let start = text
        .find(from)
        .unwrap_or_else(|| panic!("docs/lua-api.md has {from:?}"));
    let rest = &text[start + from.len()..];
    let end = rest
        .find(to)
        .unwrap_or_else(|| panic!("{to:?} after {from:?}"));
    let mut out = String::new();
    let mut depth = 0;
    for c in rest[..end].chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Every `name` in backquotes that is a plain identifier.
fn quoted_names(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(String::from)
        .collect()
}

/// The definitions of one class: from its `---@class` line to the next class.
fn class_section<'a>(defs: &'a str, class: &str) -> &'a str {
    let head = format!("---@class {class}");
    let at = defs
        .lines()
        .position(|l| l == head || l.starts_with(&format!("{head} ")))
        .unwrap_or_else(|| panic!("stdlib/perftest.d.lua declares no class {class}"));
    let start = defs.lines().take(at).map(|l| l.len() + 1).sum::<usize>();
    let rest = &defs[start + head.len()..];
    &defs[start..start + head.len() + rest.find("\n---@class ").unwrap_or(rest.len())]
}

/// lua-language-server is in neither Debian 12 nor npm, so this is the editors' check: every
/// verb docs/lua-api.md names, every field it lists for results, options and TCP_INFO, and
/// every function and constant of every bundled module is declared in perftest.d.lua.
#[test]
fn every_documented_verb_field_and_module_is_declared_for_editors() {
    let root = env!("CARGO_MANIFEST_DIR");
    let doc = std::fs::read_to_string(format!("{root}/docs/lua-api.md")).unwrap();
    let defs = std::fs::read_to_string(format!("{root}/stdlib/perftest.d.lua")).unwrap();
    assert!(
        defs.lines().any(|l| l == "perftest = {}"),
        "perftest is declared as a global"
    );
    assert!(
        defs.trim_end().ends_with("return perftest"),
        "and as require's"
    );

    // Verbs in the headings: perftest.x, perftest.x.y, and methods as obj:m(.
    let mut verbs = 0;
    for heading in doc.lines().filter(|l| l.starts_with("### ")) {
        for word in heading.split(|c: char| !(c.is_ascii_alphanumeric() || "._:".contains(c))) {
            if let Some(path) = word.strip_prefix("perftest.") {
                let declared = match path.split_once('.') {
                    Some((table, name)) => class_section(&defs, &format!("perftest.{table}"))
                        .contains(&format!("---@field {name} ")),
                    None => {
                        defs.contains(&format!("function perftest.{path}("))
                            || class_section(&defs, "perftest")
                                .contains(&format!("---@field {path} "))
                    }
                };
                assert!(declared, "{heading}: perftest.{path} is not declared");
                verbs += 1;
            } else if let Some((_, method)) = word.split_once(':').filter(|(o, m)| {
                [o, m]
                    .iter()
                    .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            }) {
                assert!(
                    defs.contains(&format!(":{method}(")),
                    "{heading}: :{method} is not declared"
                );
                verbs += 1;
            }
        }
    }
    assert!(verbs > 30, "{verbs} verbs read from the headings");

    let fields = [
        (
            "perftest.Result",
            prose_between(&doc, "The result:", "A redirect chain"),
        ),
        (
            "perftest.ProbeOptions",
            prose_between(&doc, "Options:", "An unknown option"),
        ),
        (
            "perftest.TcpInfo",
            prose_between(&doc, "(Linux `TCP_INFO`):", "only where"),
        ),
    ];
    for (class, prose) in &fields {
        let names = quoted_names(prose);
        assert!(names.len() > 8, "{class}: {names:?}");
        let section = class_section(&defs, class);
        for name in names {
            assert!(
                section.contains(&format!("---@field {name} "))
                    || section.contains(&format!("---@field {name}? ")),
                "{class}.{name} is documented but not declared"
            );
        }
    }

    // Every bundled module a scenario can require, each of its functions and constants.
    for entry in std::fs::read_dir(format!("{root}/stdlib/perftest")).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_str().unwrap().to_string();
        if module == "prelude" {
            continue; // loaded for every script; its names are perftest's own
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let section = class_section(&defs, &format!("perftest.{module}"));
        assert!(
            section.contains(&format!("local {module} = {{}}")),
            "perftest.{module}'s table"
        );
        for line in source.lines() {
            if let Some(rest) = line.strip_prefix("function M.") {
                let name = rest.split('(').next().unwrap();
                assert!(
                    section.contains(&format!("function {module}.{name}(")),
                    "perftest.{module}.{name} is not declared"
                );
            } else if let Some(rest) = line.strip_prefix("M.") {
                let name = rest.split([' ', '=']).next().unwrap();
                assert!(
                    section.contains(&format!("---@field {name} ")),
                    "perftest.{module}.{name} is not declared"
                );
            }
        }
    }
}

#[test]
fn a_script_over_its_memory_limit_stops_with_a_clear_error() {
    let script = common::write_temp(
        "mem",
        "hog.lua",
        "local t = {}\nfor i = 1, 1e8 do t[i] = ('x'):rep(64) .. i end\n",
    );
    let (code, _, err) = run_env(
        &["run", script.to_str().unwrap()],
        &[("PERFTEST_LUA_MEMORY_MB", "16")],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("out of memory") && err.contains("PERFTEST_LUA_MEMORY_MB"),
        "{err}"
    );
}

/// The monitor's TSV rows: (HTTP, Total).
fn monitor_rows(out: &str) -> Vec<(String, f64)> {
    out.lines()
        .filter_map(|l| {
            let (n, rest) = l.split_once(' ')?;
            n.parse::<u64>().ok()?;
            let f: Vec<&str> = rest.split('\t').collect();
            (f.len() == 12).then(|| (f[7].to_string(), f[6].parse().unwrap()))
        })
        .collect()
}

#[test]
fn monitor_publishes_to_cloudwatch_a_webhook_and_twilio_with_the_classic_flags() {
    use common::moto::Moto;
    use common::receiver::Receiver;
    let moto = Moto::start();
    let hook = Receiver::start();
    let twilio = Receiver::start();
    let t = Target::http();
    let url = t.url("/page?ttfb=10");
    let (hook_url, api) = (hook.url("/hook"), twilio.url(""));
    let mut env: Vec<(&str, String)> = moto.env();
    env.extend([
        ("REP_LOCATION", "Oslo,NO".to_string()),
        ("PERFTEST_CW_INTERVAL", "60".into()),
        ("TWILIO_ACCOUNT_SID", "ACmonitor".into()),
        ("TWILIO_AUTH_TOKEN", "m0nitor-t0ken".into()),
        ("TWILIO_SMS_RECEIVERS", "+15550001 +15550002".into()),
        ("TWILIO_FROM", "+15559999".into()),
        ("TWILIO_API_URL", api),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, out, err) = run_env(
        &[
            "run", "monitor", "-n", "4", "-d", "0", "-c", "-W", &hook_url, "-A", "2", "-M", "300",
            &url,
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let rows = monitor_rows(&out);
    assert_eq!(rows.len(), 4, "{out}");
    assert!(
        err.contains("publishing to CloudWatch namespace \"Http Perf Demo\""),
        "{err}"
    );

    // -c: every sample under the classic names, flushed at the end (sends wait 60 s).
    let (n, sum, ..) = moto.statistics(
        "Http Perf Demo",
        "RespTime",
        &[
            ("TestUrl", &url),
            ("HTTP Resp Code", "200"),
            ("FromLocation", "Oslo,NO"),
        ],
    );
    assert_eq!(n, 4.0, "every sample: {err}");
    let printed: f64 = rows.iter().map(|(_, t)| t).sum();
    assert!((sum - printed).abs() < 0.01, "{sum} vs {printed}");

    // -W: every sample POSTed as its JSON row.
    let posts = hook.wait_for(4, Duration::from_secs(5));
    assert_eq!(posts.len(), 4, "{err}");
    let mut numbers: Vec<u64> = posts
        .iter()
        .map(|p| {
            assert_eq!(p.header("content-type"), Some("application/json"));
            let v: serde_json::Value = serde_json::from_slice(&p.body).unwrap();
            assert_eq!(v["url"], url.as_str());
            assert_eq!(v["from_location"], "Oslo,NO");
            assert_eq!(v["http"], 200);
            v["n"].as_u64().unwrap()
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, [1, 2, 3, 4]);

    // -A 2 -M 300: every sample is over 2 ms; one SMS per receiver in the interval.
    let sms = twilio.wait_for(2, Duration::from_secs(5));
    assert_eq!(sms.len(), 2, "{sms:?}");
    for req in &sms {
        assert_eq!(req.path, "/2010-04-01/Accounts/ACmonitor/Messages.json");
        let body = String::from_utf8_lossy(&req.body);
        assert!(body.contains("exceeds+2ms"), "{body}");
    }
    assert!(!err.contains("m0nitor-t0ken") && !out.contains("m0nitor-t0ken"));
}

#[test]
fn monitor_serves_metrics_and_health_with_dash_p_until_sigterm() {
    use std::io::{BufReader, Read};
    let t = Target::http();
    let url = t.url("/page?size=7");
    let mut child = perftest()
        .args(["run", "monitor", "-d", "0.05", "-p", "0", &url])
        .env("REP_LOCATION", "Lima,PE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = common::KillOnDrop(child.id());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let port = common::announced_port(&mut stderr, "perftest run monitor: ");
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.requests().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }

    // The image's HEALTHCHECK: 0 while the server answers.
    let (code, out, err) = run(&["healthcheck", "--port", &port.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("/healthz: 200 in"), "{out}");

    // The server sees a request before its sample is recorded: ask until three are counted.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (ok, body) = loop {
        let (status, body) = common::http(port, "GET", "/metrics", "*/*");
        assert_eq!(status, 200);
        let ok: f64 = common::prom::parse(&body)
            .iter()
            .filter(|s| {
                s.name == "perftest_probes_total"
                    && s.labels.get("location").map(String::as_str) == Some("Lima,PE")
                    && s.labels.get("result").map(String::as_str) == Some("ok")
                    && s.labels.get("target") == Some(&t.url("/page"))
            })
            .map(|s| s.value)
            .sum();
        if ok >= 3.0 || Instant::now() > deadline {
            break (ok, body);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        ok >= 3.0,
        "the target is labelled without its query: {body}"
    );

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = common::run_with_limit_child(child, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("█ {url}")),
        "the summary: {stdout}"
    );
    let err = rest.join().unwrap();
    assert!(!err.contains("panicked"), "{err}");

    // Once it is gone the healthcheck fails.
    let (code, _, err) = run(&["healthcheck", "--port", &port.to_string()]);
    assert_eq!(code, 1);
    assert!(err.contains("connection refused"), "{err}");
}

#[test]
fn monitor_rejects_bad_publishing_flags_in_one_line() {
    let t = Target::http();
    let url = t.url("/page");
    for (args, expect) in [
        (
            vec!["-p", "70000"],
            "perftest run monitor: -p 70000: give a port",
        ),
        (
            vec!["-A", "soon"],
            "perftest run monitor: -A soon: give milliseconds (0: no alerts)",
        ),
        (
            vec!["--listen", "nowhere"],
            "perftest run monitor: perftest.serve: listen 'nowhere'",
        ),
        (
            vec!["-W", "ftp://x/"],
            "perftest run monitor: perftest.webhook: webhook URL 'ftp://x/…': use http:// or https://",
        ),
    ] {
        let mut all = vec!["run", "monitor", "-n", "1"];
        all.extend(args.iter());
        all.push(&url);
        let (code, out, err) = run(&all);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.starts_with(expect), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(out.is_empty(), "no sample before the error: {out}");
    }
    assert!(t.requests().is_empty());
}

#[test]
fn monitor_warns_once_when_the_certificate_chain_expires_within_cert_warn_days() {
    // The intermediate lapses in ten and a half days; the leaf (rcgen's default) in 4096.
    let soon = std::time::SystemTime::now() + Duration::from_secs(10 * 86_400 + 43_200);
    let pki = common::tls::TestPki::with_intermediate(soon);
    let t = Target::https(&pki);
    let url = t.url("/page?size=5");
    let cacert = pki.ca_pem_path.to_str().unwrap();
    let monitor = |extra: &[&str]| {
        let mut a = vec![
            "run", "monitor", "-n", "3", "-d", "0", "-q", "--cacert", cacert,
        ];
        a.extend_from_slice(extra);
        a.push(&url);
        let (code, _, err) = run(&a.iter().map(|s| &**s).collect::<Vec<_>>());
        assert_eq!(code, 0, "{err}");
        err
    };
    let err = monitor(&[]);
    let warned: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("CERT EXPIRING"))
        .collect();
    assert_eq!(warned.len(), 1, "once, not per sample: {err}");
    assert!(
        warned[0].contains(&format!(
            "CERT EXPIRING {url}: the certificate chain expires in 10 days"
        )),
        "{err}"
    );
    let err = monitor(&["--cert-warn-days", "7"]);
    assert!(!err.contains("CERT EXPIRING"), "10 days is beyond 7: {err}");
    let err = monitor(&["--cert-warn-days", "0"]);
    assert!(!err.contains("CERT"), "0 turns the warning off: {err}");
}

#[test]
fn a_result_names_the_certificates_alternative_names_and_the_chains_earliest_expiry() {
    let pki = common::tls::TestPki::with_intermediate(
        std::time::UNIX_EPOCH + Duration::from_secs(3_000_000_000),
    );
    let t = Target::https(&pki);
    let src = format!(
        "local r = perftest.probe({:?}, {{ cacert = {:?} }})\nlocal c = r.cert\nprint(table.concat(c.sans, ','), c.chain_not_after, c.not_after > c.chain_not_after, c.chain_days_left < c.days_left)\n",
        t.url("/page"),
        pki.ca_pem_path.to_str().unwrap()
    );
    let path = common::write_temp("cert-lua", "cert.lua", src);
    let (code, out, err) = run(&["run", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "localhost,127.0.0.1\t3000000000\ttrue\ttrue\n");
}
