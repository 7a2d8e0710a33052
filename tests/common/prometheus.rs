//! Debian's Prometheus (2.42) on loopback for the tests: started with a temporary storage
//! directory and the remote-write receiver, on a port it binds itself (`127.0.0.1:0`; the
//! address is read from its log), queried with PromQL over its HTTP API. A forwarder that
//! holds its own port stands in front of it, so a test can take Prometheus down (killed, as a
//! crash would) and bring it back on its storage while writers keep one URL.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `prometheus` binary: PATH, or PERFTEST_PROMETHEUS.
pub fn binary(name: &str) -> PathBuf {
    let var = format!("PERFTEST_{}", name.to_ascii_uppercase());
    if let Ok(p) = std::env::var(&var) {
        return p.into();
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = PathBuf::from(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "{name} is missing: run tests/setup-deps.sh (make test does it first; on Debian: apt-get install prometheus)"
    );
}

/// A running Prometheus.
pub struct Prometheus {
    child: Option<Child>,
    pub addr: SocketAddr,
    config: PathBuf,
    storage: PathBuf,
    log: Arc<Mutex<String>>,
}

impl Prometheus {
    /// Starts Prometheus with `config` (YAML) and a fresh storage directory.
    pub fn start(config: &str) -> Prometheus {
        let dir = super::temp_dir("prometheus");
        let path = dir.join("prometheus.yml");
        std::fs::write(&path, config).unwrap();
        let storage = dir.join("data");
        let (child, addr, log) = spawn(&path, &storage);
        Prometheus {
            child: Some(child),
            addr,
            config: path,
            storage,
            log,
        }
    }

    /// Kills it (SIGKILL: no clean shutdown, as a crash).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same storage (its WAL replayed), on a new port.
    pub fn restart(&mut self) {
        self.kill();
        let (child, addr, log) = spawn(&self.config, &self.storage);
        self.child = Some(child);
        self.addr = addr;
        self.log = log;
    }

    /// The remote-write URL.
    pub fn write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }

    /// What it logged (for failure messages).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `GET path` on its API; the JSON answer.
    fn get(&self, path: &str) -> serde_json::Value {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// An instant query at `at` (seconds since the epoch; now if None): each series' labels
    /// and value.
    pub fn query(&self, promql: &str, at: Option<f64>) -> Vec<(serde_json::Value, f64)> {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("query", promql);
        if let Some(t) = at {
            q.append_pair("time", &format!("{t:.3}"));
        }
        let v = self.get(&format!("/api/v1/query?{}", q.finish()));
        assert_eq!(v["status"], "success", "{promql}: {v}");
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let value = match &r["value"] {
                    serde_json::Value::Array(a) => a[1].as_str().unwrap().parse().unwrap(),
                    _ => f64::NAN,
                };
                (r["metric"].clone(), value)
            })
            .collect()
    }

    /// Every raw sample of a range-vector selector at now: (labels, [(time, value)]).
    pub fn samples(&self, selector: &str) -> Vec<(serde_json::Value, Vec<(f64, f64)>)> {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("query", selector);
        let v = self.get(&format!("/api/v1/query?{}", q.finish()));
        assert_eq!(v["status"], "success", "{selector}: {v}");
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let points = r["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| {
                        (
                            p[0].as_f64().unwrap(),
                            p[1].as_str().unwrap().parse().unwrap(),
                        )
                    })
                    .collect();
                (r["metric"].clone(), points)
            })
            .collect()
    }

    /// Polls `promql` until `done` holds for its answer, at most `limit`.
    pub fn wait_for(
        &self,
        promql: &str,
        limit: Duration,
        done: impl Fn(&[(serde_json::Value, f64)]) -> bool,
    ) -> Vec<(serde_json::Value, f64)> {
        let deadline = Instant::now() + limit;
        loop {
            let r = self.query(promql, None);
            if done(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{promql} never held: {r:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(config: &Path, storage: &Path) -> (Child, SocketAddr, Arc<Mutex<String>>) {
    let mut child = Command::new(binary("prometheus"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", storage.display()))
        .args([
            "--web.listen-address=127.0.0.1:0",
            "--web.enable-remote-write-receiver",
            "--log.format=logfmt",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start prometheus");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let log = Arc::new(Mutex::new(String::new()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut addr = None;
    let mut ready = false;
    while !(ready && addr.is_some()) {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 || Instant::now() > deadline {
            let _ = child.kill();
            panic!("prometheus did not start:\n{}{line}", log.lock().unwrap());
        }
        log.lock().unwrap().push_str(&line);
        // The port it bound itself: `msg="Listening on" address=127.0.0.1:41234`.
        if line.contains("msg=\"Listening on\"") {
            addr = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("address="))
                .and_then(|a| a.parse().ok());
        }
        ready |= line.contains("Server is ready to receive web requests");
    }
    let l = log.clone();
    std::thread::spawn(move || {
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap_or(0) > 0 {
            l.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    (child, addr.unwrap(), log)
}

/// A TCP forwarder on its own port to an upstream that can come and go: while the upstream
/// is down, connections are accepted and closed at once, as a crashed server's host does.
pub struct Forwarder {
    pub addr: SocketAddr,
    upstream: Arc<AtomicU16>,
}

impl Forwarder {
    pub fn start(upstream: SocketAddr) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicU16::new(upstream.port()));
        let u = up.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let port = u.load(Ordering::SeqCst);
                std::thread::spawn(move || {
                    if port == 0 {
                        return;
                    }
                    let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
                        return;
                    };
                    let (mut c2, mut s2) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let up = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut c2, &mut s2);
                        let _ = s2.shutdown(std::net::Shutdown::Write);
                    });
                    let (mut s, mut c) = (server, client);
                    let _ = std::io::copy(&mut s, &mut c);
                    let _ = c.shutdown(std::net::Shutdown::Write);
                    let _ = up.join();
                });
            }
        });
        Forwarder { addr, upstream: up }
    }

    /// Where connections go from now on; None: nowhere (closed at once).
    pub fn point_to(&self, upstream: Option<SocketAddr>) {
        self.upstream
            .store(upstream.map_or(0, |a| a.port()), Ordering::SeqCst);
    }

    /// The remote-write URL through the forwarder.
    pub fn write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }
}
