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
