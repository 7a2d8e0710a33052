//! What ships for containers and clusters. The image's entrypoint (`perftest container`) and
//! its HEALTHCHECK (`perftest healthcheck`), run as the image runs them; and deploy/kubernetes,
//! every city's overlay rendered by the machine's kubectl (kustomize v5) and by Debian's
//! kubectl 1.20 (kustomize v2, unpacked by tests/setup-deps.sh), each object validated by
//! kubernetes-validate against a named Kubernetes version, the ServiceMonitor (a CRD it does
//! not know) checked field by field. The image itself is built and run by deploy/check-image.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::moto::Moto;
use common::target::Target;
use common::{run, run_env};

/// The Kubernetes version every object is validated against (kubectl 1.32 on these machines).
const KUBERNETES: &str = "1.32.0";

/// AWS settings that find nothing and ask no metadata service.
const NO_AWS: [(&str, &str); 5] = [
    ("AWS_REGION", ""),
    ("AWS_DEFAULT_REGION", ""),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/nonexistent"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
];

fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| {
            l.split_once(' ')
                .is_some_and(|(n, _)| n.parse::<u64>().is_ok())
        })
        .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
        .filter(|f| f.len() == 12)
        .collect()
}

#[test]
fn the_image_entrypoint_runs_classic_flags_as_perftest_dash_c_dash_v() {
    let t = Target::http();
    let url = t.url("/page?size=9");
    let mut env: Vec<(&str, &str)> = NO_AWS.to_vec();
    env.extend([("PERFTEST_URL", url.as_str()), ("REP_LOCATION", "Quito,EC")]);
    let (code, out, err) = run_env(&["container", "-n=2", "-d=0"], &env);
    assert_eq!(code, 0, "{err}");
    let rows = rows(&out);
    assert_eq!(rows.len(), 2, "PERFTEST_URL probed twice: {out}");
    assert!(
        rows.iter().all(|r| r[7] == "200" && r[9] == "Quito,EC"),
        "{out}"
    );
    assert!(out.contains("Recorded 2 samples in"), "{out}");
    // -c without AWS settings: said once, and the probing goes on, as the Go image did.
    assert_eq!(
        err.matches("perftest: CloudWatch: no AWS region: set AWS_REGION")
            .count(),
        1,
        "{err}"
    );
    assert!(err.contains("; not publishing"), "{err}");
    // -v: each sample's protocol on stderr.
    assert_eq!(
        err.matches(&format!("{url}  HTTP/1.1 200")).count(),
        2,
        "{err}"
    );
}

