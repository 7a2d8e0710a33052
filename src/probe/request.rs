//! What to probe and how: the options a script or the command line can set.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};

use super::target::Target;
use super::tls::TlsOptions;

input_error!(
    /// A URL or request option that cannot be probed.
    InvalidRequest
);

/// Which address family to connect over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpFamily {
    /// Every address the name has, in the resolver's order (IPv6 first).
    #[default]
    Any,
    V4,
    V6,
}

impl std::str::FromStr for IpFamily {
    type Err = InvalidRequest;
    fn from_str(s: &str) -> Result<Self, InvalidRequest> {
        match s {
            "any" => Ok(IpFamily::Any),
            "v4" | "4" | "ipv4" => Ok(IpFamily::V4),
            "v6" | "6" | "ipv6" => Ok(IpFamily::V6),
            other => Err(format!("ip '{other}': use \"v4\", \"v6\" or \"any\"").into()),
        }
    }
}

/// One sample's request: the URL and every option that shapes it.
#[derive(Clone, Debug)]
pub struct ProbeRequest {
    pub target: Target,
    pub method: Method,
    /// Sent after the defaults (Host, User-Agent, Accept), replacing any of the same name.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// Limit for the whole sample, redirects included.
    pub timeout: Duration,
    /// Limit for each connection attempt.
    pub connect_timeout: Duration,
    pub tls: TlsOptions,
    /// How many redirects to follow; 0 times the 3xx itself.
    pub follow_redirects: u32,
    /// Connect here instead of resolving the name (curl --resolve).
    pub resolve: Option<IpAddr>,
    pub ip: IpFamily,
    /// Stop reading the body after this many bytes.
    pub max_body: Option<u64>,
    /// Keep up to this many bytes of the body in the result; the rest is still read and timed.
    pub keep_body: Option<usize>,
    /// Read the socket's TCP_INFO as the sample ends (`ProbeResult::tcp_info`).
    pub tcp_info: bool,
    /// Ask this name server instead of the system's.
    pub dns_server: Option<SocketAddr>,
}

impl ProbeRequest {
    /// A GET of `url` with the defaults: 30 s per sample, 10 s per connect, verified TLS.
    pub fn new(url: &str) -> Result<ProbeRequest, InvalidRequest> {
        Ok(ProbeRequest {
            target: Target::parse(url)?,
            method: Method::GET,
            headers: Vec::new(),
            body: Bytes::new(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            tls: TlsOptions::default(),
            follow_redirects: 0,
            resolve: None,
            ip: IpFamily::Any,
            max_body: None,
            keep_body: None,
            tcp_info: false,
            dns_server: None,
        })
    }

    /// Adds a header from its text form, checking it is valid HTTP.
    pub fn add_header(&mut self, name: &str, value: &str) -> Result<(), InvalidRequest> {
        let n = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("header name '{name}' is not a valid HTTP header name"))?;
        let v = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("header '{name}': value has characters HTTP does not allow"))?;
        self.headers.push((n, v));
        Ok(())
    }

    /// Sets the method from its name ("GET", "post"...).
    pub fn set_method(&mut self, method: &str) -> Result<(), InvalidRequest> {
        self.method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("method '{method}' is not a valid HTTP method"))?;
        Ok(())
    }
}

/// What `keep_body = true` keeps: 1 MiB.
pub const KEEP_BODY_DEFAULT: usize = 1 << 20;

/// Parses a duration in seconds as the command line and scripts give it ("2", "0.5").
pub fn seconds(what: &str, value: f64) -> Result<Duration, InvalidRequest> {
    if (0.0..1e9).contains(&value) {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!(
            "{what} {}: give a number of seconds from 0 to 1e9",
            shown(value)
        )
        .into())
    }
}

/// A name server's address: "127.0.0.1", "127.0.0.1:5353", "::1", "[::1]:5353".
pub fn socket_addr(s: &str, default_port: u16) -> Result<SocketAddr, InvalidRequest> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    s.trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, default_port))
        .map_err(|_| {
            format!("'{s}' is not an address: give IP or IP:PORT such as 127.0.0.1:5353").into()
        })
}

/// A number as a message shows it: `5`, `0.25`, `1e300` (never three hundred digits).
pub fn shown(n: f64) -> String {
    if n != 0.0 && !(1e-4..1e7).contains(&n.abs()) {
        format!("{n:e}")
    } else {
        n.to_string()
    }
}
