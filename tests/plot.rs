//! `perftest plot` on real rows (perftest --jsonl against a test target, two locations) and on
//! a real Prometheus (Debian's 2.42 on loopback, fed by perftest's remote write): the points it
//! draws are the percentiles the rows and the PromQL give, its PNG and SVG carry the lines,
//! the legend and the marks, and bad input is one line naming it.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::prometheus::Prometheus;
use common::target::Target;
use common::{free_port, perftest, run, run_with_limit, temp_dir, write_temp};

/// `perftest --jsonl -n N -d D URL` from `location`: its stdout.
fn rows(location: &str, n: u32, url: &str, extra: &[&str]) -> String {
    let mut cmd = perftest();
    cmd.args(["-q", "--jsonl", "-n", &n.to_string(), "-d", "0.1"])
        .args(extra)
        .arg(url)
        .env("REP_LOCATION", location);
    let out = run_with_limit(cmd, Duration::from_secs(120));
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// (location, t, value) from `plot`'s CSV, checking its header.
fn csv_points(csv: &str, header: &str) -> Vec<(String, f64, f64)> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(header), "{csv}");
    lines
        .map(|l| {
            // time,epoch_s,"Paris,FR",value: the location is quoted (it has a comma).
            let (head, rest) = l.split_once(",\"").unwrap_or_else(|| panic!("{l}"));
            let (name, value) = rest.split_once("\",").unwrap();
            let epoch = head.split(',').nth(1).unwrap().parse().unwrap();
            (name.to_string(), epoch, value.parse().unwrap())
        })
        .collect()
}

/// The nearest-rank percentile, as perftest's own.
fn nearest_rank(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64)
        .ceil()
        .clamp(1.0, v.len() as f64) as usize;
    v[rank - 1]
}