#[test]
fn the_image_entrypoint_publishes_perftest_url_from_the_environment_alone() {
    let moto = Moto::start();
    let t = Target::http();
    let url = t.url("/page");
    let mut env: Vec<(&str, String)> = moto.env();
    env.extend([
        ("PERFTEST_URL", url.clone()),
        ("REP_CITY", "Sunnyvale".into()),
        ("REP_COUNTRY", "US".into()),
        ("PERFTEST_LIMIT", "3".into()),
        ("PERFTEST_DELAY", "0.1".into()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // No arguments at all: what `docker run IMAGE` runs.
    let (code, out, err) = run_env(&["container"], &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rows(&out).len(), 3, "{out}");
    let (n, ..) = moto.statistics(
        "Http Perf Demo",
        "RespTime",
        &[
            ("TestUrl", &url),
            ("HTTP Resp Code", "200"),
            ("FromLocation", "Sunnyvale,US"),
        ],
    );
    assert_eq!(n, 3.0, "every sample in CloudWatch: {err}");
}

#[test]
fn the_image_entrypoint_runs_a_subcommand_as_given() {
    let t = Target::http();
    let url = t.url("/page");
    let (code, out, err) = run_env(
        &["container", "run", "monitor", "-n", "1", "-d", "0", &url],
        &NO_AWS,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("samples   1 in"),
        "the monitor's summary: {out}"
    );
    assert!(!err.contains("CloudWatch"), "no -c added: {err}");
    assert!(!err.contains("HTTP/1.1 200"), "no -v added: {err}");

    let (code, out, _) = run(&["container", "scripts"]);
    assert_eq!(code, 0);
    assert!(out.contains("monitor"), "{out}");
    // Without a subcommand or a URL it is the classic line, which needs one (exit 1, as Go).
    let (code, _, err) = run_env(&["container"], &NO_AWS);
    assert_eq!(code, 1);
    assert!(err.contains("no URLs to test"), "{err}");
}

#[test]
fn the_healthcheck_names_what_it_needs() {
    let (code, _, err) = run_env(&["healthcheck"], &[("PERFTEST_LISTEN_PORT", "")]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "perftest healthcheck: no port to ask: give --port PORT (or a URL), or set PERFTEST_LISTEN_PORT"
    );
    let (code, _, err) = run_env(&["healthcheck"], &[("PERFTEST_LISTEN_PORT", "nine")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("PERFTEST_LISTEN_PORT=nine is not a port"),
        "{err}"
    );
    // Anything but a 200 is unhealthy.
    let t = Target::http();
    let (code, _, err) = run(&["healthcheck", "--url", &t.url("/status/503")]);
    assert_eq!(code, 1);
    assert!(err.contains("HTTP 503"), "{err}");
    let (code, out, err) = run(&["healthcheck", "--url", &t.url("/page")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("200 in"), "{out}");
}

// --- deploy/kubernetes ---

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv(bin: &str) -> PathBuf {
    repo().join(".venv-test").join(bin)
}

/// The kubectls to render with: the machine's (if any) and Debian's 1.20 (kustomize v2).
fn kubectls() -> Vec<PathBuf> {
    let mut found = Vec::new();
    if Command::new("kubectl")
        .args(["version", "--client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        found.push(PathBuf::from("kubectl"));
    }
    let v2 = venv("kubernetes-client/usr/bin/kubectl");
    if v2.exists() {
        found.push(v2);
    }
    assert!(
        !found.is_empty(),
        "no kubectl: run tests/setup-deps.sh (make test does it first)"
    );
    found
}

/// `kubectl kustomize DIR`: the YAML, and stderr less kustomize v5's note that `bases` is
/// deprecated (v2 reads nothing else).
fn render(kubectl: &Path, dir: &Path) -> String {
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("run kubectl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} kustomize {}: {err}",
        kubectl.display(),
        dir.display()
    );
    let other: Vec<&str> = err
        .lines()
        .filter(|l| !l.contains("'bases' is deprecated"))
        .collect();
    assert!(
        other.is_empty(),
        "{} kustomize {}: {err}",
        kubectl.display(),
        dir.display()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Each multi-document YAML as JSON values, read by PyYAML (kubernetes-validate's own parser).
fn objects_each(yamls: &[String]) -> Vec<Vec<serde_json::Value>> {
    let mut child = Command::new(venv("bin/python"))
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps([[d for d in yaml.safe_load_all(y) if d] for y in json.load(sys.stdin)]))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test venv's python (run tests/setup-deps.sh)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(yamls).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// kubernetes-validate --strict on `yaml`: (exit code, its output lines).
fn validate(yaml: &str) -> (i32, Vec<String>) {
    let file = common::write_temp("k8s", "objects.yaml", yaml);
    let out = Command::new(venv("bin/kubernetes-validate"))
        .args(["-k", KUBERNETES, "--strict"])
        .arg(&file)
        .output()
        .expect("kubernetes-validate (run tests/setup-deps.sh)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (
        out.status.code().unwrap_or(-1),
        text.lines().map(str::to_string).collect(),
    )
}

/// Generated names end in a content hash, which kustomize v2 and v5 compute differently.
fn without_hashes(yaml: &str) -> String {
    let mut out = String::new();
    for line in yaml.lines() {
        let trimmed = line.trim_end();
        let generated = trimmed.rsplit_once('-').filter(|(head, tail)| {
            (head.ends_with("perftest-city") || head.ends_with("perftest-monitor"))
                && tail.len() == 10
                && tail.chars().all(|c| c.is_ascii_alphanumeric())
        });
        out.push_str(generated.map_or(trimmed, |(head, _)| head));
        out.push('\n');
    }
    out
}

fn overlays() -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> =
        std::fs::read_dir(repo().join("deploy/kubernetes/overlays"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("kustomization.yaml").exists())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
            .collect();
    v.sort();
    v
}

/// The REP_LOCATION an overlay's kustomization.yaml gives, as written there.
fn location_written(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("- REP_LOCATION="))
        .unwrap_or_else(|| panic!("{}: no REP_LOCATION literal", dir.display()))
        .to_string()
}

fn find<'a>(objs: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    let found: Vec<&serde_json::Value> = objs.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

/// Every string in a JSON value, with its path.
fn strings(v: &serde_json::Value, path: String, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::String(s) => out.push((path, s.clone())),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                strings(x, format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                strings(x, format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_city_overlay_renders_the_same_with_kustomize_v2_and_v5_and_validates() {
    let kubectls = kubectls();
    let cities = overlays();
    assert!(cities.len() >= 12, "a dozen cities: {cities:?}");
    let mut locations = BTreeSet::new();
    let mut namespaces = BTreeSet::new();
    // Every overlay by every kubectl, side by side (kubectl takes a moment to start).
    let renders: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = cities
            .iter()
            .map(|(_, dir)| {
                let kubectls = &kubectls;
                s.spawn(move || kubectls.iter().map(|k| render(k, dir)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((city, _), r) in cities.iter().zip(&renders) {
        for (k, other) in kubectls.iter().zip(r).skip(1) {
            assert_eq!(
                without_hashes(&r[0]),
                without_hashes(other),
                "{city}: {} renders otherwise than {}",
                k.display(),
                kubectls[0].display()
            );
        }
    }
    let yamls: Vec<String> = renders.iter().map(|r| r[0].clone()).collect();
    let parsed = objects_each(&yamls);

    // Every core object passes; the only warnings are the ServiceMonitors' unknown schema.
    let (code, lines) = validate(&yamls.join("---\n"));
    assert_eq!(code, 0, "{lines:#?}");
    let core = parsed
        .iter()
        .flatten()
        .filter(|o| o["kind"] != "ServiceMonitor")
        .count();
    let passed = lines
        .iter()
        .filter(|l| l.starts_with("INFO ") && l.ends_with(" against version 1.32"))
        .count();
    assert_eq!(passed, core, "{lines:#?}");
    let warnings: Vec<&String> = lines.iter().filter(|l| !l.starts_with("INFO ")).collect();
    assert_eq!(warnings.len(), cities.len(), "{warnings:#?}");
    assert!(
        warnings.iter().all(|w| w.starts_with("WARN ")
            && w.contains("kind ServiceMonitor with api version monitoring.coreos.com/v1")),
        "{warnings:#?}"
    );

    for ((city, dir), objs) in cities.iter().zip(&parsed) {
        // The city's namespace holds everything; its REP_LOCATION reaches the container.
        let ns = format!("perftest-{city}");
        assert_eq!(find(objs, "Namespace")["metadata"]["name"], ns.as_str());
        for o in objs.iter().filter(|o| o["kind"] != "Namespace") {
            assert_eq!(o["metadata"]["namespace"], ns.as_str(), "{city}: {o}");
        }
        let deploy = find(objs, "Deployment");
        let pod = &deploy["spec"]["template"]["spec"];
        let c = &pod["containers"][0];
        let env = c["env"].as_array().unwrap();
        let rep = env.iter().find(|e| e["name"] == "REP_LOCATION").unwrap();
        let cm_name = rep["valueFrom"]["configMapKeyRef"]["name"]
            .as_str()
            .unwrap();
        let cm = objs
            .iter()
            .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == cm_name)
            .unwrap_or_else(|| panic!("{city}: no ConfigMap {cm_name}"));
        let location = cm["data"]["REP_LOCATION"].as_str().unwrap().to_string();
        assert_eq!(location, location_written(dir), "{city}");
        assert!(
            location.split_once(',').is_some_and(|(c, cc)| !c.is_empty()
                && cc.len() == 2
                && cc.chars().all(|x| x.is_ascii_uppercase())),
            "{city}: 'City,CC' as the seed writes it: {location}"
        );
        locations.insert(location);
        namespaces.insert(ns);

        // What the city runs: the monitor over the ConfigMap's targets, publishing, serving.
        let args: Vec<&str> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(&args[..2], ["run", "monitor"], "{city}");
        let targets = args[args.iter().position(|a| *a == "--targets").unwrap() + 1];
        let mount = c["volumeMounts"][0]["mountPath"].as_str().unwrap();
        let file = Path::new(targets)
            .strip_prefix(mount)
            .unwrap()
            .to_str()
            .unwrap();
        let volume = pod["volumes"][0]["configMap"]["name"].as_str().unwrap();
        let targets_cm = objs
            .iter()
            .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == volume)
            .unwrap();
        let lua = targets_cm["data"][file].as_str().unwrap();
        assert!(lua.contains("https://"), "{city}: {lua}");
        assert!(args.contains(&"-c"), "{city}: publishes to CloudWatch");
        let port = c["ports"][0]["containerPort"].as_u64().unwrap();
        assert_eq!(
            env.iter()
                .find(|e| e["name"] == "PERFTEST_LISTEN_PORT")
                .unwrap()["value"],
            port.to_string().as_str()
        );
        let annotations = &deploy["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(annotations["prometheus.io/scrape"], "true");
        assert_eq!(annotations["prometheus.io/port"], port.to_string().as_str());
        assert_eq!(annotations["prometheus.io/path"], "/metrics");
        for probe in ["livenessProbe", "readinessProbe"] {
            assert_eq!(c[probe]["httpGet"]["path"], "/healthz", "{city} {probe}");
            assert_eq!(
                c[probe]["httpGet"]["port"], c["ports"][0]["name"],
                "{city} {probe}"
            );
        }
        assert_eq!(deploy["spec"]["replicas"], 1);

        // Locked down: non-root by number (the image's USER), read-only, no capabilities.
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(pod["securityContext"]["runAsUser"], 10001);
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
        for k in ["requests", "limits"] {
            for r in ["cpu", "memory"] {
                assert!(c["resources"][k][r].is_string(), "{city}: {k}.{r}");
            }
        }

        // No secret in any manifest: credentials come from a Secret the cluster holds.
        assert!(
            !objs.iter().any(|o| o["kind"] == "Secret"),
            "{city}: a Secret in the manifests"
        );
        assert_eq!(
            c["envFrom"],
            serde_json::json!([{ "secretRef": { "name": "perftest-credentials", "optional": true } }]),
            "{city}"
        );
        for e in env {
            let name = e["name"].as_str().unwrap();
            assert!(
                !(name.starts_with("AWS_") || name.starts_with("TWILIO_")),
                "{city}: {name} set in the manifest; it belongs in the Secret"
            );
        }
        let mut all = Vec::new();
        for o in objs {
            strings(o, String::new(), &mut all);
        }
        for (path, s) in &all {
            let looks_like_key = s.contains("AKIA")
                || s.contains("aws_secret")
                || s.contains("AWS_SECRET_ACCESS_KEY=")
                || s.contains("TWILIO_AUTH_TOKEN=");
            assert!(!looks_like_key, "{city}: {path} holds a credential: {s}");
        }

        // The ServiceMonitor, field by field: it selects the Service, whose port is the pod's.
        let sm = find(objs, "ServiceMonitor");
        let svc = find(objs, "Service");
        assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
        let spec = sm["spec"].as_object().unwrap();
        let keys: BTreeSet<&str> = spec.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["endpoints", "selector"]), "{city}");
        let selector = sm["spec"]["selector"]["matchLabels"].as_object().unwrap();
        assert!(!selector.is_empty());
        for (k, v) in selector {
            assert_eq!(
                &svc["metadata"]["labels"][k], v,
                "{city}: the selector picks the Service"
            );
        }
        assert_eq!(
            svc["spec"]["selector"], deploy["spec"]["template"]["metadata"]["labels"],
            "{city}: the Service picks the pod"
        );
        let endpoints = sm["spec"]["endpoints"].as_array().unwrap();
        assert_eq!(endpoints.len(), 1);
        let ep = endpoints[0].as_object().unwrap();
        let ep_keys: BTreeSet<&str> = ep.keys().map(String::as_str).collect();
        assert!(
            ep_keys.is_subset(&BTreeSet::from([
                "port",
                "path",
                "interval",
                "scrapeTimeout"
            ])),
            "{city}: {ep_keys:?}"
        );
        let svc_port = &svc["spec"]["ports"][0];
        assert_eq!(ep["port"], svc_port["name"], "{city}: a named Service port");
        assert_eq!(svc_port["targetPort"], c["ports"][0]["name"]);
        assert_eq!(svc_port["port"].as_u64(), Some(port));
        assert_eq!(ep["path"], "/metrics");
        for d in ["interval", "scrapeTimeout"] {
            let text = ep[d].as_str().unwrap();
            let secs: u64 = text.strip_suffix('s').and_then(|n| n.parse().ok()).unwrap();
            assert!((1..=300).contains(&secs), "{city}: {d} {text}");
        }
    }
    assert_eq!(
        locations.len(),
        cities.len(),
        "each city its own REP_LOCATION"
    );
    assert_eq!(namespaces.len(), cities.len());
}

#[test]
fn kubernetes_validate_rejects_what_the_api_server_would() {
    // The validation above is only worth what it catches: a misspelt field and a wrong type.
    let (code, lines) = validate(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 1\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: x, image: x}]}\n",
    );
    assert_ne!(code, 0, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ERROR ") && l.contains("replica")),
        "{lines:#?}"
    );
    let (code, lines) = validate(
        "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{port: metrics}]\n",
    );
    assert_ne!(code, 0, "{lines:#?}");
}
