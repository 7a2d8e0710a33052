//! The measuring core: one sample is resolve, connect, TLS, request, first byte, last byte,
//! each timed at the socket event that defines it. Knows nothing about Lua.

mod connect;
mod cookies;
mod dns;
mod http;
mod request;
mod result;
mod target;
mod tcp_info;
mod timed_io;
mod tls;
mod wire_time;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use cookies::{CookieJar, KeptCookie};
pub use request::{
    InvalidRequest, IpFamily, KEEP_BODY_DEFAULT, ProbeRequest, seconds, shown, socket_addr,
};
pub use result::{
    CertInfo, ErrorKind, FailedAttempt, Hop, Phases, ProbeError, ProbeResult, TlsInfo, epoch,
    millis, printable,
};
pub use target::{Scheme, Target};
pub use tcp_info::TcpInfo;
pub use tls::{TlsOptions, client_config as tls_client_config};

use dns::Dns;
use http::Progress;
use timed_io::{SharedStamps, Stamps};
use wire_time::StampedTcp;

/// Runs samples. One per process, shared by every task; everything in it is built on first use
/// so that a run that never needs DNS or TLS never pays for them.
pub struct Prober {
    system_dns: OnceLock<Result<Arc<Dns>, String>>,
    custom_dns: Mutex<HashMap<SocketAddr, Arc<Dns>>>,
    tls: tls::TlsConfigs,
}

impl Default for Prober {
    fn default() -> Prober {
        Prober::new()
    }
}

/// Where a sample is, for partial timings and for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Dns,
    Connect,
    Tls,
    Wait,
    Body,
}

impl Prober {
    /// A prober; the kernel's receive timestamps are switched on for the process from here.
    pub fn new() -> Prober {
        // Before the first probe: the kernel turns receive timestamps on a moment after asking,
        // and a response that arrived meanwhile would carry the time it was read.
        wire_time::keep_timestamping_on();
        Prober {
            system_dns: OnceLock::new(),
            custom_dns: Mutex::default(),
            tls: tls::TlsConfigs::default(),
        }
    }

    /// Probes `req` to the end (or its timeout).
    pub async fn probe(&self, req: &ProbeRequest) -> ProbeResult {
        self.probe_until(req, std::future::pending()).await
    }

    /// Probes `req`; if `stop` completes first the sample ends as `interrupted`, keeping the
    /// phases measured until then.
    pub async fn probe_until(
        &self,
        req: &ProbeRequest,
        stop: impl Future<Output = ()> + Send,
    ) -> ProbeResult {
        // One instant starts both the deadline and the first phase, so a timed-out phase reads
        // the whole timeout, never a hair less.
        let start = Instant::now();
        let deadline = tokio::time::Instant::from_std(start) + req.timeout;
        tokio::pin!(stop);
        // Borrowed until a redirect leads elsewhere: most samples follow none.
        let mut target = std::borrow::Cow::Borrowed(&req.target);
        let mut hops = Vec::new();
        loop {
            let began = if hops.is_empty() {
                start
            } else {
                Instant::now()
            };
            let mut result = self
                .sample(req, &target, (began, deadline), stop.as_mut(), &mut None)
                .await;
            let redirect = req.follow_redirects > 0
                && result.ok()
                && (300..400).contains(&result.status)
                && result.status != 304;
            let location = redirect
                .then(|| header(&result.headers, "location"))
                .flatten();
            if location.is_some() && hops.len() as u32 >= req.follow_redirects {
                // A loop, or a chain longer than allowed: no answer was reached, as curl says.
                result.error = Some(ProbeError::new(
                    ErrorKind::Http,
                    format!(
                        "http {}: too many redirects ({})",
                        target.display, req.follow_redirects
                    ),
                ));
            } else if let Some(location) = location {
                match target.join(&location) {
                    Ok(next) => {
                        hops.push(Hop {
                            url: target.display.clone(),
                            status: result.status,
                            remote: result.remote,
                            phases: result.phases,
                        });
                        target = std::borrow::Cow::Owned(next);
                        continue;
                    }
                    Err(e) => {
                        result.error = Some(ProbeError::new(
                            ErrorKind::Http,
                            format!("http {}: bad redirect: {e}", target.display),
                        ));
                    }
                }
            }
            result.url = req.target.display.clone();
            result.final_url = target.display.clone();
            result.redirects = hops;
            return result;
        }
    }

