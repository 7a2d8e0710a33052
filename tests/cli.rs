//! The classic command line, run as a user runs it: output format byte for byte, environment,
//! failures, schedule, signals and pipes.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::dns::DnsServer;
use common::target::Target;
use common::tls::TestPki;
use common::{Running, perftest, run, run_env};

const HEADER: &str = "# timestamp\tDNS\tTCP\tTLS\tFirst\tLastB\tTotal\tHTTP\tSize\tFrom_Location\tRemote_Addr\tproto://uri";

/// A parsed TSV row: number, timestamp, six times, the rest as text.
#[derive(Debug)]
struct Row {
    n: u64,
    timestamp: u64,
    times: [f64; 6],
    http: String,
    size: String,
    location: String,
    remote: String,
    url: String,
}

fn parse_row(line: &str) -> Row {
    let (n, rest) = line.split_once(' ').expect("row number, then a space");
    let f: Vec<&str> = rest.split('\t').collect();
    assert_eq!(f.len(), 12, "twelve tab-separated fields: {line:?}");
    let times: Vec<f64> = f[1..7]
        .iter()
        .map(|t| {
            let (_, decimals) = t.split_once('.').expect("a decimal point");
            assert_eq!(decimals.len(), 3, "three decimals (microseconds): {t}");
            t.parse().unwrap()
        })
        .collect();
    Row {
        n: n.parse().unwrap(),
        timestamp: f[0].parse().unwrap(),
        times: times.try_into().unwrap(),
        http: f[7].to_string(),
        size: f[8].to_string(),
        location: f[9].to_string(),
        remote: f[10].to_string(),
        url: f[11].to_string(),
    }
}

fn rows(stdout: &str) -> Vec<Row> {
    stdout
        .lines()
        .filter(|l| {
            l.split_once(' ')
                .is_some_and(|(n, r)| n.parse::<u64>().is_ok() && r.split('\t').count() == 12)
        })
        .map(parse_row)
        .collect()
}

/// Now, in whole epoch seconds.
fn epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// "Recorded 3 samples in 0s, average values:" -> (3, "0s").
fn recorded(line: &str) -> (u64, String) {
    let rest = line
        .strip_prefix("Recorded ")
        .and_then(|r| r.strip_suffix(", average values:"))
        .unwrap_or_else(|| panic!("a summary's first line: {line:?}"));
    let (n, elapsed) = rest.split_once(" samples in ").unwrap();
    (n.parse().unwrap(), elapsed.to_string())
}

/// The Go tool's output (or ours) with what changes from run to run blanked: times, epoch
/// seconds, elapsed time, Start and the URL. What is left is the shape: lines, fields,
/// order, indentation, and the values that must match (status, size, location, remote).
fn shape(out: &str) -> String {
    let mut lines = Vec::new();
    for line in out.lines() {
        if let Some(field) = line.strip_prefix("  \"") {
            let (key, value) = field.split_once("\": ").expect("\"Key\": value");
            let comma = if value.ends_with(',') { "," } else { "" };
            let value = match key {
                "Start" | "TcpHs" | "Reply" | "Close" | "Total" | "DestUrl" => "<>",
                _ => value.trim_end_matches(','),
            };
            lines.push(format!("  \"{key}\": {value}{comma}"));
        } else if line.starts_with("Recorded ") {
            let (n, _) = recorded(line);
            lines.push(format!(
                "Recorded {n} samples in <elapsed>, average values:"
            ));
        } else if line.contains('\t') && !line.starts_with('#') {
            let (n, rest) = line.split_once(' ').unwrap();
            let fields: Vec<String> = rest
                .split('\t')
                .enumerate()
                .map(|(i, f)| {
                    if i == 0 {
                        "<t>".into()
                    } else if f.contains("://") {
                        "<url>".into()
                    } else if f.contains('.') && f.parse::<f64>().is_ok() {
                        "<ms>".into()
                    } else {
                        f.to_string()
                    }
                })
                .collect();
            lines.push(format!("{n} {}", fields.join("\t")));
        } else {
            lines.push(line.to_string());
        }
    }
    lines.join("\n")
}

