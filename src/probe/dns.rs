//! Name lookups through hickory-resolver, one fresh lookup per sample.
//!
//! hickory's resolver caches answers and also merges identical queries that are in flight at
//! the same time (its name-server pool keeps a map of active requests). Either would make the
//! DNS column read low under load and hide an address change, so every lookup gets a resolver
//! of its own, built from a configuration and hosts table read once.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
    ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::{Hosts, Resolver};

use super::request::IpFamily;

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

    /// Resolves `host` afresh; addresses come in the order the family strategy gives.
    pub async fn lookup(&self, host: &str, family: IpFamily) -> Result<Vec<IpAddr>, String> {
        let mut opts = self.opts.clone();
        opts.ip_strategy = match family {
            IpFamily::V4 => LookupIpStrategy::Ipv4Only,
            IpFamily::V6 => LookupIpStrategy::Ipv6Only,
            IpFamily::Any => LookupIpStrategy::Ipv6AndIpv4,
        };
        let mut resolver =
            Resolver::builder_with_config(self.config.clone(), TokioRuntimeProvider::default())
                .with_options(opts)
                .build()
                .map_err(|e| format!("dns {host}: {e}"))?;
        resolver.set_hosts(self.hosts.clone());
        match resolver.lookup_ip(host).await {
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
