//! The result of one sample: phase durations, what answered, and what went wrong.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Which part of a sample failed. The names are the Lua contract's `error_kind` strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The name could not be resolved.
    Dns,
    /// No address accepted a TCP connection.
    Connect,
    /// The TLS handshake or the certificate check failed.
    Tls,
    /// The connect timeout or the whole-sample timeout expired.
    Timeout,
    /// The server broke the HTTP protocol or closed before a response.
    Http,
    /// The connection failed after the response started (reset mid-body, say).
    Io,
    /// The run was stopping (SIGINT/SIGTERM) while the sample was in flight.
    Interrupted,
}

impl ErrorKind {
    /// The name scripts see in `r.error_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Http => "http",
            ErrorKind::Io => "io",
            ErrorKind::Interrupted => "interrupted",
        }
    }
}

/// A failed sample's kind and its one-line message, such as
/// `connect 127.0.0.1:9: connection refused`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ProbeError {
    /// A failure; control characters in `message` (which may quote the server) become `?`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message = message.into();
        ProbeError {
            kind,
            message: match printable(&message) {
                std::borrow::Cow::Borrowed(_) => message,
                std::borrow::Cow::Owned(clean) => clean,
            },
        }
    }
}

/// `text` with its control characters (ESC, CR, LF, BEL, the C1 codes) replaced by `?`, a tab
/// by a space: what a server chose, printed, cannot move the cursor or recolour a terminal.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| match c {
                '\t' => ' ',
                c if c.is_control() => '?',
                c => c,
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// How long each phase of a sample took. A phase that failed holds the time spent in it
/// until the failure; a phase never reached is zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Phases {
    /// Name lookup; zero for an IP literal or a pinned address.
    pub dns: Duration,
    /// `connect()` called to the connection established (the attempt that answered).
    pub tcp: Duration,
    /// TLS handshake, ClientHello written to handshake complete; zero for http.
    pub tls: Duration,
    /// First byte of the request written to the first byte of the response read.
    pub first: Duration,
    /// First byte of the response to the last byte of the body.
    pub lastb: Duration,
}

impl Phases {
    /// TCP + TLS + First + LastB: DNS is not part of Total, as in the classic tool.
    pub fn total(&self) -> Duration {
        self.tcp + self.tls + self.first + self.lastb
    }
}

/// What the server's certificate says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Expiry, seconds since the Unix epoch.
    pub not_after: i64,
    /// Subject alternative names: DNS names and IP addresses, in the certificate's order.
    pub sans: Vec<String>,
}

/// What the TLS handshake settled on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsInfo {
    /// "TLSv1.3" or "TLSv1.2".
    pub version: String,
    pub cipher: String,
    /// The protocol the server chose by ALPN ("h2", "http/1.1"), if any.
    pub alpn: Option<String>,
    pub cert: Option<CertInfo>,
    /// The earliest expiry among the certificates the server sent, seconds since the epoch.
    pub earliest_expiry: Option<i64>,
}

/// A connection attempt that failed before another address answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedAttempt {
    pub addr: SocketAddr,
    pub error: String,
    pub elapsed: Duration,
}

/// An earlier response in a followed redirect chain.
#[derive(Clone, Debug, PartialEq)]
pub struct Hop {
    pub url: Arc<str>,
    pub status: u16,
    pub remote: Option<SocketAddr>,
    pub phases: Phases,
}

/// One sample, complete or not: a failed probe is a result with `error` set, never a panic.
#[derive(Clone, Debug)]
pub struct ProbeResult {
    /// The URL as requested (with `http://` added when it had no scheme).
    pub url: Arc<str>,
    /// Where the last hop went, when redirects were followed.
    pub final_url: Arc<str>,
    /// Wall-clock time the sample started.
    pub start: SystemTime,
    pub phases: Phases,
    /// HTTP status code; 0 when no response arrived.
    pub status: u16,
    /// "HTTP/1.1", "HTTP/2"... when a response arrived.
    pub version: Option<&'static str>,
    /// Body bytes received (not headers).
    pub size: u64,
    /// The body was cut at `max_body`.
    pub truncated: bool,
    /// The body's first bytes, when the request asked to keep them (`keep_body`).
    pub body: Option<Vec<u8>>,
    /// `body` is not the whole body: `keep_body` was reached, `max_body` stopped the read, or
    /// the read failed before the end.
    pub body_truncated: bool,
    /// The address connected to (or last tried).
    pub remote: Option<SocketAddr>,
    /// The response headers (names in lower case).
    pub headers: http::HeaderMap,
    pub tls: Option<TlsInfo>,
    pub failed_attempts: Vec<FailedAttempt>,
    /// Earlier responses when redirects were followed, oldest first.
    pub redirects: Vec<Hop>,
    /// Sent over a connection kept from an earlier sample (DNS, TCP and TLS are 0).
    pub reused: bool,
    /// A name lookup ran (not for an IP literal, a pinned address or a kept connection).
    pub looked_up: bool,
    /// The kernel's view of the connection as the sample ended, when asked (`tcp_info`) and a
    /// connection was made.
    pub tcp_info: Option<super::TcpInfo>,
    pub error: Option<ProbeError>,
}

impl ProbeResult {
    /// An empty result for `url` starting now.
    pub fn new(url: Arc<str>) -> Self {
        ProbeResult {
            final_url: url.clone(),
            url,
            start: SystemTime::now(),
            phases: Phases::default(),
            status: 0,
            version: None,
            size: 0,
            truncated: false,
            body: None,
            body_truncated: false,
            remote: None,
            headers: http::HeaderMap::new(),
            tls: None,
            failed_attempts: Vec::new(),
            redirects: Vec::new(),
            reused: false,
            looked_up: false,
            tcp_info: None,
            error: None,
        }
    }

    /// True when a complete response arrived (whatever its status).
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// Time spent on earlier hops of a redirect chain (DNS included).
    pub fn redirect_time(&self) -> Duration {
        self.redirects
            .iter()
            .map(|h| h.phases.dns + h.phases.total())
            .sum()
    }
}

/// Seconds since the Unix epoch, with microseconds (0 for a time before it).
pub fn epoch(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as f64 / 1e6)
        .unwrap_or(0.0)
}

/// A duration in milliseconds at microsecond resolution, as every output shows it.
pub fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}
