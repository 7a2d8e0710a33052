//! Name lookups through hickory-resolver, one fresh lookup per sample.
//!
//! hickory's resolver caches answers and also merges identical queries that are in flight at
//! the same time (its name-server pool keeps a map of active requests). Either would make the
//! DNS column read low under load and hide an address change, so every lookup gets a resolver
//! of its own, built from a configuration and hosts table read once.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
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

impl Dns {
    /// The system configuration: /etc/resolv.conf for servers and options, /etc/hosts.
    pub fn from_system() -> Result<Dns, String> {
        let (config, opts) = hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("reading /etc/resolv.conf: {e}"))?;
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
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr))
            if nr.response_code == ResponseCode::NXDomain =>
        {
            "no such host (NXDOMAIN)".into()
        }
        NetError::Dns(DnsError::NoRecordsFound(_)) => "no address records".into(),
        NetError::Dns(DnsError::ResponseCode(code)) => format!("server answered {code}"),
        NetError::Timeout => "no answer from the name server (timed out)".into(),
        other => other.to_string(),
    }
}
