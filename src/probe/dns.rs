//! Name lookups through hickory-resolver, one fresh lookup per sample.
//!
//! hickory's resolver caches answers and also merges identical queries that are in flight at
//! the same time (its name-server pool keeps a map of active requests). Either would make the
//! DNS column read low under load and hide an address change, so every lookup gets a resolver
//! of its own, built from a configuration and hosts table read once.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
    ResolverOpts,
};
use hickory_resolver::net::runtime::iocompat::AsyncIoTokioAsStd;
use hickory_resolver::net::runtime::{
    DnsUdpSocket, RuntimeProvider, TokioHandle, TokioRuntimeProvider, TokioTime,
};
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::{Hosts, Resolver};

use super::request::IpFamily;
use super::wire_time::StampedUdp;

/// A resolver configuration: the system's, or one name server given on the command line.
pub struct Dns {
    config: ResolverConfig,
    opts: ResolverOpts,
    hosts: Arc<Hosts>,
}

/// Where the system's resolver configuration is.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

impl Dns {
    /// The system configuration: a resolv.conf ([`RESOLV_CONF`] but for tests) for servers and
    /// options, /etc/hosts.
    pub fn from_resolv_conf(path: &Path) -> Result<Dns, String> {
        let shown = path.display();
        let text = std::fs::read(path).map_err(|e| format!("reading {shown}: {e}"))?;
        let (config, mut opts) = hickory_resolver::system_conf::parse_resolv_conf(text)
            .map_err(|e| format!("reading {shown}: {e}"))?;
        // resolv.conf's attempts counts every try (glibc, Go); hickory's counts the retries.
        opts.attempts = opts.attempts.saturating_sub(1);
        let hosts = Hosts::from_system().unwrap_or_default();
        Ok(Dns::new(config, opts, hosts))
    }

    /// Ask only `server` (UDP, then TCP on truncation); /etc/hosts is still consulted.
    pub fn with_server(server: SocketAddr) -> Dns {
        let mut udp = ConnectionConfig::udp();
        udp.port = server.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = server.port();
        let ns = NameServerConfig::new(server.ip(), true, vec![udp, tcp]);
        let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
        let hosts = Hosts::from_system().unwrap_or_default();
        Dns::new(config, ResolverOpts::default(), hosts)
    }

    fn new(config: ResolverConfig, mut opts: ResolverOpts, hosts: Hosts) -> Dns {
        opts.cache_size = 0;
        // The hosts table is read once here and handed to every per-lookup resolver.
        opts.use_hosts_file = ResolveHosts::Never;
        Dns {
            config,
            opts,
            hosts: Arc::new(hosts),
        }
    }

    /// A resolver for one lookup: built before the DNS stopwatch starts, used once.
    pub fn resolver(&self, host: &str, family: IpFamily) -> Result<OneLookup, String> {
        let mut opts = self.opts.clone();
        opts.ip_strategy = match family {
            IpFamily::V4 => LookupIpStrategy::Ipv4Only,
            IpFamily::V6 => LookupIpStrategy::Ipv6Only,
            IpFamily::Any => LookupIpStrategy::Ipv6AndIpv4,
        };
        let provider = StampingProvider::default();
        let mut resolver = Resolver::builder_with_config(self.config.clone(), provider.clone())
            .with_options(opts)
            .build()
            .map_err(|e| format!("dns {host}: {e}"))?;
        resolver.set_hosts(self.hosts.clone());
        Ok(OneLookup { resolver, provider })
    }
}

/// A resolver that answers one lookup, with nothing cached or shared.
pub struct OneLookup {
    resolver: Resolver<StampingProvider>,
    provider: StampingProvider,
}

impl OneLookup {
    /// When the answer that completed the lookup reached this host, if every answer came by
    /// UDP and the kernel timestamped it.
    pub fn answered_at(&self) -> Option<Instant> {
        if *self
            .provider
            .used_tcp
            .lock()
            .unwrap_or_else(|p| p.into_inner())
        {
            return None;
        }
        *self
            .provider
            .last_answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves `host`; addresses come in the order the family strategy gives.
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        match self.resolver.lookup_ip(host).await {
            Ok(lookup) => {
                let addrs: Vec<IpAddr> = lookup.iter().collect();
                if addrs.is_empty() {
                    Err(format!("dns {host}: no address records"))
                } else {
                    Ok(addrs)
                }
            }
            Err(e) => Err(format!("dns {host}: {}", describe(&e))),
        }
    }
}

/// Tokio's provider, with UDP sockets that note when each answer arrived.
#[derive(Clone, Default)]
struct StampingProvider {
    tokio: TokioRuntimeProvider,
    last_answer: Arc<Mutex<Option<Instant>>>,
    used_tcp: Arc<Mutex<bool>>,
}

impl RuntimeProvider for StampingProvider {
    type Handle = TokioHandle;
    type Timer = TokioTime;
    type Udp = UdpSocket;
    type Tcp = AsyncIoTokioAsStd<tokio::net::TcpStream>;

    fn create_handle(&self) -> Self::Handle {
        self.tokio.create_handle()
    }

    fn connect_tcp(
        &self,
        server_addr: SocketAddr,
        bind_addr: Option<SocketAddr>,
        timeout: Option<Duration>,
    ) -> Pin<Box<dyn Send + Future<Output = Result<Self::Tcp, io::Error>>>> {
        // A TCP answer is not timestamped: the lookup falls back to the time of the read.
        *self.used_tcp.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.tokio.connect_tcp(server_addr, bind_addr, timeout)
    }