    /// Probes `req` over the connection kept in `slot` if it goes to the same origin and is
    /// still open (DNS, TCP and TLS are then 0 and `reused` is set); otherwise over a new
    /// connection, which is kept in `slot` for the next call. Redirects are not followed.
    pub async fn probe_kept(
        &self,
        req: &ProbeRequest,
        slot: &mut Option<Kept>,
        stop: impl Future<Output = ()> + Send,
    ) -> ProbeResult {
        let start = Instant::now();
        let deadline = tokio::time::Instant::from_std(start) + req.timeout;
        tokio::pin!(stop);
        if let Some(kept) = slot
            .as_mut()
            .filter(|k| k.origin.serves(&req.target) && !k.sender.is_closed())
        {
            // A connection the server closed meanwhile is not a failed sample: open another.
            if kept.sender.ready().await.is_ok() {
                let mut rec = Recorder::new(&req.target, start);
                rec.tcp_info = req.tcp_info;
                rec.result.reused = true;
                rec.result.remote = Some(kept.remote);
                rec.result.tls = kept.tls.clone();
                rec.peer = Peer::Addr(kept.remote);
                kept.stamps
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .reset_for_next();
                rec.stamps = Some(kept.stamps.clone());
                rec.enter(Phase::Wait);
                let peer = Peer::Addr(kept.remote);
                let again = http::again(
                    &mut kept.sender,
                    kept.h2,
                    req,
                    &req.target,
                    &peer,
                    &mut rec.progress,
                );
                let outcome = tokio::select! {
                    r = again => r.map_err(|e| rec.fail_with(e)),
                    _ = tokio::time::sleep_until(deadline) => Err(rec.timeout(req.timeout)),
                    _ = stop.as_mut() => Err(rec.interrupted()),
                };
                let r = rec.finish(outcome);
                if !r.ok() {
                    *slot = None;
                }
                return r;
            }
        }
        *slot = None;
        let mut keep = Some(None);
        let r = self
            .sample(
                req,
                &req.target,
                (start, deadline),
                stop.as_mut(),
                &mut keep,
            )
            .await;
        *slot = keep.flatten();
        r
    }

    async fn sample(
        &self,
        req: &ProbeRequest,
        target: &Target,
        (start, deadline): (Instant, tokio::time::Instant),
        stop: Pin<&mut impl Future<Output = ()>>,
        keep: &mut Option<Option<Kept>>,
    ) -> ProbeResult {
        let mut rec = Recorder::new(target, start);
        rec.tcp_info = req.tcp_info;
        let want_keep = keep.is_some();
        let outcome = tokio::select! {
            r = self.run(req, target, &mut rec, want_keep) => r,
            _ = tokio::time::sleep_until(deadline) => Err(rec.timeout(req.timeout)),
            _ = stop => Err(rec.interrupted()),
        };
        let outcome = outcome.map(|kept| {
            if let Some(slot) = keep.as_mut() {
                *slot = kept;
            }
        });
        let r = rec.finish(outcome);
        tracing::debug!(
            url = %r.url,
            remote = ?r.remote,
            status = r.status,
            phases = ?r.phases,
            attempts = r.failed_attempts.len(),
            error = r.error.as_ref().map(|e| e.message.as_str()),
            "sample"
        );
        r
    }

