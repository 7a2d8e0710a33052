//! A DNS server on 127.0.0.1 (UDP) that holds each answer for a chosen delay. Known names get
//! their A/AAAA records, `silent.*` names are never answered, `refused.*` and `servfail.*` get
//! that response code, anything else is NXDOMAIN. It counts the queries it receives, so tests
//! can see that lookups are not merged.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};

/// A running DNS server; it lives until the test process ends.
pub struct DnsServer {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Query>>>,
}

/// One query as the server saw it: when it arrived and when its answer left.
struct Query {
    name: String,
    rtype: RecordType,
    arrived: Instant,
    answered: Option<Instant>,
}

impl DnsServer {
    /// Starts a server answering `records` (name -> addresses) after `delay`.
    pub fn start(delay: Duration, records: &[(&str, &[&str])]) -> DnsServer {
        let zone: HashMap<String, Vec<IpAddr>> = records
            .iter()
            .map(|(name, ips)| {
                let ips = ips.iter().map(|ip| ip.parse().expect("test IP")).collect();
                (name.trim_end_matches('.').to_ascii_lowercase(), ips)
            })
            .collect();
        let zone = Arc::new(zone);
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind dns");
        socket.set_nonblocking(true).unwrap();
        let addr = socket.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let socket = Arc::new(tokio::net::UdpSocket::from_std(socket).unwrap());
                let mut buf = vec![0u8; 4096];
                loop {
                    let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                        continue;
                    };
                    let arrived = Instant::now();
                    let Ok(query) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    let (socket, zone, seen) = (socket.clone(), zone.clone(), seen.clone());
                    tokio::spawn(async move {
                        let Some(q) = query.queries.first().cloned() else {
                            return;
                        };
                        let name = q
                            .name()
                            .to_ascii()
                            .trim_end_matches('.')
                            .to_ascii_lowercase();
                        let slot = {
                            let mut log = seen.lock().unwrap();
                            log.push(Query {
                                name: name.clone(),
                                rtype: q.query_type(),
                                arrived,
                                answered: None,
                            });
                            log.len() - 1
                        };
                        if name.starts_with("silent.") {
                            return;
                        }
                        tokio::time::sleep(delay).await;
                        let mut resp = Message::response(query.metadata.id, query.metadata.op_code);
                        resp.metadata.recursion_desired = query.metadata.recursion_desired;
                        resp.metadata.recursion_available = true;
                        resp.queries = query.queries.clone();
                        match zone.get(&name) {
                            None if name.starts_with("refused.") => {
                                resp.metadata.response_code = ResponseCode::Refused
                            }
                            None if name.starts_with("servfail.") => {
                                resp.metadata.response_code = ResponseCode::ServFail
                            }
                            None => resp.metadata.response_code = ResponseCode::NXDomain,
                            Some(ips) => {
                                for ip in ips {
                                    let rdata = match (ip, q.query_type()) {
                                        (IpAddr::V4(v4), RecordType::A) => RData::A(A(*v4)),
                                        (IpAddr::V6(v6), RecordType::AAAA) => {
                                            RData::AAAA(AAAA(*v6))
                                        }
                                        _ => continue,
                                    };
                                    resp.answers.push(Record::from_rdata(
                                        q.name().clone(),
                                        60,
                                        rdata,
                                    ));
                                }
                            }
                        }
                        if let Ok(bytes) = resp.to_vec() {
                            let _ = socket.send_to(&bytes, from).await;
                            seen.lock().unwrap()[slot].answered = Some(Instant::now());
                        }
                    });
                }
            });
        });
        DnsServer { addr, log }
    }

    /// How many queries for `name` of type `rtype` arrived.
    pub fn count(&self, name: &str, rtype: RecordType) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|q| q.name == name && q.rtype == rtype)
            .count()
    }

    /// How long the server really held `name`: from its first query's arrival to its last
    /// answer's leaving. Under load the server's own timer can overshoot the nominal delay, so
    /// an upper bound on a measured DNS phase must start from this, not from the delay asked.
    pub fn held(&self, name: &str) -> Option<Duration> {
        let log = self.log.lock().unwrap();
        let queries = log.iter().filter(|q| q.name == name);
        let first = queries.clone().map(|q| q.arrived).min()?;
        let last = queries.filter_map(|q| q.answered).max()?;
        Some(last.saturating_duration_since(first))
    }
}
