//! The classic command line, run as a user runs it: output format byte for byte, environment,
//! failures, schedule, signals and pipes.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::dns::DnsServer;
use common::target::Target;
use common::tls::TestPki;
use common::{perftest, run, run_env};

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

#[test]
fn output_has_the_classic_header_rows_and_summary() {
    let t = Target::http();
    let url = t.url("/page?ttfb=20&size=1234");
    let (code, out, _) = run_env(
        &["-n", "3", "-d", "0", &url],
        &[("REP_LOCATION", "Paris,FR")],
    );
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.split('\n').collect();
    assert_eq!(lines[0], HEADER);
    let rows: Vec<Row> = lines[1..4].iter().map(|l| parse_row(l)).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.n, i as u64 + 1);
        assert!(
            r.timestamp <= now && r.timestamp + 30 > now,
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
    assert_eq!(lines[5], "Recorded 3 samples in 0s, average values:");
    assert_eq!(lines[6], HEADER);
    let summary = lines[7];
    assert!(
        summary.starts_with("3 0s    \t"),
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
}

#[test]
fn flags_take_the_go_forms_and_location_falls_back_to_city_and_country() {
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

#[test]
fn a_bad_environment_value_is_named_and_the_flag_used() {
    let t = Target::http();
    let (code, out, err) = run_env(
        &["-n", "1", "-d", "0", &t.url("/page")],
        &[("PERFTEST_DELAY", "abc")],
    );
    assert_eq!(code, 0);
    assert_eq!(rows(&out).len(), 1);
    assert!(
        err.contains(
            "PERFTEST_DELAY=abc is not a number of seconds from 0 to 1e9; using -d 0 instead"
        ),
        "{err}"
    );
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
        let (code, out, err) = run(&[
            "-n",
            "2",
            "-d",
            "0",
            "--timeout",
            "0.3",
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
fn failures_stop_a_loop_after_f() {
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let (code, out, err) = run(&["-n", "10", "-d", "0", "-f", "3", &url]);
    assert_eq!(code, 0);
    assert_eq!(rows(&out).len(), 3);
    assert!(
        err.contains(&format!("fetch failure 3 of 3 on {url}")),
        "{err}"
    );
}

#[test]
fn averages_count_only_successful_samples() {
    let t = Target::http();
    let port = common::free_port();
    // One URL that fails, one that works: each keeps its own count and summary.
    let good = t.url("/page?size=100");
    let bad = format!("http://127.0.0.1:{port}/");
    let (_, out, _) = run(&["-n", "2", "-d", "0", &good, &bad]);
    assert!(
        out.contains("Recorded 2 samples in 0s, average values:"),
        "{out}"
    );
    assert!(out.contains(&format!("\t\t100\t\t{good}\n")), "{out}");
    assert!(out.contains("No valid samples received"), "{out}");
}

#[test]
fn json_rows_have_every_field() {
    let t = Target::http();
    let url = t.url("/page?size=42");
    let (code, out, _) = run(&["-n", "2", "-d", "0", "-j", &url]);
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
    }
    let s: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(s["summary"], url.as_str());
    assert_eq!(s["ok"], 2);
    assert_eq!(s["size"], 42);
}

#[test]
fn the_delay_is_kept_by_the_clock_not_added_after_each_sample() {
    let t = Target::http();
    // Each sample takes 200 ms; with -d 0.3 they start at 0, 0.3, 0.6 and the run ends at
    // about 0.8 s. Waiting 0.3 s after each sample would take 1.2 s.
    let start = Instant::now();
    let (code, out, _) = run(&["-n", "3", "-d", "0.3", &t.url("/page?ttfb=200")]);
    let took = start.elapsed();
    assert_eq!(code, 0);
    assert_eq!(rows(&out).len(), 3);
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(
        took < Duration::from_millis(1100),
        "the schedule did not drift: {took:?}"
    );
}

#[test]
fn several_urls_run_in_parallel() {
    let t = Target::http();
    let start = Instant::now();
    let (code, out, _) = run(&[
        "-n",
        "1",
        "-d",
        "0",
        &t.url("/page?ttfb=400&a"),
        &t.url("/page?ttfb=400&b"),
        &t.url("/page?ttfb=400&c"),
    ]);
    assert_eq!(code, 0);
    assert_eq!(rows(&out).len(), 3);
    assert_eq!(
        out.matches("Recorded 1 samples").count(),
        3,
        "a summary per URL"
    );
    assert!(
        start.elapsed() < Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );
}

fn stops_on(signal: &str) {
    let t = Target::http();
    let mut cmd = perftest();
    cmd.args(["-n", "0", "-d", "0.1", &t.url("/page?size=7")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    let out = common::run_with_limit_child(child, Duration::from_secs(5));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{signal}");
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
    let (code, _, err) = run(&["-n", "1"]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "perftest: no URLs to test: give one or more URLs, or set PERFTEST_URL (see perftest --help)"
    );

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
    for args in [vec!["--cacert", ca], vec!["-k"]] {
        let mut all = vec!["-n", "1", "-d", "0"];
        all.extend(args.iter().copied());
        let url = t.url("/page?size=9");
        all.push(&url);
        let (code, out, err) = run(&all);
        assert_eq!(code, 0, "{err}");
        let r = &rows(&out)[0];
        assert_eq!(r.http, "200", "{err}");
        assert!(r.times[2] > 0.0, "the TLS column is filled: {r:?}");
    }
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