#[test]
fn rows_become_one_line_per_location_of_each_periods_percentile() {
    let t = Target::http();
    let fast = rows("Paris,FR", 12, &t.url("/page?ttfb=5"), &[]);
    let slow = rows("Sydney,AU", 12, &t.url("/page?ttfb=60"), &[]);
    // A summary line and a half-written last row are in the files as a killed run leaves them.
    let dir = temp_dir("plot");
    std::fs::write(dir.join("paris.jsonl"), &fast).unwrap();
    std::fs::write(
        dir.join("sydney.jsonl"),
        format!("{slow}{{\"n\":13,\"timest"),
    )
    .unwrap();

    // What the rows say, worked out here: the samples per (location, 10 s period).
    let mut want: BTreeMap<(String, i64), Vec<f64>> = BTreeMap::new();
    for line in fast.lines().chain(slow.lines()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v.get("timestamp").is_none() {
            continue;
        }
        let period = (v["timestamp"].as_f64().unwrap() / 10.0).floor() as i64 * 10;
        want.entry((v["from_location"].as_str().unwrap().to_string(), period))
            .or_default()
            .push(v["total"].as_f64().unwrap());
    }

    let csv = dir.join("p.csv");
    let (code, _, err) = run(&[
        "plot",
        "-P",
        "95",
        "--period",
        "10s",
        dir.join("paris.jsonl").to_str().unwrap(),
        dir.join("sydney.jsonl").to_str().unwrap(),
        "-o",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("skipped 1 lines that are not JSON"), "{err}");
    let got = csv_points(
        &std::fs::read_to_string(&csv).unwrap(),
        "time,epoch_s,line,Total (ms)",
    );
    assert_eq!(got.len(), want.len(), "{got:?} {want:?}");
    for (name, t, v) in &got {
        // Each point sits at its period's middle.
        let samples = want[&(name.clone(), *t as i64 - 5)].clone();
        assert_eq!(*v, nearest_rank(samples, 95.0), "{name} at {t}");
    }
    // The slow city's line sits above the fast one's at every period both have.
    let at = |who: &str| -> BTreeMap<i64, f64> {
        got.iter()
            .filter(|p| p.0 == who)
            .map(|p| (p.1 as i64, p.2))
            .collect()
    };
    let (paris, sydney) = (at("Paris,FR"), at("Sydney,AU"));
    assert!(!paris.is_empty() && !sydney.is_empty());
    assert!(sydney.values().all(|v| *v > 55.0), "{sydney:?}");
    assert!(paris.values().all(|v| *v < 55.0), "{paris:?}");

    // The same rows on stdin, CSV on stdout: the same points.
    let mut child = perftest()
        .args(["plot", "-q", "--period", "10", "-o", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{fast}{slow}").as_bytes()).unwrap();
    drop(stdin);
    let out = common::run_with_limit_child(child, Duration::from_secs(60));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(&csv).unwrap()
    );

    // Drawn: a PNG of the size asked for, with both lines' colours and the mark's grey in
    // it; an SVG with the legend's names, the mark's label and the lines.
    let first = got.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mark = format!("{first}=deploy");
    let png = dir.join("p.png");
    let svg = dir.join("p.svg");
    for out in [&png, &svg] {
        let (code, _, err) = run(&[
            "plot",
            "--period",
            "10s",
            "--size",
            "800x400",
            "--mark",
            &mark,
            dir.join("paris.jsonl").to_str().unwrap(),
            dir.join("sydney.jsonl").to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("2 lines"), "{err}");
    }
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (800, 400));
    let has = |rgb: [u8; 3]| pixels.chunks(3).filter(|p| *p == rgb).count();
    // The palette's first two colours (the legend lists the higher line first) and the
    // marks' grey.
    for (rgb, what) in [
        ([0x1f, 0x77, 0xb4], "first line"),
        ([0xff, 0x7f, 0x0e], "second line"),
        ([0x55, 0x55, 0x55], "mark"),
    ] {
        assert!(has(rgb) > 20, "no {what} in the PNG");
    }
    let svg = std::fs::read_to_string(&svg).unwrap();
    for text in [
        "Paris,FR",
        "Sydney,AU",
        "deploy",
        "Total (ms)",
        "time (UTC)",
    ] {
        assert!(svg.contains(text), "{text} missing from the SVG");
    }
    assert!(svg.matches("<polyline").count() >= 3, "{svg}");
    // Sydney, the slower, comes first in the legend.
    assert!(svg.find("Sydney,AU").unwrap() < svg.find("Paris,FR").unwrap());
}

#[test]
fn bad_input_is_one_line_naming_it() {
    let tsv = write_temp("plot", "rows.tsv", "1\t1764666000\t1.0\t2.0\n");
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["plot", "-o", "x.gif"],
            2,
            "-o x.gif: name a .png, .svg or .csv",
        ),
        (
            &["plot", tsv.to_str().unwrap(), "-o", "x.png"],
            1,
            "rows.tsv:1 is not JSON",
        ),
        (
            &["plot", "/nonexistent/rows.jsonl", "-o", "x.png"],
            1,
            "cannot read /nonexistent/rows.jsonl",
        ),
        (
            &["plot", "-P", "101", "-o", "x.png"],
            2,
            "percentile from 0 to 100",
        ),
        (
            &["plot", "--size", "10x10", "-o", "x.png"],
            2,
            "WIDTHxHEIGHT",
        ),
        (
            &[
                "plot",
                "--prometheus",
                "http://127.0.0.1:1",
                "--start",
                "yesterday",
                "-o",
                "x.png",
            ],
            2,
            "--start yesterday: give epoch seconds",
        ),
    ];
    for (args, code, text) in cases {
        let (c, out, err) = run(args);
        assert_eq!(c, *code, "{args:?}: {err}");
        assert!(err.contains(text), "{args:?}: {err}");
        // One line; clap's usage errors add their pointer to --help.
        let said = err
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with("For more information"));
        assert_eq!(said.count(), 1, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }

    // A mark that is not TIME=LABEL, over rows that exist.
    let t = Target::http();
    let oslo = write_temp(
        "plot",
        "rows.jsonl",
        rows("Oslo,NO", 2, &t.url("/page"), &[]),
    );
    let (c, _, err) = run(&[
        "plot",
        oslo.to_str().unwrap(),
        "--mark",
        "09:00",
        "-o",
        "x.png",
    ]);
    assert_eq!(c, 2, "{err}");
    assert!(
        err.contains("--mark 09:00: write a mark as TIME=LABEL"),
        "{err}"
    );
    // Every sample failed: nothing to draw, said so.
    let failed = write_temp(
        "plot",
        "failed.jsonl",
        rows(
            "Oslo,NO",
            2,
            &format!("http://127.0.0.1:{}/", free_port()),
            &["-f", "0"],
        ),
    );
    let (c, _, err) = run(&["plot", failed.to_str().unwrap(), "-o", "x.png"]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("all 2 samples failed"), "{err}");
    // Nothing listens where --prometheus points.
    let (c, _, err) = run(&[
        "plot",
        "--prometheus",
        &format!("http://127.0.0.1:{}", free_port()),
        "-o",
        "x.png",
    ]);
    assert_eq!(c, 1, "{err}");
    assert!(
        err.contains("cannot reach Prometheus at http://127.0.0.1:"),
        "{err}"
    );
}