    async fn run(
        &self,
        req: &ProbeRequest,
        target: &Target,
        rec: &mut Recorder<'_>,
        keep: bool,
    ) -> Result<Option<Kept>, ProbeError> {
        let pinned = req.resolve.or(target.ip);
        let looked_up;
        let ips: &[IpAddr] = match &pinned {
            Some(ip) => std::slice::from_ref(ip),
            None => {
                let resolver = self
                    .dns(req.dns_server)
                    .and_then(|dns| dns.resolver(&target.host, req.ip))
                    .map_err(|e| rec.fail(ErrorKind::Dns, e))?;
                // Start of the DNS phase: the resolver is ready, the query is about to leave.
                rec.enter(Phase::Dns);
                // Boxed, as the TLS handshake and the exchange below: a sample's future is moved
                // whole at every level that awaits it, and inline these made it 10 KiB (copied
                // several times a request, the largest user-space cost under load).
                looked_up = Box::pin(resolver.lookup(&target.host))
                    .await
                    .map_err(|e| rec.fail(ErrorKind::Dns, e))?;
                // End of the DNS phase: the last answer reached this host (kernel time), or,
                // without that, the lookup returned.
                let started = rec.phase_start;
                let returned = rec.since_phase();
                rec.result.phases.dns = match resolver.answered_at() {
                    Some(at) if at >= started => (at - started).min(returned),
                    _ => returned,
                };
                rec.result.looked_up = true;
                &looked_up
            }
        };
        if !ips.iter().any(|ip| family_allows(req.ip, *ip)) {
            return Err(rec.fail(
                ErrorKind::Dns,
                format!("dns {}: no {:?} address", target.host, req.ip),
            ));
        }

        rec.enter(Phase::Connect);
        let addrs = ips
            .iter()
            .filter(|ip| family_allows(req.ip, **ip))
            .map(|ip| SocketAddr::new(*ip, target.port));
        let tcp = self.connect(addrs, req.connect_timeout, rec).await?;
        let peer = rec.peer;
        let stamps = Stamps::shared();
        rec.stamps = Some(stamps.clone());
        let tcp = StampedTcp::new(tcp, stamps.clone(), req.tcp_info);

        match target.scheme {
            Scheme::Http => Box::pin(self.exchange(tcp, req, target, &peer, rec, keep)).await,
            Scheme::Https => {
                let config = self
                    .tls
                    .get(&req.tls)
                    .map_err(|e| rec.fail(ErrorKind::Tls, e))?;
                rec.enter(Phase::Tls);
                let stream = Box::pin(tls::handshake(config, &target.host, target.ip, tcp))
                    .await
                    .map_err(|e| {
                        // Whatever broke the handshake (an alert, a bad certificate, a reset)
                        // failed the TLS phase.
                        let msg = format!("tls {peer}: {}", tls::describe_error(&e));
                        rec.fail(ErrorKind::Tls, msg)
                    })?;
                // End of the TLS phase: our last flight is written. The server's last flight
                // waited in the kernel before we read it; that wait is ours, not the server's.
                let waited = stamps.lock().unwrap_or_else(|p| p.into_inner()).wire_lag;
                rec.result.phases.tls = rec.since_phase().saturating_sub(waited);
                let info = tls::info(&stream);
                if info.alpn.as_deref() == Some("h2") {
                    stamps.lock().unwrap_or_else(|p| p.into_inner()).enable_h2();
                }
                rec.result.tls = Some(info);
                Box::pin(self.exchange(stream, req, target, &peer, rec, keep)).await
            }
        }
    }

    async fn connect(
        &self,
        addrs: impl Iterator<Item = SocketAddr>,
        timeout: Duration,
        rec: &mut Recorder<'_>,
    ) -> Result<tokio::net::TcpStream, ProbeError> {
        let mut last = None;
        for addr in addrs {
            rec.peer = Peer::Addr(addr);
            rec.result.remote = Some(addr);
            match connect::connect(addr, timeout).await {
                Ok(c) => {
                    // The kernel's own measure of the handshake, when it has one: the wall
                    // clock also counts how long this thread took to notice.
                    let wall = c.done - c.started;
                    rec.result.phases.tcp = match wire_time::handshake_rtt(&c.stream) {
                        Some(rtt) if rtt <= wall => rtt,
                        _ => wall,
                    };
                    rec.phase_start = c.done;
                    return Ok(c.stream);
                }
                Err(f) => {
                    let elapsed = f.started.elapsed();
                    let reason = if f.timed_out {
                        format!("timed out after {}", human(timeout))
                    } else {
                        connect::describe_io(&f.error)
                    };
                    rec.result.failed_attempts.push(FailedAttempt {
                        addr,
                        error: reason.clone(),
                        elapsed,
                    });
                    last = Some((addr, reason, f.timed_out));
                }
            }
        }
        let (addr, reason, timed_out) = last.expect("at least one address");
        let kind = if timed_out {
            ErrorKind::Timeout
        } else {
            ErrorKind::Connect
        };
        Err(rec.fail(kind, format!("connect {addr}: {reason}")))
    }

