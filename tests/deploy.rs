//! What deploy/ ships, checked by the tools that will read it: the Prometheus rules by
//! promtool (syntax and unit tests with input series), the Alertmanager route by amtool, and
//! the CloudWatch dashboard and alarm put into moto and read back, their metrics matched
//! against what perftest really publishes.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::moto::Moto;
use common::prometheus::binary;
use common::{perftest, run_env};

fn deploy(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(dir)
}

/// Runs a tool in deploy/prometheus; fails with its output unless it succeeds.
fn check(tool: &str, args: &[&str]) -> String {
    let out = Command::new(binary(tool))
        .args(args)
        .current_dir(deploy("prometheus"))
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{tool} {args:?}:\n{text}");
    text
}

#[test]
fn the_prometheus_rules_pass_promtool_and_their_unit_tests() {
    let text = check("promtool", &["check", "rules", "perftest.rules.yml"]);
    assert!(text.contains("SUCCESS: 9 rules found"), "{text}");
    let text = check("promtool", &["test", "rules", "perftest.rules.test.yml"]);
    assert!(text.contains("SUCCESS"), "{text}");
    check("promtool", &["check", "config", "prometheus.yml"]);
    let text = check("amtool", &["check-config", "alertmanager.yml"]);
    assert!(text.contains("1 inhibit rules"), "{text}");
}

