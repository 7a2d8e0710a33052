//! Publishing end to end against real local receivers: moto's server as CloudWatch (read back
//! with the SDK), HTTP receivers for webhooks, Twilio and Slack, a command, and /metrics parsed
//! as Prometheus text. Includes the faults: CloudWatch gone mid-run, SIGTERM, a failing webhook.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::moto::Moto;
use common::receiver::Receiver;
use common::target::Target;
use common::{perftest, run_env, temp_dir};

/// The rows of the classic TSV output: (status, total ms).
fn rows(stdout: &str) -> Vec<(String, f64)> {
    stdout
        .lines()
        .filter_map(|l| {
            let (n, rest) = l.split_once(' ')?;
            n.parse::<u64>().ok()?;
            let f: Vec<&str> = rest.split('\t').collect();
            (f.len() == 12).then(|| (f[7].to_string(), f[6].parse().unwrap()))
        })
        .collect()
}

fn env_of<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// perftest with `args`, publishing to `moto` every `interval` seconds from Oslo, output piped.
fn publishing(moto: &Moto, args: &[&str], interval: &str) -> std::process::Command {
    let mut cmd = perftest();
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .envs(moto.env())
        .env("PERFTEST_CW_INTERVAL", interval)
        .env("REP_LOCATION", "Oslo,NO");
    cmd
}

#[test]
fn dash_c_publishes_every_sample_with_the_classic_names() {
    let moto = Moto::start();
    let t = Target::http();
    let url = t.url("/page?ttfb=5");
    let mut env = moto.env();
    env.push(("REP_LOCATION", "Paris,FR".into()));
    let (code, out, err) = run_env(&["-n", "5", "-d", "0", "-c", &url], &env_of(&env));
    assert_eq!(code, 0, "{err}");
    let rows = rows(&out);
    assert_eq!(rows.len(), 5);

    let metrics = moto.metrics("Http Perf Demo");
    let dims = vec![
        ("FromLocation".to_string(), "Paris,FR".to_string()),
        ("HTTP Resp Code".to_string(), "200".to_string()),
        ("TestUrl".to_string(), url.clone()),
    ];
    assert_eq!(
        metrics,
        vec![("RespTime".to_string(), dims)],
        "the classic namespace, metric and dimensions"
    );
    let (n, sum, min, max) = moto.statistics(
        "Http Perf Demo",
        "RespTime",
        &[
            ("TestUrl", &url),
            ("HTTP Resp Code", "200"),
            ("FromLocation", "Paris,FR"),
        ],
    );
    assert_eq!(n, 5.0, "every sample");
    let expected: f64 = rows.iter().map(|(_, t)| t).sum();
    assert!(
        (sum - expected).abs() < 0.01,
        "the values are the Totals printed: {sum} vs {expected}"
    );
    let lo = rows.iter().map(|(_, t)| *t).fold(f64::INFINITY, f64::min);
    let hi = rows.iter().map(|(_, t)| *t).fold(0.0, f64::max);
    assert!(
        (min - lo).abs() < 0.001 && (max - hi).abs() < 0.001,
        "{min} {max} vs {lo} {hi}"
    );
}

