//! Real servers on 127.0.0.1 for the tests: an HTTP(S) target that misbehaves on request, an
//! HTTP/2 target, and a DNS server that answers late, wrongly or never.
#![allow(dead_code)]

pub mod dns;
pub mod moto;
pub mod prom;
pub mod receiver;
pub mod target;
pub mod tls;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A port on 127.0.0.1 that nothing listens on (bound, then released): connections are refused.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let first = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    first
        .connect_timeout(&addr.into(), Duration::from_secs(1))
        .unwrap();
    (addr, vec![listener, first])
}

/// GETs `path` from 127.0.0.1:`port` over HTTP/1.1; returns (status, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
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