/// A fixture: what the Go tool printed (tests/fixtures/go/README.md says how it was made).
fn go_fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/go/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Go's RFC3339Nano (as -j prints Start) to seconds since the epoch.
fn rfc3339(s: &str) -> f64 {
    let (date, time) = s.split_once('T').expect("a date and a time");
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (clock, offset) = match time.find(['Z', '+', '-']) {
        Some(i) => time.split_at(i),
        None => panic!("an offset in {s}"),
    };
    let t: Vec<f64> = clock.split(':').map(|x| x.parse().unwrap()).collect();
    let offset = match offset {
        "Z" => 0.0,
        o => {
            let sign = if o.starts_with('-') { -1.0 } else { 1.0 };
            let (h, m) = o[1..].split_once(':').unwrap();
            sign * (h.parse::<f64>().unwrap() * 3600.0 + m.parse::<f64>().unwrap() * 60.0)
        }
    };
    // Days from the civil date (H. Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    days as f64 * 86_400.0 + t[0] * 3600.0 + t[1] * 60.0 + t[2] - offset
}

/// The samples of -j output: each indented PingTimes object, parsed.
fn pingtimes(out: &str) -> Vec<serde_json::Value> {
    let mut samples = Vec::new();
    let mut current = String::new();
    for line in out.lines() {
        if line == "{" || !current.is_empty() {
            current.push_str(line);
            current.push('\n');
            if line == "}" {
                samples.push(serde_json::from_str(&current).expect("a PingTimes object"));
                current.clear();
            }
        }
    }
    samples
}

#[test]
fn output_has_the_classic_header_rows_and_summary() {
    let t = Target::http();
    let url = t.url("/page?ttfb=20&size=1234");
    let before = epoch_now();
    let (code, out, _) = run_env(
        &["-n", "3", "-d", "0", &url],
        &[("REP_LOCATION", "Paris,FR")],
    );
    let after = epoch_now();
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.split('\n').collect();
    assert_eq!(lines[0], HEADER);
    let rows: Vec<Row> = lines[1..4].iter().map(|l| parse_row(l)).collect();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.n, i as u64 + 1);
        assert!(
            (before..=after).contains(&r.timestamp),
            "epoch seconds: {}",
            r.timestamp
        );
        assert_eq!(r.http, "200");
        assert_eq!(r.size, "1234");
        assert_eq!(r.location, "Paris,FR");
        assert_eq!(r.remote, "127.0.0.1");
        assert_eq!(r.url, url);
        assert_eq!(r.times[0], 0.0, "no DNS for an IP literal");
        assert_eq!(r.times[2], 0.0, "no TLS for http");
        assert!(r.times[3] >= 20.0, "First holds the server's 20 ms: {r:?}");
        let sum: f64 = r.times[1..5].iter().sum();
        assert!(
            (r.times[5] - sum).abs() < 0.0025,
            "Total = TCP + TLS + First + LastB: {r:?}"
        );
    }
    // A blank line, the count and time, the header, the averages, a blank line.
    assert_eq!(lines[4], "");
    // As in Go, whole epoch seconds are subtracted: a run of a tenth of a second that
    // straddles a second boundary reads 1s.
    let (count, elapsed) = recorded(lines[5]);
    assert_eq!(count, 3);
    let secs: u64 = elapsed.strip_suffix('s').unwrap().parse().unwrap();
    assert!(
        secs >= rows[2].timestamp - rows[0].timestamp && secs <= after - rows[0].timestamp,
        "{elapsed} between the first row's second and the end"
    );
    assert_eq!(lines[6], HEADER);
    let summary = lines[7];
    assert!(
        summary.starts_with(&format!("3 {elapsed:<6}\t")),
        "count and elapsed padded to six: {summary:?}"
    );
    let fields: Vec<&str> = summary.split('\t').collect();
    assert_eq!(
        fields.len(),
        11,
        "the classic summary row has no Remote_Addr: {summary:?}"
    );
    assert_eq!(&fields[7..], &["", "1234", "", url.as_str()]);
    for (i, avg) in fields[1..7].iter().enumerate() {
        let mean = rows.iter().map(|r| r.times[i]).sum::<f64>() / 3.0;
        let avg: f64 = avg.parse().unwrap();
        assert!((avg - mean).abs() < 0.002, "column {i}: {avg} vs {mean}");
    }
    assert_eq!(lines[8], "");
    assert_eq!(lines[9], "", "output ends with the blank line");
    assert_eq!(lines.len(), 10);
    assert_eq!(
        shape(&out),
        shape(&go_fixture("tsv.out")),
        "as the Go tool prints it"
    );
}