    fn bind_udp(
        &self,
        local_addr: SocketAddr,
        _server_addr: SocketAddr,
    ) -> Pin<Box<dyn Send + Future<Output = Result<Self::Udp, io::Error>>>> {
        let last = self.last_answer.clone();
        Box::pin(async move {
            let socket = tokio::net::UdpSocket::bind(local_addr).await?;
            Ok(UdpSocket(StampedUdp::new(socket, last)))
        })
    }
}

/// The resolver's view of a [`StampedUdp`].
struct UdpSocket(StampedUdp);

impl DnsUdpSocket for UdpSocket {
    type Time = TokioTime;

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.0.poll_recv_from(cx, buf)
    }

    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.0.poll_send_to(cx, buf, target)
    }
}

fn describe(e: &NetError) -> String {
    let code = match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => Some(nr.response_code),
        NetError::Dns(DnsError::ResponseCode(code)) => Some(*code),
        _ => None,
    };
    match (code, e) {
        (Some(ResponseCode::NXDomain), _) => "no such host (NXDOMAIN)".into(),
        (Some(ResponseCode::Refused), _) => "the name server refused the query (REFUSED)".into(),
        (Some(ResponseCode::ServFail), _) => "the name server could not answer (SERVFAIL)".into(),
        (Some(ResponseCode::NoError), _) => "no address records".into(),
        (Some(code), _) => format!("the name server answered {code}"),
        (None, NetError::Timeout) => "no answer from the name server (timed out)".into(),
        (None, other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::Message;

    /// A resolv.conf of `text` in a fresh directory: the path seam keeps tests off the host's.
    fn resolv_conf(text: &str) -> std::path::PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "perftest-unit-dns-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("resolv.conf");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The configuration's name servers on `port` (a resolv.conf names no ports: 53).
    fn on_port(mut dns: Dns, port: u16) -> Dns {
        let servers = dns
            .config
            .name_servers()
            .iter()
            .cloned()
            .map(|mut ns| {
                ns.connections.iter_mut().for_each(|c| c.port = port);
                ns
            })
            .collect();
        dns.config = ResolverConfig::from_parts(
            dns.config.domain().cloned(),
            dns.config.search().to_vec(),
            servers,
        );
        dns
    }

    /// A name server on 127.0.0.1 answering every query with `code`; its port.
    fn answering(code: ResponseCode) -> u16 {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut resp = Message::response(query.metadata.id, query.metadata.op_code);
                resp.metadata.recursion_desired = query.metadata.recursion_desired;
                resp.metadata.recursion_available = true;
                resp.metadata.response_code = code;
                resp.queries = query.queries.clone();
                if let Ok(bytes) = resp.to_vec() {
                    let _ = socket.send_to(&bytes, from);
                }
            }
        });
        port
    }

    #[test]
    fn the_go_tool_gave_up_after_timeout_times_attempts() {
        // tests/fixtures/go: `options timeout:2 attempts:1`, a silent name server.
        let row = include_str!("../../tests/fixtures/go/dns-silent.out")
            .lines()
            .nth(1)
            .unwrap();
        let dns: f64 = row.split('\t').nth(1).unwrap().parse().unwrap();
        assert!((2000.0..2500.0).contains(&dns), "{row}");
    }

    #[tokio::test]
    async fn resolv_conf_attempts_counts_every_try_as_glibc_and_go_do() {
        // Bound and never read: queries are neither answered nor refused.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        for (options, tries) in [("timeout:1 attempts:1", 1), ("timeout:1 attempts:2", 2)] {
            let path = resolv_conf(&format!("nameserver 127.0.0.1\noptions {options}\n"));
            let dns = on_port(Dns::from_resolv_conf(&path).unwrap(), port);
            let lookup = dns.resolver("silent.test", IpFamily::V4).unwrap();
            let started = Instant::now();
            let err = lookup.lookup("silent.test").await.unwrap_err();
            let took = started.elapsed();
            assert!(err.contains("timed out"), "{options}: {err}");
            // One more try would take another second.
            let want = Duration::from_secs(tries);
            assert!(
                took >= want && took < want + Duration::from_millis(800),
                "{options}: {took:?}"
            );
        }
    }

    #[tokio::test]
    async fn refused_and_servfail_are_named_with_a_search_list_too() {
        for (code, named) in [
            (
                ResponseCode::Refused,
                "dns api.test: the name server refused the query (REFUSED)",
            ),
            (
                ResponseCode::ServFail,
                "dns api.test: the name server could not answer (SERVFAIL)",
            ),
            (
                ResponseCode::NXDomain,
                "dns api.test: no such host (NXDOMAIN)",
            ),
        ] {
            let port = answering(code);
            let path = resolv_conf(
                "nameserver 127.0.0.1\nsearch corp.example\noptions timeout:1 attempts:1\n",
            );
            let dns = on_port(Dns::from_resolv_conf(&path).unwrap(), port);
            let err = dns
                .resolver("api.test", IpFamily::Any)
                .unwrap()
                .lookup("api.test")
                .await
                .unwrap_err();
            assert_eq!(err, named);
        }
    }

    #[test]
    fn a_missing_resolv_conf_is_named() {
        let err = Dns::from_resolv_conf(Path::new("/nonexistent/resolv.conf"))
            .err()
            .unwrap();
        assert!(
            err.starts_with("reading /nonexistent/resolv.conf: "),
            "{err}"
        );
    }
}