fn env_of<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn the_cloudwatch_dashboard_and_alarm_go_into_moto_and_match_what_perftest_publishes() {
    use aws_sdk_cloudwatch::types::{
        ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricStat,
    };
    let moto = Moto::start();
    // Two cities publish: one whose target answers, one whose target refuses (code 500).
    let up = common::target::Target::http();
    let url_up = up.url("/page");
    let url_down = format!("http://127.0.0.1:{}/", common::free_port());
    for (city, url) in [("Oslo,NO", &url_up), ("Perth,AU", &url_down)] {
        let mut env = moto.env();
        env.push(("REP_LOCATION", city.into()));
        let (code, _, err) = run_env(&["-n", "2", "-d", "0", "-c", url], &env_of(&env));
        assert_eq!(code, 0, "{err}");
    }
    let published = moto.metrics("Http Perf Demo");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = moto.client();

    // The dashboard: the seed's two graphs.
    let body = std::fs::read_to_string(deploy("cloudwatch").join("dashboard.json")).unwrap();
    let back: serde_json::Value = rt.block_on(async {
        client
            .put_dashboard()
            .dashboard_name("perftest")
            .dashboard_body(&body)
            .send()
            .await
            .expect("put_dashboard");
        let got = client
            .get_dashboard()
            .dashboard_name("perftest")
            .send()
            .await
            .expect("get_dashboard");
        serde_json::from_str(got.dashboard_body().unwrap()).unwrap()
    });
    let widgets = back["widgets"].as_array().unwrap();
    assert_eq!(widgets.len(), 2);
    for (w, stat) in widgets.iter().zip(["p95", "p10"]) {
        let p = &w["properties"];
        assert_eq!(p["stat"], stat);
        assert_eq!(p["period"], 300, "5-minute periods");
        assert_eq!(p["view"], "timeSeries");
        let e = p["metrics"][0][0]["expression"].as_str().unwrap();
        // One line per FromLocation: a search over the classic dimensions, code 200 only.
        assert!(
            e.starts_with(
                "SEARCH('{\"Http Perf Demo\",\"FromLocation\",\"HTTP Resp Code\",\"TestUrl\"}"
            ),
            "{e}"
        );
        assert!(
            e.contains("MetricName=\"RespTime\"") && e.contains("\"HTTP Resp Code\"=\"200\""),
            "{e}"
        );
        assert!(e.ends_with(&format!("'{stat}', 300)")), "{e}");
        assert_eq!(p["metrics"][0][0]["label"], "${PROP('Dim.FromLocation')}");
    }
    // Its search matches what Oslo published, and only the 200s.
    let dims_200: Vec<_> = published
        .iter()
        .filter(|(m, d)| {
            m == "RespTime" && d.iter().any(|(k, v)| k == "HTTP Resp Code" && v == "200")
        })
        .collect();
    assert_eq!(dims_200.len(), 1, "{published:?}");
    let names: Vec<&str> = dims_200[0].1.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["FromLocation", "HTTP Resp Code", "TestUrl"]);

    // The alarm, made by the bundled generator for the two cities.
    let out = perftest()
        .args([
            "run",
            deploy("cloudwatch")
                .join("failing-alarm.lua")
                .to_str()
                .unwrap(),
            "--url",
            &url_down,
            "--min",
            "2",
            "Oslo,NO",
            "Perth,AU",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alarm: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let queries: Vec<MetricDataQuery> = alarm["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let mut q = MetricDataQuery::builder()
                .id(m["Id"].as_str().unwrap())
                .label(m["Label"].as_str().unwrap())
                .return_data(m["ReturnData"].as_bool().unwrap());
            if let Some(e) = m["Expression"].as_str() {
                q = q.expression(e);
            } else {
                let s = &m["MetricStat"];
                let mut metric = Metric::builder()
                    .namespace(s["Metric"]["Namespace"].as_str().unwrap())
                    .metric_name(s["Metric"]["MetricName"].as_str().unwrap());
                for d in s["Metric"]["Dimensions"].as_array().unwrap() {
                    metric = metric.dimensions(
                        Dimension::builder()
                            .name(d["Name"].as_str().unwrap())
                            .value(d["Value"].as_str().unwrap())
                            .build(),
                    );
                }
                q = q.metric_stat(
                    MetricStat::builder()
                        .metric(metric.build())
                        .period(s["Period"].as_i64().unwrap() as i32)
                        .stat(s["Stat"].as_str().unwrap())
                        .build(),
                );
            }
            q.build()
        })
        .collect();
    let stored = rt.block_on(async {
        client
            .put_metric_alarm()
            .alarm_name(alarm["AlarmName"].as_str().unwrap())
            .alarm_description(alarm["AlarmDescription"].as_str().unwrap())
            .comparison_operator(ComparisonOperator::from(
                alarm["ComparisonOperator"].as_str().unwrap(),
            ))
            .threshold(alarm["Threshold"].as_f64().unwrap())
            .evaluation_periods(alarm["EvaluationPeriods"].as_i64().unwrap() as i32)
            .datapoints_to_alarm(alarm["DatapointsToAlarm"].as_i64().unwrap() as i32)
            .treat_missing_data(alarm["TreatMissingData"].as_str().unwrap())
            .set_metrics(Some(queries))
            .send()
            .await
            .expect("put_metric_alarm");
        client
            .describe_alarms()
            .alarm_names(alarm["AlarmName"].as_str().unwrap())
            .send()
            .await
            .expect("describe_alarms")
    });
    let a = &stored.metric_alarms()[0];
    assert_eq!(a.threshold(), Some(2.0));
    assert_eq!(
        a.comparison_operator(),
        Some(&ComparisonOperator::GreaterThanOrEqualToThreshold)
    );
    assert_eq!(a.evaluation_periods(), Some(2));
    let m = a.metrics();
    assert_eq!(m.len(), 3, "one metric per location and the expression");
    let watched: Vec<_> = m.iter().filter(|q| q.return_data() == Some(true)).collect();
    assert_eq!(watched.len(), 1);
    assert_eq!(
        watched[0].expression(),
        Some("(FILL(f1, 0) >= 3) + (FILL(f2, 0) >= 3)")
    );
    for q in m.iter().filter(|q| q.expression().is_none()) {
        let s = q.metric_stat().unwrap();
        assert_eq!((s.period(), s.stat()), (Some(300), Some("SampleCount")));
        let metric = s.metric().unwrap();
        assert_eq!(metric.namespace(), Some("Http Perf Demo"));
        assert_eq!(metric.metric_name(), Some("RespTime"));
    }
    // Perth's failures were published under exactly the dimensions its alarm metric reads.
    let perth = m
        .iter()
        .find(|q| q.label() == Some("Perth,AU"))
        .and_then(|q| q.metric_stat())
        .and_then(|s| s.metric())
        .unwrap();
    let mut want: Vec<(String, String)> = perth
        .dimensions()
        .iter()
        .map(|d| {
            (
                d.name().unwrap().to_string(),
                d.value().unwrap().to_string(),
            )
        })
        .collect();
    want.sort();
    assert!(
        published
            .iter()
            .any(|(name, d)| name == "RespTime" && *d == want),
        "{want:?} among {published:?}"
    );
    let (n, ..) = moto.statistics(
        "Http Perf Demo",
        "RespTime",
        &[
            ("TestUrl", &url_down),
            ("HTTP Resp Code", "500"),
            ("FromLocation", "Perth,AU"),
        ],
    );
    assert_eq!(n, 2.0, "both failed samples stored");
}