#[test]
fn a_scenario_chooses_namespace_metrics_dimensions_and_resolution() {
    let moto = Moto::start();
    let t = Target::http();
    let port = common::free_port();
    let script = common::write_temp(
        "cw",
        "publish.lua",
        format!(
            r#"
local cw = perftest.cloudwatch {{
  namespace = "Shop/Checkout", metrics = "phases", resolution = 1, interval = 0.2,
  dimensions = function(r) return {{ Service = "api", Code = tostring(r.status) }} end,
}}
for i = 1, 4 do cw:add(perftest.probe("{}")) end
cw:add(perftest.probe("http://127.0.0.1:{port}/"))
cw:put("Custom", 7, {{ unit = "Count", dimensions = {{ Service = "api" }} }})
"#,
            t.url("/page?ttfb=20")
        ),
    );
    let (code, _, err) = run_env(
        &["-v", "run", script.to_str().unwrap()],
        &env_of(&moto.env()),
    );
    assert_eq!(code, 0, "{err}");
    let names: Vec<String> = moto
        .metrics("Shop/Checkout")
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    for m in [
        "DNS", "TCP", "TLS", "First", "LastB", "Total", "Errors", "Custom",
    ] {
        assert!(names.contains(&m.to_string()), "{m} in {names:?}\n{err}");
    }
    let (n, sum, _, _) = moto.statistics(
        "Shop/Checkout",
        "First",
        &[("Service", "api"), ("Code", "200")],
    );
    assert_eq!(n, 4.0);
    assert!(sum >= 80.0, "four first bytes held 20 ms each: {sum}");
    let (_, errors_ok, _, _) = moto.statistics(
        "Shop/Checkout",
        "Errors",
        &[("Service", "api"), ("Code", "200")],
    );
    let (n_failed, errors_failed, _, _) = moto.statistics(
        "Shop/Checkout",
        "Errors",
        &[("Service", "api"), ("Code", "0")],
    );
    assert_eq!((errors_ok, n_failed, errors_failed), (0.0, 1.0, 1.0));
    assert_eq!(
        moto.statistics("Shop/Checkout", "Custom", &[("Service", "api")])
            .1,
        7.0
    );
}

#[test]
fn cloudwatch_going_away_mid_run_loses_nothing() {
    let mut moto = Moto::start();
    let t = Target::http();
    let url = t.url("/page");
    // The publisher sends every second; CloudWatch disappears before the first send and comes
    // back 2.5 s later, while samples keep coming.
    let mut child = publishing(&moto, &["-n", "40", "-d", "0.1", "-c", &url], "1")
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut header = String::new();
    stdout.read_line(&mut header).unwrap();
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    moto.stop();
    // Down for 2.5 s: its port refuses connections meanwhile.
    std::thread::sleep(Duration::from_millis(2500));
    moto.restart();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let out = common::run_with_limit_child(child, Duration::from_secs(30));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let rows = rows(&format!("{first}{rest}"));
    assert_eq!(rows.len(), 40);
    let (n, ..) = moto.statistics(
        "Http Perf Demo",
        "RespTime",
        &[
            ("TestUrl", &url),
            ("HTTP Resp Code", "200"),
            ("FromLocation", "Oslo,NO"),
        ],
    );
    assert_eq!(
        n, 40.0,
        "every sample arrived once CloudWatch was back\n{err}"
    );
    assert!(!err.contains("could not be sent"), "{err}");
}

#[test]
fn sigterm_flushes_what_is_buffered() {
    let moto = Moto::start();
    let t = Target::http();
    let url = t.url("/page");
    // Sends would wait a minute: only the flush at SIGTERM can deliver them.
    let mut running = common::Running::start(publishing(
        &moto,
        &["-n", "0", "-d", "0.1", "-c", &url],
        "60",
    ));
    running.wait_for(5, |l| l.split('\t').count() == 12 && !l.starts_with('#'));
    running.signal("TERM");
    let (code, stdout, _) = running.finish(Duration::from_secs(20));
    assert_eq!(code, Some(0));
    let rows = rows(&stdout);
    assert!(rows.len() >= 5, "{stdout}");
    let (n, ..) = moto.statistics(
        "Http Perf Demo",
        "RespTime",
        &[
            ("TestUrl", &url),
            ("HTTP Resp Code", "200"),
            ("FromLocation", "Oslo,NO"),
        ],
    );
    assert_eq!(n as usize, rows.len(), "every sample printed was published");
}