#[test]
fn flags_take_every_form_go_accepts() {
    let t = Target::http();
    let url = t.url("/page?size=1234");
    let paris = [("REP_LOCATION", "Paris,FR")];
    // The forms the Go tool was run with for the fixtures: the same output.
    let cases: [(&[&str], &str); 3] = [
        (&["-n=1", "-d=0", "-j=true", "-q=false"], "forms-1.out"),
        (&["--n", "1", "--d", "0", "-q"], "forms-2.out"),
        (&["--n=1", "--d=0", "-v=false", "-j=false"], "forms-3.out"),
    ];
    for (flags, fixture) in cases {
        let mut args = flags.to_vec();
        args.push(&url);
        let (code, out, err) = run_env(&args, &paris);
        assert_eq!(code, 0, "{flags:?}: {err}");
        assert_eq!(shape(&out), shape(&go_fixture(fixture)), "{flags:?}");
    }
    // A boolean in every spelling strconv.ParseBool reads.
    for (value, json) in [
        ("1", true),
        ("t", true),
        ("T", true),
        ("TRUE", true),
        ("true", true),
        ("True", true),
        ("0", false),
        ("f", false),
        ("F", false),
        ("FALSE", false),
        ("false", false),
        ("False", false),
    ] {
        let j = format!("-j={value}");
        let (code, out, err) = run(&["-n", "1", "-d", "0", "-q", &j, &url]);
        assert_eq!(code, 0, "{j}: {err}");
        assert_eq!(out.starts_with("{\n"), json, "{j}: {out}");
        assert_eq!(out.starts_with(HEADER), !json, "{j}: {out}");
    }
    for (q, quiet) in [("-q=true", true), ("-q=false", false), ("--q=0", false)] {
        let (code, _, err) = run(&["-n", "1", "-d", "0", q, &url]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(!err.contains("perftest: testing"), quiet, "{q}: {err}");
    }
    // A flag given again takes its last value; our flags take Go's forms too.
    for (args, n) in [
        (vec!["-n", "1", "-n", "2", "-d", "0"], 2),
        (vec!["--n=3", "-n=1", "--d=0", "-v", "-v"], 1),
        (
            vec![
                "-n",
                "2",
                "-d",
                "0",
                "-L=true",
                "-timeout",
                "5",
                "--connect-timeout=2",
            ],
            2,
        ),
        (
            vec![
                "-n",
                "1",
                "-d",
                "0",
                "--X=GET",
                "-H",
                "X-A: 1",
                "--H=X-B: 2",
            ],
            1,
        ),
    ] {
        let mut all = args.clone();
        all.push(&url);
        let (code, out, err) = run(&all);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(rows(&out).len(), n, "{args:?}: {out}");
    }
    let seen = t.requests();
    let last = seen.last().unwrap();
    assert_eq!(
        (last.header("x-a"), last.header("x-b")),
        (Some("1"), Some("2"))
    );
    // What Go refuses, we refuse: a boolean that is not one, a flag that is not ours.
    let (code, _, err) = run(&["-n", "1", "-j=maybe", &url]);
    assert_eq!(code, 2);
    assert!(err.contains("-j") && err.contains("maybe"), "{err}");
    let (code, _, err) = run(&["-n", "1", "-x", &url]);
    assert_eq!(code, 2, "{err}");
    let (code, out, _) = run(&["-help"]);
    assert_eq!(code, 0);
    assert!(out.contains("perftest [flags] URL..."), "{out}");
}

#[test]
fn location_falls_back_to_city_and_country() {
    let t = Target::http();
    let url = t.url("/page");
    let (code, out, _) = run_env(
        &["-n=2", "-d=0", "-q", &url],
        &[("REP_CITY", "Lyon"), ("REP_COUNTRY", "FR")],
    );
    assert_eq!(code, 0);
    let rows = rows(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].location, "Lyon,FR");
}

