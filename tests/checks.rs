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
        l.contains("\"type\":\"sample\"") && l.contains("\"error\":null")
    });
    api.set_health("DOWN");
    m.wait_for(3, failed);
    m.signal("INT");
    let (code, out, err) = m.finish(std::time::Duration::from_secs(20));
    assert_eq!(code, Some(0), "{out}{err}");
    // Under --jsonl the stream ends with the JSON summary, the checks tallied by name.
    let summary: serde_json::Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "summary")
        .unwrap_or_else(|| panic!("no JSON summary: {out}"));
    let check = &summary["checks"]["by_name"]["json().status == \"UP\""];
    assert!(
        check["passes"].as_u64() >= Some(3) && check["fails"].as_u64() >= Some(3),
        "{out}"
    );
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

#[test]
fn a_session_keeps_cookies_as_rfc_6265_says() {
    let api = common::api::Api::start();
    let src = r#"
local base = perftest.args[1]
local creds = { json = { user = "probe", password = "s3cret" } }
for _, s in ipairs { perftest.session(), perftest.session { cookies = true } } do
  local login = s:probe(base .. "/login", creds)
  print(login.status, s:probe(base .. "/cart").status)
end
local jar = perftest.session { cookies = true }
jar:probe(base .. "/login", creds)
print(jar:probe(base .. "/cart").status, tostring(jar):match(", cookies$") ~= nil)
print(jar:probe(base .. "/settings", { keep_body = true, headers = { Cookie = "mine=1" } }):json().cookie)
for _, c in ipairs(jar:cookies()) do print(c.name, c.value, c.domain, c.path) end
jar:probe(base .. "/logout", { method = "POST" })
print(jar:probe(base .. "/cart").status, #jar:cookies())
print(pcall(perftest.session, { cookie = true }))
"#;
    let path = script("cookies.lua", src);
    let (code, out, err) = run(&["run", &path, &api.url("")]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "200\t401", "without cookies the API refuses");
    assert_eq!(lines[1], "200\t200", "with them the login holds");
    assert_eq!(lines[2], "200\ttrue");
    let sent = lines[3];
    assert!(
        sent.starts_with("mine=1; ")
            && sent.contains("session=sess-3")
            && sent.contains("theme=dark"),
        "the script's cookie and the jar's in one header, theme for /settings: {sent}"
    );
    assert_eq!(lines[4], "session\tsess-3\t127.0.0.1\t/");
    assert_eq!(lines[5], "theme\tdark\t127.0.0.1\t/settings");
    assert_eq!(lines[6], "401\t1", "Max-Age=0 deleted the session cookie");
    assert!(
        lines[7].starts_with("false\tperftest.session: option cookie = boolean"),
        "{}",
        lines[7]
    );
    let carts: Vec<Option<String>> = api
        .requests()
        .into_iter()
        .filter(|r| r.path == "/cart")
        .map(|r| r.header("cookie").map(str::to_string))
        .collect();
    assert_eq!(
        carts,
        [
            None,
            Some("session=sess-2".into()),
            Some("session=sess-3".into()),
            None
        ],
        "/cart never gets the /settings cookie"
    );
}

fn flow(api: &common::api::Api, extra: &[&str]) -> (i32, String, String) {
    let (login, me) = (api.url("/login"), api.url("/me"));
    let mut args = vec!["run", "flow", "-n", "3", "-d", "0", "--user", "probe"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[&login, &me]);
    common::run_env(&args, &[("PERFTEST_PASSWORD", "s3cret")])
}

#[test]
fn the_flow_scenario_logs_in_and_fetches_the_page_with_the_token() {
    let api = common::api::Api::start();
    let (code, out, err) = flow(
        &api,
        &[
            "--check",
            "json().user == \"probe\"",
            "--check",
            "json().visits > 0",
            "-t",
            "total p(95) < 10000",
            "--login-threshold",
            "total p(95) < 10000",
            "--page-threshold",
            "first max < 10000",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    for title in [
        "█ flow › login\n",
        "█ flow › page\n",
        "█ flow › whole flow\n",
    ] {
        assert!(out.contains(title), "{title}: {out}");
    }
    assert!(out.contains("    ✓ the answer has token\n"), "{out}");
    assert!(out.contains("    ✓ json().visits > 0\n"), "{out}");
    assert!(out.contains("✓ total p(95) < 10000"), "{out}");
    assert!(out.contains("✓ first max < 10000"), "{out}");
    assert!(out.contains("✓ errors rate < 0.01"), "{out}");
    // Each page request carried the token its own run's login got.
    let seen = api.requests();
    let logins = seen.iter().filter(|r| r.path == "/login").count();
    let auths: Vec<Option<&str>> = seen
        .iter()
        .filter(|r| r.path == "/me")
        .map(|r| r.header("authorization"))
        .collect();
    assert_eq!(logins, 3);
    assert_eq!(
        auths,
        [
            Some("Bearer tok-1"),
            Some("Bearer tok-2"),
            Some("Bearer tok-3")
        ]
    );

    // The whole flow's phases are the sums of its steps'.
    let (code, out, err) = flow(&api, &["--jsonl"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    for phase in ["tcp", "first", "total", "size"] {
        let whole = v["total"][phase]["avg"].as_f64().unwrap();
        let steps = v["steps"]["login"][phase]["avg"].as_f64().unwrap()
            + v["steps"]["page"][phase]["avg"].as_f64().unwrap();
        assert!((whole - steps).abs() < 1e-6, "{phase}: {whole} vs {steps}");
    }
    assert_eq!(v["total"]["count"], 3);
    assert_eq!(v["order"], serde_json::json!(["login", "page"]));
}

#[test]
fn a_flow_fails_when_the_login_or_the_token_does_not_hold() {
    let api = common::api::Api::start();
    let (code, out, err) = common::run_env(
        &[
            "run",
            "flow",
            "-n",
            "2",
            "-d",
            "0",
            "--user",
            "probe",
            &api.url("/login"),
            &api.url("/me"),
        ],
        &[("PERFTEST_PASSWORD", "wrong")],
    );
    assert_eq!(code, 99, "{out}{err}");
    assert_eq!(
        err.matches("login: check failed: login answered 2xx, the answer has token")
            .count(),
        2,
        "{err}"
    );
    assert!(out.contains("✗ errors rate < 0.01"), "{out}");
    assert!(
        api.requests().iter().all(|r| r.path == "/login"),
        "no page without a login"
    );

    // A token sent where the API does not look for it: the page refuses, the check says so.
    let (code, out, err) = flow(&api, &["--auth", "X-Token: {token}"]);
    assert_eq!(code, 99, "{out}{err}");
    assert_eq!(
        err.matches("page: check failed: status == 200").count(),
        3,
        "{err}"
    );
    assert!(out.contains("failed 3 (check 3)"), "{out}");

    let (code, _, err) = flow(&api, &["--auth", "Authorization: Bearer"]);
    assert_eq!(code, 2);
    assert!(err.contains("--auth 'Authorization: Bearer'"), "{err}");
}

#[test]
fn the_flow_example_in_the_docs_runs_against_a_real_login() {
    let api = common::api::Api::start();
    let docs = include_str!("../docs/lua-api.md");
    let start = docs
        .find("```lua\nlocal flow = perftest.flow {")
        .expect("the example")
        + 7;
    let example = &docs[start..start + docs[start..].find("```").unwrap()];
    let src = example
        .replace("https://api.example", &api.url(""))
        .replace("for _ = 1, 10 do", "for _ = 1, 3 do")
        .replace("perftest.sleep(1)", "perftest.sleep(0)");
    let path = script("flow-example.lua", &src);
    let (code, out, err) = common::run_env(&["run", &path], &[("PERFTEST_PASSWORD", "s3cret")]);
    assert_eq!(code, 0, "{out}{err}");
    for title in [
        "█ account › login\n",
        "█ account › profile\n",
        "█ account › whole flow\n",
    ] {
        assert!(out.contains(title), "{title}: {out}");
    }
    assert!(out.contains("    ✓ greets the user\n"), "{out}");
    assert!(out.contains("✓ total p(95) < 300"), "{out}");
    assert!(out.contains("✓ errors rate < 0.01"), "{out}");
    assert_eq!(api.requests().iter().filter(|r| r.path == "/me").count(), 3);
}

#[test]
fn a_bad_flow_option_is_named() {
    let path = script("badflow.lua", "perftest.flow { nmae = 'x' }\n");
    let (code, _, err) = run(&["run", &path]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with(&format!(
            "perftest: {path}:1: perftest.flow: unknown option \"nmae\""
        )),
        "{err}"
    );
}
