//! One JSON vocabulary: every --jsonl line perftest prints, rows and summaries, from the
//! classic command line and the scenarios, checked against docs/schema/ as real output.

mod common;

use common::schema::{check_lines, errors, load};
use common::target::Target;
use common::{free_port, run};

#[test]
fn classic_and_monitor_rows_and_every_summary_match_the_schemas() {
    let t = Target::http();
    let (ok, dead) = (
        t.url("/page?size=100"),
        format!("http://127.0.0.1:{}/", free_port()),
    );

    let (code, out, err) = run(&["-q", "--jsonl", "-n", "2", "-d", "0", &ok, &dead]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(check_lines(&out), (4, 2), "{out}");
    assert!(out.contains(r#""error_kind":"connect""#) && out.contains(r#""tcp_info":{"#));

    let (code, out, err) = run(&[
        "run", "monitor", "--jsonl", "-n", "2", "-d", "0", &ok, &dead,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        check_lines(&out),
        (4, 2),
        "the monitor's stream is JSON lines only: {out}"
    );

    let (code, out, err) = run(&["run", "slo", "--jsonl", "-n", "3", &ok]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(check_lines(&out), (0, 1), "{out}");
    assert!(out.contains(r#""thresholds":[{"#), "{out}");

    let (code, out, err) = run(&["run", "load", "--jsonl", "-c", "2", "-n", "20", &ok]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(check_lines(&out), (0, 1), "{out}");
    assert!(out.contains(r#""dropped":0"#), "{out}");
}

#[test]
fn the_summaries_agree_on_names_and_units() {
    let t = Target::http();
    let url = t.url("/page?ttfb=20&size=300");
    let line = |args: &[&str]| -> serde_json::Value {
        let (code, out, err) = run(args);
        assert_eq!(code, 0, "{err}");
        let last = out
            .lines()
            .rev()
            .find(|l| l.contains(r#""type":"summary""#))
            .unwrap();
        serde_json::from_str(last).unwrap()
    };
    let classic = line(&["-q", "--jsonl", "-n", "2", "-d", "0", &url]);
    let slo = line(&["run", "slo", "--jsonl", "-n", "2", &url]);
    let load = line(&["run", "load", "--jsonl", "-c", "1", "-n", "2", &url]);
    let monitor = line(&["run", "monitor", "--jsonl", "-n", "2", "-d", "0", &url]);
    for s in [&classic, &slo, &load, &monitor] {
        assert_eq!(
            (s["url"].as_str(), s["count"].as_u64(), s["ok"].as_u64()),
            (Some(url.as_str()), Some(2), Some(2)),
            "{s}"
        );
        // The same unit everywhere: first is at least the target's 20 ms in ms, size in bytes.
        let first = s["first"]["avg"].as_f64().unwrap();
        assert!((20.0..2000.0).contains(&first), "first {first} ms: {s}");
        assert_eq!(s["size"]["avg"].as_f64(), Some(300.0), "{s}");
        assert!(
            s["elapsed"].as_f64().unwrap() < 60.0,
            "elapsed in seconds: {s}"
        );
    }
}

#[test]
fn the_validator_rejects_what_the_schemas_forbid() {
    let sample = load("sample");
    let good = serde_json::json!({
        "type": "sample", "n": 1, "timestamp": 1700000000, "dns": 0.0, "tcp": 0.1, "tls": 0.0,
        "first": 1.0, "lastb": 0.0, "total": 1.1, "http": 200, "status": 200, "size": 5,
        "from_location": "Paris,FR", "remote_addr": "127.0.0.1", "url": "http://a/",
        "error": null, "error_kind": null
    });
    assert_eq!(errors(&sample, &sample, &good, "$"), Vec::<String>::new());
    let mut bad = good.clone();
    bad["total"] = "1.1 ms".into();
    bad["size"] = serde_json::json!(5.5);
    bad["elapsed_s"] = 1.into();
    bad["error_kind"] = "nope".into();
    bad.as_object_mut().unwrap().remove("url");
    let errs = errors(&sample, &sample, &bad, "$");
    for want in [
        "$.total",
        "$.size",
        "$.elapsed_s",
        "$.error_kind",
        "url is missing",
    ] {
        assert!(errs.iter().any(|e| e.contains(want)), "{want} in {errs:#?}");
    }
}