#[test]
fn environment_adds_urls_and_overrides_limit_with_a_note() {
    let t = Target::http();
    let (a, b) = (t.url("/page?size=1"), t.url("/page?size=2"));
    let (code, out, err) = run_env(
        &["-n", "5", "-d", "0", &a],
        &[("PERFTEST_URL", &b), ("PERFTEST_LIMIT", "2")],
    );
    assert_eq!(code, 0, "{err}");
    let rows = rows(&out);
    assert_eq!(rows.iter().filter(|r| r.url == a).count(), 2);
    assert_eq!(rows.iter().filter(|r| r.url == b).count(), 2);
    assert!(
        err.contains("PERFTEST_LIMIT=2 from the environment overrides -n 5"),
        "{err}"
    );
}

/// The line of a fixture's stderr that holds `what`, without the log's date and time.
fn go_log_line(stderr: &str, what: &str) -> String {
    let line = stderr.lines().find(|l| l.contains(what)).unwrap();
    line.splitn(3, ' ').nth(2).unwrap().to_string()
}

#[test]
fn a_value_the_go_tool_refuses_from_the_environment_is_named_and_the_flag_kept() {
    let t = Target::http();
    let url = t.url("/page");
    // PERFTEST_LIMIT=0 does not mean "forever": Go's warning, word for word.
    let (code, out, err) = run_env(&["-n", "2", "-d", "0", &url], &[("PERFTEST_LIMIT", "0")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rows(&out).len(), 2);
    let go = go_log_line(&go_fixture("limit-0.err"), "PERFTEST_LIMIT");
    assert!(err.contains(&format!("perftest: {go}\n")), "{go} in {err}");
    for bad in ["abc", "-3", "2.5"] {
        let (code, out, err) = run_env(&["-n", "1", "-d", "0", &url], &[("PERFTEST_LIMIT", bad)]);
        assert_eq!(code, 0);
        assert_eq!(rows(&out).len(), 1, "{bad}");
        assert!(
            err.contains(&format!(
                "perftest: Warning: PERFTEST_LIMIT from environment is {bad} -- value must be int > 0.  Using -n 1 instead"
            )),
            "{err}"
        );
    }
    // PERFTEST_DELAY=0 does not mean back to back: -d 0.3 is kept. Go's words, but a
    // fraction is a delay here (as -d 0.3 is).
    for bad in ["0", "abc"] {
        let (code, out, err) = run_env(
            &["-n", "2", "-d", "0.3", "-j", &url],
            &[("PERFTEST_DELAY", bad)],
        );
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains(&format!(
                "perftest: Warning: PERFTEST_DELAY environment is {bad} -- value must be a number > 0.  Using -d 0.3 instead"
            )),
            "{err}"
        );
        let starts: Vec<f64> = pingtimes(&out)
            .iter()
            .map(|p| rfc3339(p["Start"].as_str().unwrap()))
            .collect();
        // 0.3 s by the clock (the first sample may start a little after its tick); back to
        // back would be a millisecond.
        assert!(starts[1] - starts[0] >= 0.2, "{starts:?}");
    }
    let go = go_log_line(&go_fixture("delay-0.err"), "PERFTEST_DELAY");
    assert!(go.starts_with("Warning: PERFTEST_DELAY environment is 0 -- value must be int > 0."));
}

#[test]
fn no_url_prints_the_usage_and_exits_1_as_go_does() {
    let go = go_fixture("no-url.err");
    assert!(go.contains("Error: no destinations to test") && go.contains("Usage: "));
    for env in [vec![], vec![("PERFTEST_URL", "  ")]] {
        let (code, out, err) = run_env(&["-n", "1"], &env);
        assert_eq!(code, 1, "{env:?}");
        assert_eq!(out, "");
        assert!(
            err.starts_with(
                "perftest: no URLs to test: give one or more URLs, or set PERFTEST_URL\n"
            ),
            "{err}"
        );
        assert!(err.contains("Usage: perftest [flags] URL..."), "{err}");
    }
    let (code, _, err) = run(&["run", "default", "-n", "1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no URLs to test"), "{err}");
}