#[test]
fn prometheus_lines_are_the_promql_answers_per_location() {
    let prom = Prometheus::start("global: { scrape_interval: 1m }\n");
    let t = Target::http();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        .floor()
        - 5.0;
    // Two cities pushing every second, one 50 ms slower than the other.
    let cities = [("Oslo,NO", "/page?ttfb=5"), ("Lima,PE", "/page?ttfb=55")];
    let children: Vec<_> = cities
        .iter()
        .map(|(loc, path)| {
            perftest()
                .args(["-q", "--jsonl", "-n", "60", "-d", "0.2", "--remote-write"])
                .arg(prom.write_url())
                .arg(t.url(path))
                .env("REP_LOCATION", loc)
                .env("PERFTEST_RW_INTERVAL", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // What each city printed: its samples' totals.
    let mut totals: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for child in children {
        let out = common::run_with_limit_child(child, Duration::from_secs(120));
        assert!(out.status.success(), "{out:?}");
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(total) = v.get("timestamp").and(v["total"].as_f64()) {
                totals
                    .entry(v["from_location"].as_str().unwrap().to_string())
                    .or_default()
                    .push(total);
            }
        }
    }
    assert!(totals.values().all(|t| t.len() == 60), "{totals:?}");
    // Every city's last push (at exit) is in.
    prom.wait_for(
        "sum by (location) (perftest_probes_total)",
        Duration::from_secs(60),
        |r| r.len() == 2 && r.iter().all(|(_, v)| *v == 60.0),
    );
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        .ceil()
        + 5.0;
    let dir = temp_dir("plot-prom");
    let csv = dir.join("p.csv");
    let base = format!("http://{}", prom.addr);
    let (code, _, err) = run(&[
        "plot",
        "--prometheus",
        &base,
        "--start",
        &start.to_string(),
        "--end",
        &end.to_string(),
        "--period",
        "2s",
        "-o",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let got = csv_points(
        &std::fs::read_to_string(&csv).unwrap(),
        "time,epoch_s,line,Total (ms)",
    );
    let promql = "histogram_quantile(0.95, sum by (le, location) (rate(perftest_phase_duration_seconds_bucket{phase=\"total\"}[60s])))";
    let names: std::collections::BTreeSet<&str> = got.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, ["Lima,PE", "Oslo,NO"].into());
    for (name, at, v) in &got {
        // What Prometheus answers at that moment, asked here.
        let answer = prom.query(promql, Some(*at));
        let theirs = answer
            .iter()
            .find(|(m, _)| m["location"] == name.as_str())
            .map(|(_, v)| v * 1000.0)
            .unwrap_or_else(|| panic!("{name} at {at}: {answer:?}"));
        assert!(
            (v - theirs).abs() <= 1e-9 * theirs,
            "{name} at {at}: {v} vs {theirs}"
        );
    }

    // A query of one's own, its lines named by another label: the median of every sample
    // pushed (the buckets' counts since the start), as Prometheus answers it at each point;
    // Lima's 50 ms farther than Oslo's. (How close histogram_quantile comes to perftest's own
    // percentiles is tests/prometheus.rs's question, over more samples.)
    let median = "histogram_quantile(0.5, sum by (le, instance) (perftest_phase_duration_seconds_bucket{phase=\"total\"}))";
    let (code, out, err) = run(&[
        "plot",
        "--prometheus",
        &base,
        "--query",
        median,
        "--label",
        "instance",
        "--start",
        &(end - 6.0).to_string(),
        "--end",
        &end.to_string(),
        "--period",
        "3",
        "-o",
        "-",
    ]);
    assert_eq!(code, 0, "{err}");
    let got = csv_points(&out, "time,epoch_s,line,ms");
    assert_eq!(got.len(), 2 * 3, "{out}");
    let mut at_end = BTreeMap::new();
    for (instance, at, v) in &got {
        let answer = prom.query(median, Some(*at));
        let theirs = answer
            .iter()
            .find(|(m, _)| m["instance"] == instance.as_str())
            .map(|(_, v)| v * 1000.0)
            .unwrap_or_else(|| panic!("{instance} at {at}: {answer:?}"));
        assert!(
            (v - theirs).abs() <= 1e-9 * theirs,
            "{instance} at {at}: {v} vs {theirs}"
        );
        at_end.insert(instance.as_str(), *v);
    }
    assert!(at_end["Lima,PE"] > at_end["Oslo,NO"] + 30.0, "{at_end:?}");

    // Drawn from the same query, and a query Prometheus refuses is said in one line.
    let png = dir.join("p.png");
    let (code, _, err) = run(&[
        "plot",
        "--prometheus",
        &base,
        "--start",
        &start.to_string(),
        "--end",
        &end.to_string(),
        "-P",
        "10",
        "-P",
        "95",
        "-o",
        png.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("4 lines"), "{err}");
    let (code, _, err) = run(&[
        "plot",
        "--prometheus",
        &base,
        "--query",
        "sum(",
        "-o",
        png.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("refused the query (sum(): "), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
