//! Real servers on 127.0.0.1 for the tests: an HTTP(S) target that misbehaves on request, an
//! HTTP/2 target, and a DNS server that answers late, wrongly or never.
#![allow(dead_code)]

pub mod api;
pub mod dns;
pub mod hostile;
pub mod moto;
pub mod prom;
pub mod prometheus;
pub mod receiver;
pub mod schema;
pub mod target;
pub mod tls;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A port on 127.0.0.1 that refuses connections: bound and never listening, and kept bound for
/// the life of the test process, so no server another test starts can be given it.
pub fn free_port() -> u16 {
    let socket = reserved_port();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    std::mem::forget(socket);
    port
}

/// A TCP socket bound to a fresh port on 127.0.0.1 and not listening: connections to the port
/// are refused, and only a socket that asks for it by number with SO_REUSEADDR (a server
/// brought up there on purpose) can bind it while this one holds it.
pub fn reserved_port() -> socket2::Socket {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket
}

/// Writes `contents` to a file `name` in a fresh directory; returns its path.
pub fn write_temp(tag: &str, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = temp_dir(tag).join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// The perftest binary under test.
pub fn perftest() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_perftest"));
    c.env_remove("PERFTEST_URL")
        .env_remove("PERFTEST_LIMIT")
        .env_remove("PERFTEST_DELAY")
        .env_remove("REP_LOCATION")
        .env_remove("REP_CITY")
        .env_remove("REP_COUNTRY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    // A test that fails before it stops its perftest (a monitor waiting for SIGTERM, say) must
    // not leave it running: the child dies with the test's thread.
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    c
}

/// Kills the process when dropped: a test that fails half-way leaves no perftest running.
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // After a normal end the process is already reaped and kill finds nothing.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `cmd` to its end, killing it if it takes longer than `limit`.
pub fn run_with_limit(mut cmd: Command, limit: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("start perftest");
    run_with_limit_child(child, limit)
}

/// Runs perftest with `args` (20 s limit) and returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    run_env(args, &[])
}

/// Like [`run`] with extra environment variables.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = perftest();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_with_limit(cmd, Duration::from_secs(20));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh directory under the system temp dir, for files a test writes.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "perftest-test-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Milliseconds as the result tables give them.
pub fn ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// Upper slack for a phase on a shared, noisy 2-core CI machine: a timer that fires late, a
/// task scheduled late on a busy core. Loopback itself adds well under a millisecond; what
/// this bounds is the machine, so it is generous, and the lower bounds stay strict.
pub const SLACK_MS: f64 = 60.0;

/// A perftest started with its output piped; stdout's lines arrive as they are printed, so a
/// test can wait for what it needs to see (a row, a note) before it acts, instead of sleeping.
pub struct Running {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
    /// Every stdout line received so far.
    pub seen: Vec<String>,
}

impl Running {
    pub fn start(mut cmd: Command) -> Running {
        use std::io::{BufRead, Read};
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start perftest");
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Running {
            child,
            lines,
            stderr: Some(stderr),
            seen: Vec::new(),
        }
    }

    /// Waits up to 20 s for `n` stdout lines that satisfy `pred`, counted from the start.
    pub fn wait_for(&mut self, n: usize, pred: impl Fn(&str) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.seen.iter().filter(|l| pred(l)).count() < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "waited 20 s for {n} such lines; stdout so far:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Sends `signal` ("INT", "TERM") to the process.
    pub fn signal(&self, signal: &str) {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
    }

    /// Waits up to `limit` for the end: the exit code, all of stdout and stderr.
    pub fn finish(mut self, limit: Duration) -> (Option<i32>, String, String) {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("perftest ran longer than {limit:?}");
                }
            }
        }
        let status = self.child.wait().expect("wait for perftest");
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let mut stdout = self.seen.join("\n");
        if !stdout.is_empty() {
            stdout.push('\n');
        }
        (status.code(), stdout, stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that failed half-way leaves no perftest running.
        let _ = self.child.kill();
    }
}

/// Waits for a child already running, killing it after `limit`.
pub fn run_with_limit_child(child: std::process::Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for perftest"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("perftest ran longer than {limit:?}");
        }
    }
}

/// A listener that never accepts, its one-slot backlog already taken: a further connect is
/// never answered, as with a host that drops SYNs. Keep the returned sockets alive.
pub fn unanswered_listener() -> (std::net::SocketAddr, Vec<socket2::Socket>) {
    use socket2::{Domain, Socket, Type};
    let listener = reserved_port();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let first = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    first
        .connect_timeout(&addr.into(), Duration::from_secs(1))
        .unwrap();
    (addr, vec![listener, first])
}

/// GETs (or sends `method`) `path` from 127.0.0.1:`port`; returns (status, body).
pub fn http(port: u16, method: &str, path: &str, accept: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The port of the web server a perftest announces on stderr ("PREFIX serving ... on
/// http://ADDR:PORT"), read from its first ten lines.
pub fn announced_port(stderr: &mut impl std::io::BufRead, prefix: &str) -> u16 {
    let announce = format!("{prefix}serving /memstats, /metrics and /healthz on http://");
    for _ in 0..10 {
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        if let Some(addr) = line.trim().strip_prefix(announce.as_str()) {
            return addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    }
    panic!("the address is not announced");
}