#[test]
fn each_failure_kind_prints_500_its_reason_and_goes_on() {
    let pki = TestPki::new(&["http/1.1"]);
    let plain = Target::http();
    let tls = Target::https(&pki);
    let dns = DnsServer::start(Duration::ZERO, &[]);
    let port = common::free_port();
    let dns_server = dns.addr.to_string();
    let cases = [
        (format!("http://127.0.0.1:{port}/"), "connect 127.0.0.1:"),
        (
            "http://gone.test/".to_string(),
            "dns gone.test: no such host (NXDOMAIN)",
        ),
        (
            "http://refused.test/".to_string(),
            "dns refused.test: the name server refused the query (REFUSED)",
        ),
        (
            "http://servfail.test/".to_string(),
            "dns servfail.test: the name server could not answer (SERVFAIL)",
        ),
        (
            plain.url("/hang"),
            "timeout after 300ms waiting for the first byte",
        ),
        (
            plain.url("/close"),
            "closed the connection before sending a response",
        ),
        (plain.url("/garbage"), "invalid response"),
        (plain.url("/reset?after=100"), "connection reset by peer"),
        (tls.url("/page"), "certificate not trusted"),
    ];
    for (url, reason) in cases {
        // Only /hang needs the short limit; the others get one a loaded machine cannot reach
        // (a name server that answers late would read as a timeout, not as its answer).
        let timeout = if reason.starts_with("timeout") {
            "0.3"
        } else {
            "10"
        };
        let (code, out, err) = run(&[
            "-n",
            "2",
            "-d",
            "0",
            "--timeout",
            timeout,
            "--dns-server",
            &dns_server,
            &url,
        ]);
        assert_eq!(code, 0, "{url}: {err}");
        let rows = rows(&out);
        assert_eq!(
            rows.len(),
            2,
            "{url}: the next sample follows a failure\n{out}"
        );
        assert!(rows.iter().all(|r| r.http == "500"), "{url}: {out}");
        assert_eq!(
            err.matches(reason).count(),
            2,
            "{url}: reason on stderr each time\n{err}"
        );
        assert!(
            out.contains("No valid samples received, no summary provided"),
            "{out}"
        );
    }
}

#[test]
fn failures_in_a_row_stop_a_loop_and_a_success_starts_the_count_again() {
    // A server that answers every other request and resets the rest: never 3 in a row.
    let t = Target::http();
    let url = t.url("/flaky");
    let (code, out, err) = run(&["-n", "12", "-d", "0", "-f", "3", &url]);
    assert_eq!(code, 0, "{err}");
    let rows = rows(&out);
    let http: Vec<&str> = rows.iter().map(|r| r.http.as_str()).collect();
    assert_eq!(http, ["200", "500"].repeat(6), "{out}");
    assert!(!err.contains("fetch failure"), "{err}");
    // The Go tool too ran all 12 (it never counted a network failure).
    assert_eq!(rows.len(), self::rows(&go_fixture("flaky.out")).len());

    // Nothing but failures: 3 in a row end the loop.
    let port = common::free_port();
    let down = format!("http://127.0.0.1:{port}/");
    let (code, out, err) = run(&["-n", "10", "-d", "0", "-f", "3", &down]);
    assert_eq!(code, 0);
    assert_eq!(self::rows(&out).len(), 3);
    assert!(
        err.contains(&format!("fetch failure 3 of 3 in a row on {down}")),
        "{err}"
    );
    // -f 0: never.
    let (code, out, err) = run(&["-n", "15", "-d", "0", "-f", "0", &down]);
    assert_eq!(code, 0);
    assert_eq!(self::rows(&out).len(), 15, "{err}");
    assert!(!err.contains("fetch failure"), "{err}");
}