    async fn exchange<S>(
        &self,
        io: S,
        req: &ProbeRequest,
        target: &Target,
        peer: &Peer<'_>,
        rec: &mut Recorder<'_>,
        keep: bool,
    ) -> Result<Option<Kept>, ProbeError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        rec.enter(Phase::Wait);
        let stamps = rec.stamps.clone().expect("set at connect");
        let h2 = rec.result.tls.as_ref().and_then(|t| t.alpn.as_deref()) == Some("h2");
        let kept = http::exchange(
            io,
            h2,
            req,
            target,
            peer,
            stamps.clone(),
            &mut rec.progress,
            keep,
        )
        .await
        .map_err(|e| rec.fail_with(e))?;
        Ok(kept.map(|(sender, driver)| Kept {
            origin: Origin::of(target),
            remote: rec.result.remote.expect("connected"),
            tls: rec.result.tls.clone(),
            h2,
            sender,
            stamps,
            driver,
        }))
    }

    fn dns(&self, server: Option<SocketAddr>) -> Result<Arc<Dns>, String> {
        match server {
            None => self
                .system_dns
                .get_or_init(|| Dns::from_resolv_conf(dns::RESOLV_CONF.as_ref()).map(Arc::new))
                .clone(),
            Some(addr) => {
                let mut map = self.custom_dns.lock().unwrap_or_else(|p| p.into_inner());
                Ok(map
                    .entry(addr)
                    .or_insert_with(|| Arc::new(Dns::with_server(addr)))
                    .clone())
            }
        }
    }
}

/// Where a kept connection goes: it serves only requests to the same place.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin(Scheme, String, u16);

impl Origin {
    fn of(t: &Target) -> Origin {
        Origin(t.scheme, t.host.to_ascii_lowercase(), t.port)
    }

    /// True if a request to `t` may go over this connection (checked per request: no copy).
    fn serves(&self, t: &Target) -> bool {
        self.0 == t.scheme && self.2 == t.port && self.1.eq_ignore_ascii_case(&t.host)
    }
}

/// Who a sample talks to, as messages name it: the host until an address is chosen.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Peer<'a> {
    Host(&'a str),
    Addr(SocketAddr),
}

impl std::fmt::Display for Peer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Host(h) => f.write_str(h),
            Peer::Addr(a) => write!(f, "{a}"),
        }
    }
}

/// An open connection kept between samples to one origin (HTTP keep-alive).
pub struct Kept {
    origin: Origin,
    remote: SocketAddr,
    tls: Option<TlsInfo>,
    h2: bool,
    sender: http::Sender,
    stamps: SharedStamps,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Kept {
    fn drop(&mut self) {
        // The task drives the connection; without the sender it has nothing left to do.
        self.driver.abort();
    }
}

fn family_allows(family: IpFamily, ip: IpAddr) -> bool {
    match family {
        IpFamily::Any => true,
        IpFamily::V4 => ip.is_ipv4(),
        IpFamily::V6 => ip.is_ipv6(),
    }
}

fn header(headers: &::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// "2s", "1.5s", "250ms": how a limit reads in a message.
fn human(d: Duration) -> String {
    if d.as_millis() % 1000 == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
            .trim_end_matches('0')
            .to_string()
    }
}

/// Collects a sample's result as it goes, so that a timeout or a stop keeps what was measured.
struct Recorder<'a> {
    result: ProbeResult,
    phase: Phase,
    phase_start: Instant,
    host: &'a str,
    peer: Peer<'a>,
    stamps: Option<SharedStamps>,
    progress: Progress,
    failure: Option<Instant>,
    /// Read TCP_INFO at the end.
    tcp_info: bool,
}