#[test]
fn without_aws_settings_the_run_goes_on_and_says_why() {
    let t = Target::http();
    let (code, out, err) = run_env(
        &["-n", "2", "-d", "0", "-c", &t.url("/page")],
        &[
            ("AWS_REGION", ""),
            ("AWS_DEFAULT_REGION", ""),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent"),
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(rows(&out).len(), 2);
    assert!(
        err.contains("perftest: CloudWatch: no AWS region: set AWS_REGION"),
        "{err}"
    );
}

/// The keys of a JSON object's top level, in the order they appear in `text`.
fn keys_in_order(text: &str) -> Vec<String> {
    let (mut keys, mut depth, mut current, mut in_string, mut escaped) =
        (Vec::new(), 0, String::new(), false, false);
    let mut last_string = None;
    for c in text.chars() {
        if in_string {
            match c {
                _ if escaped => {
                    escaped = false;
                    current.push(c)
                }
                '\\' => escaped = true,
                '"' => {
                    in_string = false;
                    last_string = Some(std::mem::take(&mut current));
                }
                _ => current.push(c),
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ':' if depth == 1 => keys.extend(last_string.take()),
            _ if !c.is_whitespace() => last_string = None,
            _ => {}
        }
    }
    keys
}

/// What the Go tool POSTed to its webhook (tests/fixtures/go/webhook.posted), one per line.
fn go_posted() -> Vec<String> {
    let path = format!(
        "{}/tests/fixtures/go/webhook.posted",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_webhook_receives_every_sample_as_the_go_tools_json() {
    let hook = Receiver::start();
    let t = Target::http();
    let url = t.url("/page?size=33");
    // -W wins over HTTP_JSON_WEBHOOK; the environment alone works too.
    for (args, env) in [
        (
            vec!["-n", "3", "-d", "0", "-W"],
            vec![("HTTP_JSON_WEBHOOK", "http://127.0.0.1:1/never")],
        ),
        (vec!["-n", "3", "-d", "0"], vec![]),
    ] {
        let before = hook.requests().len();
        let mut all = args.clone();
        let target = hook.url("/hook");
        if all.last() == Some(&"-W") {
            all.push(&target);
        }
        all.push(&url);
        let mut env = env.clone();
        if env.is_empty() {
            env.push(("HTTP_JSON_WEBHOOK", target.as_str()));
        }
        let (code, _, err) = run_env(&all, &env);
        assert_eq!(code, 0, "{err}");
        let got = hook.wait_for(before + 3, Duration::from_secs(5));
        assert_eq!(got.len(), before + 3, "{err}");
        for (i, req) in got[before..].iter().enumerate() {
            assert_eq!(req.method, "POST");
            assert_eq!(req.path, "/hook");
            assert_eq!(req.header("content-type"), Some("application/json"));
            // The Go tool's body: its PingTimes compact, key for key in its order.
            let body = String::from_utf8(req.body.clone()).unwrap();
            let go = &go_posted()[i.min(1)];
            assert!(
                !body.contains('\n') && !body.contains(": "),
                "compact: {body}"
            );
            assert_eq!(keys_in_order(&body), keys_in_order(go), "{body}");
            let (v, g): (serde_json::Value, serde_json::Value) = (
                serde_json::from_str(&body).unwrap(),
                serde_json::from_str(go).unwrap(),
            );
            for (k, gv) in g.as_object().unwrap() {
                let same_type = std::mem::discriminant(&v[k]) == std::mem::discriminant(gv);
                assert!(same_type, "{k}: {} against Go's {gv}", v[k]);
            }
            assert_eq!(v["RespCode"], 200);
            assert_eq!(v["Size"], 33);
            assert_eq!(v["DestUrl"], url.as_str());
            assert!(v["Total"].as_u64().unwrap() > 0);
            assert!(v["Start"].as_str().unwrap().contains('T'));
        }
    }
}

#[test]
fn an_https_webhook_is_verified_as_the_probes_are() {
    // A receiver whose certificate is self-signed with CA:TRUE, as `openssl req -x509` makes.
    let pki = common::tls::TestPki::self_signed(&["localhost"]);
    let hook = Receiver::https(pki.server_config.clone());
    let t = Target::http();
    let (url, target) = (t.url("/page?size=5"), hook.url("/hook"));
    let ca = pki.ca_pem_path.to_str().unwrap();
    for flags in [vec!["--cacert", ca], vec!["-k"]] {
        let before = hook.requests().len();
        let mut args = vec!["-n", "2", "-d", "0", "-W", &target];
        args.extend(flags.iter().copied());
        args.push(&url);
        let (code, out, err) = run_env(&args, &[("PERFTEST_FLUSH_SECONDS", "5")]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(rows(&out).len(), 2);
        assert!(!err.contains("could not be delivered"), "{flags:?}: {err}");
        let got = hook.wait_for(before + 2, Duration::from_secs(5));
        assert_eq!(got.len(), before + 2, "{flags:?}: {err}");
    }
    // The system's store alone (here SSL_CERT_FILE) does not take a CA as the server's own
    // certificate: the loss is reported, the samples still print.
    let before = hook.requests().len();
    let (code, out, err) = run_env(
        &["-n", "2", "-d", "0", "-W", &target, &url],
        &[("PERFTEST_FLUSH_SECONDS", "1"), ("SSL_CERT_FILE", ca)],
    );
    assert_eq!(code, 0);
    assert_eq!(rows(&out).len(), 2);
    assert!(err.contains("2 of 2 posts could not be delivered"), "{err}");
    assert_eq!(hook.requests().len(), before);
}

#[test]
fn a_failing_webhook_is_retried_and_what_it_drops_is_counted() {
    let hook = Receiver::start();
    hook.fail_next(2);
    let t = Target::http();
    let (code, _, err) = run_env(
        &["-n", "2", "-d", "0", "-W", &hook.url("/h"), &t.url("/page")],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        hook.wait_for(2, Duration::from_secs(5)).len(),
        2,
        "503s are retried: {err}"
    );

    // Nobody listening: the samples still print on time, the loss is reported.
    let dead = format!("http://127.0.0.1:{}/h", common::free_port());
    let started = Instant::now();
    let (code, out, err) = run_env(
        &["-n", "3", "-d", "0", "-W", &dead, &t.url("/page")],
        &[("PERFTEST_FLUSH_SECONDS", "1")],
    );
    assert_eq!(code, 0);
    assert_eq!(rows(&out).len(), 3);
    assert!(
        err.contains("webhook http://127.0.0.1/…: 3 of 3 posts could not be delivered"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_slow_sample_sends_one_sms_per_receiver_per_interval_and_no_secret_shows() {
    let twilio = Receiver::start();
    let t = Target::http();
    let api = twilio.url("");
    let env = [
        ("TWILIO_ACCOUNT_SID", "ACtest123"),
        ("TWILIO_AUTH_TOKEN", "s3cret-t0ken"),
        ("TWILIO_SMS_RECEIVERS", "+15550001 +15550002"),
        ("TWILIO_FROM", "+15559999"),
        ("TWILIO_API_URL", api.as_str()),
    ];
    let (code, out, err) = run_env(
        &[
            "-V",
            "-n",
            "4",
            "-d",
            "0",
            "-A",
            "2",
            "-M",
            "300",
            &t.url("/page?ttfb=10"),
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let got = twilio.wait_for(2, Duration::from_secs(5));
    assert_eq!(
        got.len(),
        2,
        "one alert in the interval, to each receiver: {got:?}"
    );
    let auth = format!("Basic {}", base64_of("ACtest123:s3cret-t0ken"));
    let mut to = Vec::new();
    for req in &got {
        assert_eq!(req.path, "/2010-04-01/Accounts/ACtest123/Messages.json");
        assert_eq!(req.header("authorization"), Some(auth.as_str()));
        let form: Vec<(String, String)> = form_urlencoded::parse(&req.body).into_owned().collect();
        let field = |k: &str| {
            form.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(field("From"), "+15559999");
        assert!(
            field("Body").starts_with("RespTime ") && field("Body").contains("exceeds 2ms"),
            "{form:?}"
        );
        to.push(field("To"));
    }
    to.sort();
    assert_eq!(to, vec!["+15550001", "+15550002"]);
    assert!(
        !out.contains("s3cret") && !err.contains("s3cret"),
        "the token never shows, even with -V"
    );
    assert!(err.contains("ALERT RespTime"), "{err}");
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn alert_rules_trigger_and_resolve_through_slack_a_webhook_and_a_command() {
    let slack = Receiver::start();
    let hook = Receiver::start();
    let t = Target::http();
    let dir = temp_dir("alerts");
    let log = dir.join("alerts.log");
    let script = dir.join("alerts.lua");
    std::fs::write(
        &script,
        format!(
            r#"
local slack = perftest.channel {{ type = "slack", url = "{slack}" }}
local hook = perftest.channel {{ type = "webhook", url = "{hook}",
  template = '{{"rule": "{{{{rule}}}}", "state": "{{{{state}}}}", "status": {{{{status}}}}, "text": "{{{{message}}}}"}}' }}
local cmd = perftest.channel {{ type = "command", command = 'echo "$PERFTEST_ALERT_STATE $PERFTEST_ALERT_RULE" >> {log}' }}
local rule = perftest.alert {{ name = "slow", when = "total > 40 or error", failure_threshold = 2,
  success_threshold = 1, channels = {{ slack, hook, cmd }} }}
local states = {{}}
for _, u in ipairs {{ "{slow}", "{slow}", "{slow}", "{fast}" }} do
  states[#states + 1] = tostring(rule:observe(perftest.probe(u)))
end
print(table.concat(states, " "))
"#,
            slack = slack.url("/services/T0/B0/SECRETPATH"),
            hook = hook.url("/alerts"),
            log = log.display(),
            slow = t.url("/page?ttfb=60"),
            fast = t.url("/page"),
        ),
    )
    .unwrap();
    let (code, out, err) = run_env(&["run", script.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "nil TRIGGERED nil RESOLVED\n");
    let s = slack.wait_for(2, Duration::from_secs(5));
    let texts: Vec<String> = s
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        texts[0].starts_with("[TRIGGERED] slow: ") && texts[1].starts_with("[RESOLVED] slow: "),
        "{texts:?}"
    );
    let h = hook.wait_for(2, Duration::from_secs(5));
    let v: serde_json::Value = serde_json::from_slice(&h[0].body).expect("the template makes JSON");
    assert_eq!(
        (
            v["rule"].as_str(),
            v["state"].as_str(),
            v["status"].as_u64()
        ),
        (Some("slow"), Some("TRIGGERED"), Some(200))
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "TRIGGERED slow\nRESOLVED slow\n"
    );
    assert!(
        !err.contains("SECRETPATH"),
        "a webhook's path is a secret: {err}"
    );
}

#[test]
fn the_web_server_serves_metrics_memstats_and_health() {
    let t = Target::http();
    let url = t.url("/page?secret=1&ttfb=2");
    let mut child = perftest()
        .args([
            "-n",
            "0",
            "-d",
            "0.05",
            "-f",
            "1000",
            "--listen",
            "127.0.0.1:0",
            &url,
            "http://127.0.0.1:1/",
        ])
        .env("REP_LOCATION", "Lyon,FR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = common::KillOnDrop(child.id());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let port = common::announced_port(&mut stderr, "perftest: ");
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    // Until three samples of the target that answers are in: no fixed sleep racing the probes.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, text) = common::http(port, "GET", "/metrics", "*/*");
        let done = common::prom::parse(&text).iter().any(|s| {
            s.name == "perftest_phase_duration_seconds_count"
                && s.labels.get("phase").map(String::as_str) == Some("total")
                && s.value >= 3.0
        });
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "three samples in 20 s: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }

    assert_eq!(
        common::http(port, "GET", "/healthz", "*/*"),
        (200, "ok\n".to_string())
    );
    let (status, text) = common::http(port, "GET", "/metrics", "*/*");
    assert_eq!(status, 200);
    let samples = common::prom::parse(&text);
    let target = t.url("/page");
    let find = |name: &str, labels: &[(&str, &str)]| -> Vec<&common::prom::Sample> {
        samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    };
    let total = find(
        "perftest_phase_duration_seconds_count",
        &[("phase", "total")],
    );
    assert_eq!(
        total.len(),
        1,
        "one series for the one target that answered: {text}"
    );
    assert_eq!(
        total[0].labels.get("target"),
        Some(&target),
        "no query string in a label"
    );
    assert_eq!(
        total[0].labels.get("location").map(String::as_str),
        Some("Lyon,FR")
    );
    let observed = total[0].value;
    assert!(observed >= 3.0, "{observed}");
    let inf = find(
        "perftest_phase_duration_seconds_bucket",
        &[("phase", "total"), ("le", "+Inf")],
    );
    assert_eq!(
        inf[0].value, observed,
        "the +Inf bucket holds every observation"
    );
    let ok = find(
        "perftest_probes_total",
        &[("result", "ok"), ("target", target.as_str())],
    );
    assert!(ok[0].value >= observed);
    assert_eq!(
        find("perftest_probe_errors_total", &[("kind", "connect")]).len(),
        1
    );
    assert_eq!(
        find("perftest_responses_total", &[("code", "2xx")]).len(),
        1
    );
    assert!(find("process_resident_memory_bytes", &[])[0].value > 1e6);
    assert!(find("process_cpu_seconds_total", &[])[0].value > 0.0);
    for s in &samples {
        for v in s.labels.values() {
            assert!(
                !v.contains('?') && !v.starts_with("127.0.0.1") && v != "::1",
                "no query strings or addresses in labels: {s:?}"
            );
        }
    }

    let (status, json) = common::http(port, "GET", "/memstats", "application/json");
    assert_eq!(status, 200);
    let m: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(m["process"]["rss_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(
        m["process"]["peak_rss_bytes"].as_u64().unwrap()
            >= m["process"]["rss_bytes"].as_u64().unwrap()
    );
    assert!(m["probes_done"].as_u64().unwrap() >= 3);
    assert!(m["lua_bytes"].as_u64().unwrap() > 0);
    // A few samples per URL: exact values yet, no histogram.
    assert!(m["stats_histogram_bytes"].is_u64(), "{m}");
    assert_eq!(m["tasks_alive"], 2, "one loop per URL");
    let (status, html) = common::http(port, "GET", "/memstats", "text/html");
    assert_eq!(status, 200);
    assert!(
        html.contains("Resident memory")
            && html.contains("Lua heap")
            && html.contains("Statistics histograms"),
        "{html}"
    );
    assert_eq!(common::http(port, "POST", "/metrics", "*/*").0, 405);
    assert_eq!(common::http(port, "GET", "/nope", "*/*").0, 404);

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = common::run_with_limit_child(child, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn bad_publishing_settings_are_one_line_errors() {
    let t = Target::http();
    let (code, _, err) = run_env(&["-n", "1", "-W", "ftp://x/hook", &t.url("/page")], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("webhook URL 'ftp://x/…': use http:// or https://"),
        "{err}"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err) = run_env(&["-n", "1", "--listen", &addr, &t.url("/page")], &[]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    let (code, out, err) = run_env(
        &["-n", "1", "-A", "1", &t.url("/page")],
        &[("TWILIO_ACCOUNT_SID", ""), ("TWILIO_AUTH_TOKEN", "")],
    );
    assert_eq!(code, 0);
    assert_eq!(rows(&out).len(), 1);
    assert!(
        err.contains(
            "alerts are printed here only: perftest.channel: twilio needs TWILIO_ACCOUNT_SID"
        ),
        "{err}"
    );
    // The Go tool announces no alerting when -A is given; the classic line does not either.
    assert!(!err.contains("alerting when"), "{err}");
}