#[test]
fn averages_count_only_successful_samples() {
    let t = Target::http();
    let port = common::free_port();
    // One URL that fails, one that works: each keeps its own count and summary.
    let good = t.url("/page?size=100");
    let bad = format!("http://127.0.0.1:{port}/");
    let (_, out, _) = run(&["-n", "2", "-d", "0", &good, &bad]);
    let summary = out
        .lines()
        .find(|l| l.starts_with("Recorded "))
        .unwrap_or_else(|| panic!("a summary: {out}"));
    assert_eq!(recorded(summary).0, 2, "{out}");
    assert!(out.contains(&format!("\t\t100\t\t{good}\n")), "{out}");
    assert!(out.contains("No valid samples received"), "{out}");
}

#[test]
fn dash_j_prints_the_go_tools_pingtimes_then_the_text_summary() {
    let t = Target::http();
    let url = t.url("/page?size=1234");
    let before = epoch_now();
    let (code, out, err) = run_env(
        &["-n", "2", "-d", "0", "-j", &url],
        &[("REP_LOCATION", "Paris,FR"), ("TZ", "UTC0")],
    );
    let after = epoch_now() + 1;
    assert_eq!(code, 0, "{err}");
    // Key for key, line for line, the summary included: the Go tool's output.
    assert_eq!(shape(&out), shape(&go_fixture("j.out")));
    let samples = pingtimes(&out);
    assert_eq!(samples.len(), 2);
    for p in &samples {
        let start = p["Start"].as_str().unwrap();
        let at = rfc3339(start);
        assert!(at >= before as f64 && at < after as f64, "{start}");
        let frac = start.split_once('.').map(|(_, f)| f.trim_end_matches('Z'));
        assert!(
            frac.is_none_or(|f| !f.ends_with('0')),
            "trailing zeros trimmed: {start}"
        );
        let ns = |k: &str| p[k].as_u64().unwrap_or_else(|| panic!("{k}: integer ns"));
        assert_eq!(
            ns("Total"),
            ns("TcpHs") + ns("TlsHs") + ns("Reply") + ns("Close"),
            "{p}"
        );
        assert_eq!((ns("DnsLk"), ns("TlsHs")), (0, 0));
        assert_eq!(p["DestUrl"], url.as_str());
        assert_eq!(p["Location"], "Paris,FR");
        assert_eq!(p["Remote"], "127.0.0.1");
        assert_eq!(p["RespCode"], 200);
        assert_eq!(p["Size"], 1234);
    }
    assert!(!out.starts_with('#'), "no header line before the samples");

    // The local zone's offset, Z for none; Location is the environment's raw value.
    for (tz, suffix) in [("IST-5:30", "+05:30"), ("EST5", "-05:00"), ("UTC0", "Z")] {
        let (_, out, _) = run_env(
            &["-n", "1", "-d", "0", "-j", &url],
            &[("TZ", tz), ("REP_CITY", "Lyon")],
        );
        let p = &pingtimes(&out)[0];
        let start = p["Start"].as_str().unwrap();
        assert!(start.ends_with(suffix), "{tz}: {start}");
        assert!(
            (rfc3339(start) - before as f64).abs() < 60.0,
            "{tz}: {start}"
        );
        assert_eq!(p["Location"], "Lyon", "as Go: REP_CITY alone, no comma");
    }
    let go = pingtimes(&go_fixture("tz.out"));
    assert!(go[0]["Start"].as_str().unwrap().ends_with("+05:30"));

    // A failure: 500 (Go: 520), no location from the environment: "" (Go too).
    let port = common::free_port();
    let (_, out, _) = run(&[
        "-n",
        "1",
        "-d",
        "0",
        "-j",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    let p = &pingtimes(&out)[0];
    assert_eq!(
        (p["RespCode"].as_u64(), p["Size"].as_u64()),
        (Some(500), Some(0))
    );
    assert_eq!(
        (p["Location"].as_str(), p["Remote"].as_str()),
        (Some(""), Some("127.0.0.1"))
    );
    let go = &pingtimes(&go_fixture("j-failure.out"))[0];
    assert_eq!(
        (go["RespCode"].as_u64(), go["Location"].as_str()),
        (Some(520), Some(""))
    );
    assert!(
        out.contains("No valid samples received, no summary provided"),
        "{out}"
    );

    // Go's encoder escapes <, > and & in strings.
    let odd = t.url("/page?a=1&b=2");
    let (_, out, _) = run_env(
        &["-n", "1", "-d", "0", "-j", &odd],
        &[("REP_LOCATION", "R&D <lab>")],
    );
    assert!(out.contains("?a=1\\u0026b=2\""), "{out}");
    assert!(
        out.contains("\"Location\": \"R\\u0026D \\u003clab\\u003e\""),
        "{out}"
    );
    assert_eq!(pingtimes(&out)[0]["DestUrl"], odd.as_str());
}

#[test]
fn ipv6_remote_addresses_are_bracketed_as_go_prints_them() {
    let t = Target::http_on("[::1]:0");
    let (code, out, err) = run_env(
        &["-n", "1", "-d", "0", &t.url("/page?size=1234")],
        &[("REP_LOCATION", "Paris,FR")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(rows(&out)[0].remote, "[::1]");
    assert_eq!(shape(&out), shape(&go_fixture("ipv6.out")));
}

#[test]
fn jsonl_rows_have_every_field() {
    let t = Target::http();
    let url = t.url("/page?size=42");
    let (code, out, _) = run(&["-n", "2", "-d", "0", "--jsonl", &url]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "two samples and a summary, one JSON object per line: {out}"
    );
    for (i, line) in lines[..2].iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
        assert_eq!(v["n"], i as u64 + 1);
        assert_eq!(v["http"], 200);
        assert_eq!(v["size"], 42);
        assert_eq!(v["url"], url.as_str());
        assert_eq!(v["remote_addr"], "127.0.0.1");
        assert!(v["error"].is_null());
        for k in ["timestamp", "dns", "tcp", "tls", "first", "lastb", "total"] {
            assert!(v[k].is_number(), "{k} in {line}");
        }
        let tcp = &v["tcp_info"];
        assert!(tcp["rtt"].as_f64().is_some_and(|ms| ms > 0.0), "{line}");
        assert!(tcp["cwnd"].as_u64().is_some_and(|n| n > 0), "{line}");
        for k in ["rttvar", "retransmits", "total_retrans", "lost", "pmtu"] {
            assert!(tcp[k].is_number(), "tcp_info.{k} in {line}");
        }
    }
    let s: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    // The vocabulary every summary shares (docs/schema/summary.json).
    assert_eq!(
        (&s["type"], &s["url"]),
        (&"summary".into(), &url.as_str().into())
    );
    assert_eq!((&s["count"], &s["ok"]), (&2.into(), &2.into()));
    assert_eq!(s["size"]["avg"], 42);
    let (code, _, err) = run(&["-n", "1", "-j", "--jsonl", &url]);
    assert_eq!(code, 2, "one JSON form or the other: {err}");
}

/// The Start of each sample, in seconds, from -j output.
fn starts(out: &str) -> Vec<f64> {
    pingtimes(out)
        .iter()
        .map(|p| rfc3339(p["Start"].as_str().unwrap()))
        .collect()
}

#[test]
fn the_delay_is_kept_by_the_clock_not_added_after_each_sample() {
    let t = Target::http();
    // Each sample takes 200 ms; with -d 0.3 they start at 0, 0.3 and 0.6. Waiting 0.3 s after
    // each sample would start them at 0, 0.5 and 1.0. Read from the samples' own start times,
    // so the process's start-up on a busy machine is not in the figure.
    let (code, out, _) = run(&["-n", "3", "-d", "0.3", "-j", &t.url("/page?ttfb=200")]);
    assert_eq!(code, 0);
    let s = starts(&out);
    assert_eq!(s.len(), 3);
    for (k, at) in s.iter().enumerate() {
        let offset = at - s[0];
        let due = k as f64 * 0.3;
        assert!(
            // The first sample may start a little after its tick (the first probe sets up).
            offset >= due - 0.05 && offset < due + 0.15,
            "sample {k} started {offset:.3} s after the first: {s:?}"
        );
    }
}

#[test]
fn several_urls_run_in_parallel() {
    let t = Target::http();
    let (code, out, _) = run(&[
        "-n",
        "1",
        "-d",
        "0",
        "-j",
        &t.url("/page?ttfb=400&a"),
        &t.url("/page?ttfb=400&b"),
        &t.url("/page?ttfb=400&c"),
    ]);
    assert_eq!(code, 0);
    let s = starts(&out);
    assert_eq!(s.len(), 3);
    assert_eq!(
        out.matches("Recorded 1 samples").count(),
        3,
        "a summary per URL"
    );
    // Each started before the others' 400 ms were over.
    let (first, last) = s
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    assert!(last - first < 0.4, "{s:?}");
}

fn stops_on(signal: &str) {
    let t = Target::http();
    let mut cmd = perftest();
    cmd.args(["-n", "0", "-d", "0.1", &t.url("/page?size=7")]);
    let mut running = Running::start(cmd);
    // Three rows printed: the loops are running and the signal handlers are in place.
    running.wait_for(3, |l| l.split('\t').count() == 12 && !l.starts_with('#'));
    running.signal(signal);
    let (code, stdout, _) = running.finish(Duration::from_secs(5));
    assert_eq!(code, Some(0), "{signal}");
    assert!(rows(&stdout).len() >= 3, "{stdout}");
    assert!(
        stdout.contains("average values:"),
        "summary printed on {signal}: {stdout}"
    );
    assert!(stdout.contains("\t\t7\t\t"), "{stdout}");
}

#[test]
fn sigint_ends_the_loops_and_prints_the_summaries() {
    stops_on("INT");
}

#[test]
fn sigterm_ends_the_loops_and_prints_the_summaries() {
    stops_on("TERM");
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let t = Target::http();
    let mut child = perftest()
        .args(["-n", "0", "-d", "0", &t.url("/page")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    for _ in 0..3 {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    drop(reader);
    let out = common::run_with_limit_child(child, Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panic") && !err.contains("Broken pipe"),
        "{err}"
    );
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    let (code, _, err) = run(&["-n", "1", "ftp://example.test/"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("ftp://example.test/") && err.contains("use http:// or https://"),
        "{err}"
    );

    let (code, _, err) = run(&[
        "-n",
        "1",
        "--cacert",
        "/nonexistent/ca.pem",
        "https://127.0.0.1:1/",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--cacert /nonexistent/ca.pem"), "{err}");

    let (code, _, err) = run(&["-n", "x", "http://127.0.0.1:1/"]);
    assert_eq!(code, 2);
    assert!(err.contains("'x'") && err.contains("-n"), "{err}");
}

#[test]
fn https_with_cacert_or_insecure() {
    let pki = TestPki::new(&["http/1.1"]);
    let t = Target::https(&pki);
    let ca = pki.ca_pem_path.to_str().unwrap();
    let cacert = format!("--cacert={ca}");
    // Our own flags in Go's forms as well as clap's.
    for args in [
        vec!["--cacert", ca],
        vec![cacert.as_str()],
        vec!["-cacert", ca],
        vec!["-k"],
        vec!["--insecure=true"],
        vec!["-insecure"],
        vec!["-k=1", "-k"],
    ] {
        let mut all = vec!["-n", "1", "-d", "0"];
        all.extend(args.iter().copied());
        let url = t.url("/page?size=9");
        all.push(&url);
        let (code, out, err) = run(&all);
        assert_eq!(code, 0, "{args:?}: {err}");
        let r = &rows(&out)[0];
        assert_eq!(r.http, "200", "{args:?}: {err}");
        assert!(r.times[2] > 0.0, "the TLS column is filled: {r:?}");
    }
    let (code, out, err) = run(&["-n", "1", "-d", "0", "-k=false", &t.url("/page")]);
    assert_eq!(code, 0);
    assert_eq!(rows(&out)[0].http, "500");
    assert!(
        err.contains("certificate not trusted"),
        "-k=false verifies: {err}"
    );
}

#[test]
fn help_shows_the_classic_usage_with_examples() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for s in [
        "perftest [flags] URL...",
        "-n <N>",
        "-d <S>",
        "PERFTEST_URL",
        "Examples:",
        "perftest -n 5 -d 2",
    ] {
        assert!(out.contains(s), "{s} in --help:\n{out}");
    }
}

#[test]
fn scripts_lists_the_bundled_scenarios() {
    let (code, out, _) = run(&["scripts"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.starts_with("default") && l.contains("classic")),
        "{out}"
    );
}