impl<'a> Recorder<'a> {
    fn new(target: &'a Target, start: Instant) -> Recorder<'a> {
        Recorder {
            result: ProbeResult::new(target.display.clone()),
            phase: Phase::Dns,
            phase_start: start,
            host: &target.host,
            peer: Peer::Host(&target.host),
            stamps: None,
            progress: Progress::default(),
            failure: None,
            tcp_info: false,
        }
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        if phase != Phase::Tls && phase != Phase::Wait {
            self.phase_start = Instant::now();
        }
    }

    fn since_phase(&mut self) -> Duration {
        let now = Instant::now();
        let d = now - self.phase_start;
        self.phase_start = now;
        d
    }

    fn fail(&mut self, kind: ErrorKind, message: String) -> ProbeError {
        self.failure.get_or_insert_with(Instant::now);
        ProbeError::new(kind, message)
    }

    fn fail_with(&mut self, e: ProbeError) -> ProbeError {
        self.failure.get_or_insert_with(Instant::now);
        e
    }

    fn phase(&self) -> Phase {
        if self.phase == Phase::Wait && self.progress.in_body {
            Phase::Body
        } else {
            self.phase
        }
    }

    fn doing(&self) -> String {
        match self.phase() {
            Phase::Dns => format!("resolving {}", self.host),
            Phase::Connect => format!("connecting to {}", self.peer),
            Phase::Tls => format!("in the TLS handshake with {}", self.peer),
            // A server that sends its head a byte at a time (slowloris) has sent a first byte.
            Phase::Wait if self.first_byte_came() => format!(
                "reading the response headers from {} (the first byte came)",
                self.peer
            ),
            Phase::Wait => format!("waiting for the first byte from {}", self.peer),
            Phase::Body => format!(
                "reading the body from {} ({} bytes received)",
                self.peer, self.progress.size
            ),
        }
    }

    fn first_byte_came(&self) -> bool {
        self.stamps
            .as_ref()
            .is_some_and(|s| s.lock().unwrap_or_else(|p| p.into_inner()).first.is_some())
    }

    fn timeout(&mut self, limit: Duration) -> ProbeError {
        let msg = format!("timeout after {} {}", human(limit), self.doing());
        self.fail(ErrorKind::Timeout, msg)
    }

    fn interrupted(&mut self) -> ProbeError {
        let msg = format!("interrupted {}", self.doing());
        self.fail(ErrorKind::Interrupted, msg)
    }

    /// Turns what was recorded into the result; the phase in progress at a failure gets the
    /// time spent in it.
    fn finish(mut self, outcome: Result<(), ProbeError>) -> ProbeResult {
        let end = self.failure.unwrap_or_else(Instant::now);
        let p = &mut self.result.phases;
        match self.phase {
            Phase::Dns if outcome.is_err() => p.dns = end - self.phase_start,
            Phase::Connect if outcome.is_err() => {
                p.tcp = self
                    .result
                    .failed_attempts
                    .iter()
                    .map(|a| a.elapsed)
                    .sum::<Duration>()
                    .max(end - self.phase_start);
            }
            Phase::Tls if outcome.is_err() => p.tls = end - self.phase_start,
            Phase::Wait => {
                let stamps = self.stamps.as_ref().map(|s| {
                    let s = s.lock().unwrap_or_else(|p| p.into_inner());
                    (s.request, s.first, s.last_byte())
                });
                let (request, first, last) = stamps.unwrap_or((None, None, None));
                let request = request.unwrap_or(self.phase_start);
                match first {
                    Some(first) => {
                        p.first = first.saturating_duration_since(request);
                        let last = if outcome.is_ok() {
                            last.unwrap_or(first)
                        } else {
                            end
                        };
                        p.lastb = last.saturating_duration_since(first);
                    }
                    None => p.first = end.saturating_duration_since(request),
                }
            }
            _ => {}
        }
        // Every figure is shown in microseconds; cut each phase there so that Total, their
        // sum, is exactly the sum of the figures a user reads.
        for d in [
            &mut p.dns,
            &mut p.tcp,
            &mut p.tls,
            &mut p.first,
            &mut p.lastb,
        ] {
            *d = Duration::from_micros(d.as_micros() as u64);
        }
        if self.tcp_info
            && let Some(stamps) = &self.stamps
        {
            self.result.tcp_info = stamps.lock().unwrap_or_else(|p| p.into_inner()).tcp_info();
        }
        self.result.status = self.progress.status;
        self.result.version = self.progress.version;
        self.result.headers = std::mem::take(&mut self.progress.headers);
        self.result.size = self.progress.size;
        self.result.truncated = self.progress.truncated;
        if let Some(body) = self.progress.body.take() {
            self.result.body_truncated =
                self.progress.body_cut || self.progress.truncated || outcome.is_err();
            self.result.body = Some(body);
        }
        self.result.error = outcome.err();
        self.result
    }
}

/// A sample whose server is `response` over an in-memory connection (sent, then the
/// connection closed): the response path without a socket, as the fuzz targets feed it.
/// Times are real but mean nothing; a Location is joined as a redirect would be.
#[doc(hidden)]
pub async fn canned(req: &ProbeRequest, response: Vec<u8>, h2: bool) -> ProbeResult {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let target = &req.target;
    let addr = SocketAddr::from(([127, 0, 0, 1], target.port));
    let mut rec = Recorder::new(target, Instant::now());
    let stamps = Stamps::shared();
    if h2 {
        stamps.lock().unwrap_or_else(|p| p.into_inner()).enable_h2();
    }
    rec.stamps = Some(stamps.clone());
    rec.peer = Peer::Addr(addr);
    rec.result.remote = Some(addr);
    let (client, server) = tokio::io::duplex(64 * 1024);
    let (mut from_client, mut to_client) = tokio::io::split(server);
    // As a server would: the bytes once the request is in, then the connection closed; what
    // the client sends is read to its end, so that none of its writes fails.
    let server = async move {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !request_is_in(&seen, h2) {
            match from_client.read(&mut buf).await {
                Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        let answer = async {
            let _ = to_client.write_all(&response).await;
            let _ = to_client.shutdown().await;
        };
        let drain = async { while matches!(from_client.read(&mut buf).await, Ok(n) if n > 0) {} };
        tokio::join!(answer, drain);
    };
    let peer = rec.peer;
    rec.enter(Phase::Wait);
    let exchange = http::exchange(
        client,
        h2,
        req,
        target,
        &peer,
        stamps,
        &mut rec.progress,
        false,
    );
    let (outcome, ()) = tokio::join!(
        async {
            match tokio::time::timeout(req.timeout, exchange).await {
                Ok(r) => r.map(|_| ()),
                Err(_) => Err(ProbeError::new(ErrorKind::Timeout, "timeout")),
            }
        },
        server
    );
    let outcome = outcome.map_err(|e| rec.fail_with(e));
    let mut result = rec.finish(outcome);
    if result.ok()
        && (300..400).contains(&result.status)
        && let Some(location) = header(&result.headers, "location")
        && let Err(e) = target.join(&location)
    {
        result.error = Some(ProbeError::new(
            ErrorKind::Http,
            format!("http {}: bad redirect: {e}", target.display),
        ));
    }
    result
}

/// True once `seen` holds a whole request head: HTTP/1.1's blank line, or after h2's preface a
/// HEADERS frame.
fn request_is_in(seen: &[u8], h2: bool) -> bool {
    if !h2 {
        return seen.windows(4).any(|w| w == b"\r\n\r\n");
    }
    let mut at = 24;
    while let Some(head) = seen.get(at..at + 9) {
        if head[3] == 1 {
            return true;
        }
        at += 9 + (usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]));
    }
    false
}
