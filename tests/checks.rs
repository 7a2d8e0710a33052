//! Scenarios that look at what they fetch: `r:json()`, k6-style checks into stats and
//! thresholds, Gatus-style `--check` expressions in the bundled scenarios, and multi-step flows
//! against a local JSON API that really requires its cookie or token.

mod common;

use common::target::Target;
use common::{run, temp_dir};

/// Writes a script into a fresh directory; returns its path.
fn script(name: &str, src: &str) -> String {
    let path = temp_dir("checks").join(name);
    std::fs::write(&path, src).unwrap();
    path.display().to_string()
}

#[test]
fn json_decodes_the_body_and_names_the_byte_where_it_breaks() {
    let t = Target::http();
    let src = r#"
local r = perftest.probe(arg_url)
print(pcall(r.json, r))
r.body = '{"status": "UP", "checks": [1, 2]}'
local v = r:json()
print(v.status, #v.checks)
local seen = {}
for k in pairs(r) do seen[k] = true end
print(seen.json, perftest.json.encode(r):find('"json"'))
r.body = '{"status":\n  "UP",\n  oops}'
print(pcall(r.json, r))
r.body, r.body_truncated = '{"list": [1, 2', true
print(pcall(r.json, r))
local ok, e = pcall(function() local x = r:json() return x end)
print(e)
"#
    .replace("arg_url", &format!("{:?}", t.url("/status/200")));
    let path = script("json.lua", &src);
    let (code, out, err) = run(&["run", &path]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "false\tr:json(): no body kept: probe with keep_body = true"
    );
    assert_eq!(lines[1], "UP\t2");
    assert_eq!(lines[2], "nil\tnil", "json is not a field of the result");
    // "{\"status\":\n" is bytes 0-10, "  \"UP\",\n" 11-18, then two spaces: 'o' is byte 21.
    assert_eq!(
        lines[3],
        "false\tr:json(): the body is not JSON: key must be a string at byte 21"
    );
    assert_eq!(
        lines[4],
        "false\tr:json(): the body is not JSON: EOF while parsing a list at byte 14 (only its first 14 bytes were kept: raise keep_body)"
    );
    assert!(
        lines[5].starts_with(&format!("{path}:14: r:json()")),
        "the error names the caller's line: {}",
        lines[5]
    );
}

#[test]
fn stats_check_records_each_check_and_a_failed_one_fails_the_sample() {
    let t = Target::http();
    let src = r#"
local ok_url, bad_url = perftest.args[1], perftest.args[2]
local s = perftest.stats { name = "api", thresholds = { checks = "rate > 0.99", errors = "rate < 0.01" } }
local checks = {
  ["status is 200"] = function(r) return r.status == 200 end,
  ["has a length"] = function(r) return r.headers["content-length"] ~= nil end,
  ["raises"] = function(r) return r.headers.missing.field end,
}
for _, url in ipairs { ok_url, ok_url, bad_url } do
  local r = perftest.probe(url)
  local passed = s:check(r, { ["status is 200"] = checks["status is 200"], ["has a length"] = checks["has a length"] })
  print(passed, r.ok, r.error, r.error_kind)
  s:add(r)
end
local r = perftest.probe(ok_url)
print(s:check(r, checks), r.error)
local r2 = perftest.probe(ok_url)
print(s:check(r2, { raises = checks.raises }), r2.error)
-- perftest.check runs checks without recording them.
local r3 = perftest.probe(bad_url)
print(perftest.check(r3, { ["status is 200"] = checks["status is 200"] }), r3.ok, r3.error)
local c = s:table().checks
print(c.passes, c.fails, c.by_name["status is 200"].fails, c.by_name.raises.fails)
io.write(s:summary { color = false })
"#;
    let path = script("check.lua", src);
    let (code, out, err) = run(&["run", &path, &t.url("/status/200"), &t.url("/status/503")]);
    assert_eq!(code, 99, "the checks threshold fails the run: {out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "true\ttrue\tnil\tnil");
    assert_eq!(lines[1], "true\ttrue\tnil\tnil");
    assert_eq!(
        lines[2], "false\tfalse\tcheck failed: status is 200\tcheck",
        "a response that arrived is failed by its check"
    );
    assert_eq!(lines[3], "false\tcheck failed: raises");
    assert_eq!(lines[4], "false\tcheck failed: raises");
    assert_eq!(lines[5], "false\tfalse\tcheck failed: status is 200");
    // 3 samples x 2 checks + 3 + 1, of which the 503's status check and "raises" twice failed.
    assert_eq!(lines[6], "7\t3\t1\t2");
    assert!(
        out.contains("samples   3 in") && out.contains("failed 1 (check 1)"),
        "the failed check counts as a failed sample: {out}"
    );
    assert!(out.contains("  checks    70.00% · ✓ 7 ✗ 3\n"), "{out}");
    assert!(out.contains("    ✓ has a length\n"), "{out}");
    assert!(
        out.contains("    ✗ status is 200\n      ↳ 75% — ✓ 3 / ✗ 1\n"),
        "{out}"
    );
    assert!(out.contains("✗ checks rate > 0.99"), "{out}");
    assert!(out.contains("✗ errors rate < 0.01"), "{out}");
    assert_eq!(
        err.matches("check \"raises\" raised an error").count(),
        1,
        "a check that raises says why once: {err}"
    );
    assert!(
        err.contains(&format!("{path}:7: attempt to index a nil value")),
        "{err}"
    );
}

#[test]
fn a_failed_check_is_named_in_the_alert_it_triggers() {
    let t = Target::http();
    let src = r#"
local rule = perftest.alert { name = "api content", when = "error", failure_threshold = 2 }
local checks = { ["served by the API"] = function(r) return r.headers["x-api"] == "1" end }
for i = 1, 2 do
  local r = perftest.probe(perftest.args[1])
  perftest.check(r, checks)
  print(rule:observe(r))
end
"#;
    let path = script("alert.lua", src);
    let (code, out, err) = run(&["run", &path, &t.url("/status/200")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "nil\nTRIGGERED\n");
    assert!(
        err.contains("ALERT [TRIGGERED] api content: ")
            && err.contains("check failed: served by the API"),
        "{err}"
    );
}

#[test]
fn bad_checks_are_named_at_the_callers_line() {
    let t = Target::http();
    for (call, says) in [
        (
            "s:check(r, { 5 })",
            "stats:check: each check needs a name, got a key of type integer",
        ),
        (
            "s:check(r, { up = true })",
            "stats:check: check \"up\": give a function(r) that returns true when it passes, got boolean",
        ),
        (
            "perftest.check(r)",
            "perftest.check(r, checks): give a result and a table of checks",
        ),
    ] {
        let src = format!(
            "local s = perftest.stats()\nlocal r = perftest.probe({:?})\n{call}\n",
            t.url("/status/200")
        );
        let path = script("bad.lua", &src);
        let (code, _, err) = run(&["run", &path]);
        assert_eq!(code, 1, "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with(&format!("perftest: {path}:3: {says}")),
            "{call}: {err}"
        );
    }
}

#[test]
fn slo_checks_what_a_page_says_and_fails_when_it_changes() {
    let api = common::api::Api::start();
    let url = api.url("/health");
    let gate = |extra: &[&str]| {
        let mut args = vec!["run", "slo", "-n", "3", "-d", "0"];
        args.extend_from_slice(extra);
        args.push(&url);
        run(&args)
    };
    let checks = [
        "--check",
        "status == 200",
        "--check",
        "json().status == \"UP\"",
    ];
    let (code, out, err) = gate(&checks);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("  checks    100.00% · ✓ 6 ✗ 0\n"), "{out}");
    assert!(out.contains("    ✓ json().status == \"UP\"\n"), "{out}");

    api.set_health("DOWN");
    let (code, out, err) = gate(&checks);
    assert_eq!(
        code, 99,
        "failed checks fail the errors threshold: {out}{err}"
    );
    assert!(out.contains("failed 3 (check 3)"), "{out}");
    assert!(
        out.contains("    ✗ json().status == \"UP\"\n      ↳ 0% — ✓ 0 / ✗ 3\n"),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("  total ")),
        "a sample only a check failed keeps its phases: {out}"
    );
    assert_eq!(
        err.matches("check failed: json().status == \"UP\"").count(),
        3,
        "{err}"
    );
    assert_eq!(api.requests().len(), 6);
}

#[test]
fn a_check_that_reads_the_body_keeps_it_and_only_then() {
    let api = common::api::Api::start();
    let url = api.url("/health");
    // Not naming the body: the probe keeps none.
    let (code, out, err) = run(&[
        "run",
        "slo",
        "-n",
        "1",
        "--check",
        "rawget(r, 'bo' .. 'dy') == nil",
        &url,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    for check in [
        "body ~= nil",
        "r.body:find('UP')",
        "#json().status == 2 or true",
    ] {
        let (code, out, err) = run(&["run", "slo", "-n", "1", "--check", check, &url]);
        assert_eq!(code, 0, "{check}: {out}{err}");
    }
}

#[test]
fn a_bad_check_expression_is_a_one_line_usage_error() {
    let api = common::api::Api::start();
    for scenario in ["slo", "monitor"] {
        let (code, out, err) = run(&[
            "run",
            scenario,
            "--check",
            "status = 200",
            &api.url("/health"),
        ]);
        assert_eq!(code, 2, "{out}{err}");
        assert_eq!(
            err.trim(),
            format!("perftest run {scenario}: --check 'status = 200': ')' expected near '='")
        );
        let (code, help, _) = run(&["run", scenario, "--help"]);
        assert_eq!(code, 0);
        assert!(
            help.contains("--check EXPR") && help.contains("json().status == \"UP\""),
            "{help}"
        );
    }
    assert!(api.requests().is_empty(), "nothing was probed");
}

#[test]
fn monitor_checks_every_sample_and_fails_when_the_content_changes() {
    let api = common::api::Api::start();
    let mut cmd = common::perftest();
    cmd.args([
        "run",
        "monitor",
        "-j",
        "-d",
        "0.05",
        "-w",
        "60",
        "-t",
        "errors rate == 0",
        "--check",
        "json().status == \"UP\"",
        &api.url("/health"),
    ]);
    let mut m = common::Running::start(cmd);
    let failed = |l: &str| l.contains("\"error\":\"check failed: json().status == \\\"UP\\\"\"");
    m.wait_for(3, |l| {
        l.starts_with("{\"n\":") && l.contains("\"error\":null")
    });
    api.set_health("DOWN");
    m.wait_for(3, failed);
    m.signal("INT");
    let (code, out, err) = m.finish(std::time::Duration::from_secs(20));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("    ✗ json().status == \"UP\"\n"), "{out}");
    assert!(
        err.contains("FAILING") && err.contains("errors rate == 0"),
        "the failed checks fail the rolling errors threshold: {err}"
    );
}

#[test]
fn checks_read_the_certificate() {
    let pki = common::tls::TestPki::new(&[]);
    let t = Target::https(&pki);
    let (code, out, err) = run(&[
        "run",
        "slo",
        "-n",
        "2",
        "-d",
        "0",
        "--cacert",
        pki.ca_pem_path.to_str().unwrap(),
        "--check",
        "cert.days_left > 14",
        "--check",
        "cert.days_left < 14",
        &t.url("/page"),
    ]);
    assert_eq!(code, 99, "{out}{err}");
    assert!(out.contains("    ✓ cert.days_left > 14\n"), "{out}");
    assert!(
        out.contains("    ✗ cert.days_left < 14\n      ↳ 0% — ✓ 0 / ✗ 2\n"),
        "{out}"
    );
}
